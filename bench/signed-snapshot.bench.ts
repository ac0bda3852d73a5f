/**
 * Question (issue 19, item 2): what does checking a snapshot's signature add to reading it? A
 * 1,000,000-entry PDQ snapshot (random hashes, ids `e0`…, MIH tier as `auto` picks it) is written
 * unsigned and signed; each is read whole with `readSnapshot`, without trusted keys and with them,
 * ROUNDS times, alternating, and the median reported. Beside them, the two parts of a check on their
 * own: the Ed25519 verification of header, table and digests (what the issue's ≤ 5 ms target
 * measures), and one SHA-256 pass over the sections' bytes (what binds the data to the signature,
 * since XXH3 does not resist a forger).
 *
 * Run: npx tsx bench/signed-snapshot.bench.ts   (ENTRIES and ROUNDS to change; about a minute)
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeEntry, readSnapshot, writeSnapshot, type ListEntry } from '../src/index.js';
import { resolveTrustedKeys, verifyBlock } from '../src/snapshot/sign.js';
import { environment } from './corpus.js';

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] as number;

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const dir = await mkdtemp(join(tmpdir(), 'hashwarden-signed-bench-'));
try {
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const entries: ListEntry[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const hash = new Uint8Array(32);
    const words = new Uint32Array(hash.buffer);
    for (let w = 0; w < 8; w++) words[w] = next();
    entries.push(normalizeEntry({ id: `e${i}`, list: 'l', algorithm: 'pdq', hash }));
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const lists = [{ name: 'l', version: 1 }];
  const plain = join(dir, 'plain.snap');
  const signed = join(dir, 'signed.snap');
  await writeSnapshot(plain, { lists, entries, sequence: 1 });
  const summary = await writeSnapshot(signed, { lists, entries, sequence: 1, sign: { privateKey } });
  entries.length = 0;
  const trusted = { trustedKeys: [publicKey] };

  const rows: Record<string, number[]> = {
    'readSnapshot, unsigned file, no keys': [],
    'readSnapshot, signed file, no keys': [],
    'readSnapshot, signed file, trustedKeys': [],
    'Ed25519 verify of header + table + digests': [],
    'SHA-256 of every section (one pass)': [],
  };
  const bytes = new Uint8Array(await readFile(signed));
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const count = view.getUint32(12, true);
  const blockAt = bytes.length - view.getUint32(32, true);
  const keys = resolveTrustedKeys([publicKey], 'keys') ?? [];
  const header = bytes.subarray(0, 64);
  const table = bytes.subarray(64, 64 + count * 32);
  const block = bytes.subarray(blockAt);
  for (let round = 0; round < ROUNDS; round++) {
    rows['readSnapshot, unsigned file, no keys']?.push(await time(() => readSnapshot(plain)));
    rows['readSnapshot, signed file, no keys']?.push(await time(() => readSnapshot(signed)));
    rows['readSnapshot, signed file, trustedKeys']?.push(await time(() => readSnapshot(signed, trusted)));
    rows['Ed25519 verify of header + table + digests']?.push(
      await time(() => verifyBlock(keys, header, table, block, signed)),
    );
    rows['SHA-256 of every section (one pass)']?.push(
      await time(() =>
        createHash('sha256')
          .update(bytes.subarray(64 + count * 32, blockAt))
          .digest(),
      ),
    );
  }
  console.log(`# signed snapshots — ${await environment()}`);
  console.log(
    `${ENTRIES.toLocaleString('en')} PDQ entries, ${summary.bytes.toLocaleString('en')} bytes signed, ${count} sections; median of ${ROUNDS}\n`,
  );
  console.log('| step | median (ms) | min (ms) |');
  console.log('|---|---:|---:|');
  for (const [name, values] of Object.entries(rows))
    console.log(`| ${name} | ${median(values).toFixed(2)} | ${Math.min(...values).toFixed(2)} |`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
