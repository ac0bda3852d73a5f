/**
 * One question: how long a whole rescan takes (SeenStore.rescan: the records read back, their
 * perceptual hashes searched by the batch kernel against the new entries, the events made), for
 * U recorded uploads of 8 PDQ hashes each (the upload's turns) against E new PDQ entries, and what
 * that gives per recorded upload; and how much memory it holds (peak RSS, which must not grow with
 * U). Random hashes; one upload in 1,000 is a near copy of one of the first 10,000 entries.
 *
 * The seen store is generated fast, not through `record` (one call an upload would take longer
 * than the rescan): blobs made by encodeSearched, as `record` makes them, written by bulk inserts
 * in large transactions into a store SeenStore.open created. 10 million uploads take about 4 GB.
 * `--keep DIR` generates into DIR (or reuses the store generated there before for the same
 * --uploads) and leaves it; without it a temporary directory is used and deleted. Each run
 * imports its entries as a list of a new name, so a kept store's earlier rounds never hide them.
 *
 * Run: node scripts/build-wasm.mjs && npx tsx bench/rescan.bench.ts [--uploads 20000] [--entries 10000]
 *   [--keep DIR] [--batch 1000] [--workers N]   (--entries 0 --keep DIR: generate the store only)
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIHEDRAL_NAMES } from '../src/algorithms/dihedral.js';
import { formatHex } from '../src/algorithms/hex.js';
import type { SearchedQuery } from '../src/matcher/searched.js';
import { encodeSearched } from '../src/seen/record.js';
import { type RescanOptions, SeenStore } from '../src/seen/store.js';
import { loadDriver } from '../src/store/driver.js';
import { HashStore } from '../src/store/store.js';
import { environment, option } from './corpus.js';
import { loadAverage, randomBytes } from './stats.js';

const UPLOADS = Number(option('uploads') ?? 20_000);
const ENTRIES = Number(option('entries') ?? 10_000);
const BATCH = option('batch');
const WORKERS = option('workers');
const KEEP = option('keep');
/** Entries the near copies are made of: the first ones, the same for every --entries from this size. */
const NEAR_POOL = 10_000;
/** Uploads written per transaction (and generated at a time: about 30 MB of blobs). */
const INSERT_CHUNK = 100_000;
/** The versions each upload was checked against: a list the rescan's lists never include. */
const VERSIONS = JSON.stringify({ base: 1 });

/** The entries: a fixed stream, so the first NEAR_POOL are the same whatever their number. */
const entryHashes = randomBytes(32 * Math.max(ENTRIES, NEAR_POOL), 1);

function megabytes(kilobytes: number): string {
  return `${(kilobytes / 1024).toFixed(0)} MB`;
}

/** Writes UPLOADS records into the seen store at `path`; returns the seconds it took. */
function generate(path: string): number {
  const started = performance.now();
  SeenStore.open(path).close(); // the schema, as the library makes it
  const db = new (loadDriver())(path);
  db.pragma('synchronous = OFF');
  const insert = db.prepare('INSERT INTO seen (content_id, at, versions, hashes) VALUES (?, ?, ?, ?)');
  const at = Date.now();
  for (let from = 0; from < UPLOADS; from += INSERT_CHUNK) {
    const n = Math.min(INSERT_CHUNK, UPLOADS - from);
    const bytes = randomBytes(n * 8 * 32, 1000 + from / INSERT_CHUNK);
    const blobs = Array.from({ length: n }, (_, i) => {
      const u = from + i;
      const queries: SearchedQuery[] = DIHEDRAL_NAMES.map((transform, t) => ({
        algorithm: 'pdq',
        hash: bytes.subarray((i * 8 + t) * 32, (i * 8 + t + 1) * 32),
        transform,
      }));
      if (u % 1000 === 0) {
        // A near copy of an entry (three bits flipped) as the upload's own hash.
        const e = (u / 1000) % NEAR_POOL;
        const near = entryHashes.slice(e * 32, e * 32 + 32);
        near[0] = (near[0] as number) ^ 0b111;
        queries[0] = { algorithm: 'pdq', hash: near, transform: DIHEDRAL_NAMES[0] };
      }
      return encodeSearched(queries);
    });
    db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(`upload-${from + i}`, at, VERSIONS, blobs[i]);
    })();
    if (UPLOADS >= 1_000_000 && (from / INSERT_CHUNK) % 10 === 9)
      console.error(`generated ${from + n} uploads, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  db.close();
  return (performance.now() - started) / 1000;
}

const dir = KEEP ?? mkdtempSync(join(tmpdir(), 'hashwarden-rescan-bench-'));
try {
  mkdirSync(dir, { recursive: true });
  const seenPath = join(dir, 'seen.db');
  const marker = join(dir, 'generated.json');
  const reused =
    existsSync(marker) && (JSON.parse(readFileSync(marker, 'utf8')) as { uploads: number }).uploads === UPLOADS;
  let generated = 'reused';
  if (!reused) {
    rmSync(seenPath, { force: true });
    rmSync(`${seenPath}-wal`, { force: true });
    rmSync(`${seenPath}-shm`, { force: true });
    generated = `generated in ${generate(seenPath).toFixed(1)} s`;
    writeFileSync(marker, JSON.stringify({ uploads: UPLOADS }));
  }
  console.error(`seen store (${UPLOADS} uploads, ${generated}): ${seenPath}`);
  if (ENTRIES === 0) process.exit(0); // --entries 0: generate the store only
  const listsPath = join(dir, 'hashes.db');
  rmSync(listsPath, { force: true });
  const lists = HashStore.open(listsPath);
  const name = `new-${Date.now()}`;
  lists.importEntries(
    Array.from({ length: ENTRIES }, (_, i) => ({
      list: name,
      id: `e${i}`,
      algorithm: 'pdq' as const,
      hash: formatHex(entryHashes.subarray(i * 32, i * 32 + 32)),
    })),
  );
  const seen = SeenStore.open(seenPath);
  const options = {
    ...(BATCH === undefined ? {} : { batchSize: Number(BATCH) }),
    ...(WORKERS === undefined ? {} : { workers: Number(WORKERS) }),
  } as RescanOptions;
  const rssBefore = process.resourceUsage().maxRSS;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let events = 0;
  let firstEvent = 0;
  for await (const _ of seen.rescan(lists, options)) if (events++ === 0) firstEvent = performance.now() - t0;
  const rescanMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const rssAfter = process.resourceUsage().maxRSS;
  const perUpload = (rescanMs * 1000) / UPLOADS;
  console.log(await environment());
  console.log(`load average at the end ${loadAverage()}`);
  console.log(`command: npx tsx bench/rescan.bench.ts ${process.argv.slice(2).join(' ')}`);
  console.log(
    `rescan of ${UPLOADS} uploads × 8 PDQ hashes against ${ENTRIES} new entries: ${(rescanMs / 1000).toFixed(2)} s wall, ` +
      `${events} events (the first after ${(firstEvent / 1000).toFixed(2)} s: the round begun, the tables built, the first group searched), ` +
      `${perUpload.toFixed(2)} µs an upload; ` +
      `CPU (every thread of the process) ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, ${((cpu.user + cpu.system) / UPLOADS).toFixed(2)} µs an upload`,
  );
  console.log(`peak RSS ${megabytes(rssAfter)} (${megabytes(rssBefore)} before the rescan began)`);
  if (UPLOADS < 10_000_000)
    console.log(`extrapolated to 10,000,000 uploads: ${((perUpload * 1e7) / 1e6 / 60).toFixed(1)} min`);
  seen.close();
  lists.close();
} finally {
  if (KEEP === undefined) rmSync(dir, { recursive: true, force: true });
}
