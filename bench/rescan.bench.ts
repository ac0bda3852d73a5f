/**
 * One question: how long a whole rescan takes (SeenStore.rescan: the records read back, their
 * perceptual hashes searched by the batch kernel against the new entries, the events made), for
 * U recorded uploads of 8 PDQ hashes each (the upload's turns) against E new PDQ entries, and what
 * that gives per recorded upload. Random hashes, a few uploads near an entry.
 *
 * Run: node scripts/build-wasm.mjs && npx tsx bench/rescan.bench.ts [--uploads 20000] [--entries 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIHEDRAL_NAMES } from '../src/algorithms/dihedral.js';
import { formatHex } from '../src/algorithms/hex.js';
import type { SearchedQuery } from '../src/matcher/searched.js';
import { SeenStore } from '../src/seen/store.js';
import { HashStore } from '../src/store/store.js';
import { mulberry32 } from '../src/testing/prng.js';
import { resultOf } from '../src/testing/seen.js';
import { environment, option } from './corpus.js';
import { loadAverage } from './stats.js';

const UPLOADS = Number(option('uploads') ?? 20_000);
const ENTRIES = Number(option('entries') ?? 10_000);
const random = mulberry32(22);
const randomHash = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));

const dir = mkdtempSync(join(tmpdir(), 'hashwarden-rescan-bench-'));
try {
  const lists = HashStore.open(join(dir, 'hashes.db'));
  const seen = SeenStore.open(join(dir, 'seen.db'));
  // The first rescan takes every entry as new: run it on an empty store, then import the entries.
  for await (const _ of seen.rescan(lists)) void _;
  const entryHashes = Array.from({ length: ENTRIES }, randomHash);
  const started = performance.now();
  for (let u = 0; u < UPLOADS; u++) {
    // One upload in 1,000 is a near copy of an entry (a few bits flipped).
    const base = u % 1000 === 0 ? Uint8Array.from(entryHashes[u % ENTRIES] as Uint8Array) : randomHash();
    if (u % 1000 === 0) base[0] = (base[0] as number) ^ 0b111;
    const queries: SearchedQuery[] = DIHEDRAL_NAMES.map((transform, t) => ({
      algorithm: 'pdq',
      hash: t === 0 ? base : randomHash(),
      transform,
    }));
    seen.record(`upload-${u}`, resultOf(queries, {}));
  }
  const recordMs = performance.now() - started;
  lists.importEntries(entryHashes.map((h, i) => ({ list: 'new', id: `e${i}`, algorithm: 'pdq', hash: formatHex(h) })));
  const t0 = performance.now();
  let events = 0;
  for await (const _ of seen.rescan(lists)) events++;
  const rescanMs = performance.now() - t0;
  const perUpload = (rescanMs * 1000) / UPLOADS;
  console.log(await environment());
  console.log(`load average at the end ${loadAverage()}`);
  console.log(`command: npx tsx bench/rescan.bench.ts --uploads ${UPLOADS} --entries ${ENTRIES}`);
  console.log(`recorded ${UPLOADS} uploads × 8 PDQ hashes in ${(recordMs / 1000).toFixed(1)} s`);
  console.log(
    `rescan of ${UPLOADS} uploads against ${ENTRIES} new entries: ${(rescanMs / 1000).toFixed(2)} s, ${events} events, ${perUpload.toFixed(1)} µs an upload`,
  );
  console.log(`extrapolated to 10,000,000 uploads: ${((perUpload * 1e7) / 1e6 / 60).toFixed(1)} min (one thread)`);
  seen.close();
  lists.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
