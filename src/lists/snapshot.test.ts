import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { Matcher } from '../matcher.js';
import { normalizeEntry, type ListEntry } from './model.js';
import { parseSnapshot, readSnapshot, writeSnapshot } from './snapshot.js';

/** A mixed list: near-duplicate blockhashes, exact hashes in two lists, labels, metadata, unicode ids. */
function entries(): ListEntry[] {
  const out: ListEntry[] = [];
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from({ length: 32 }, (_, j) => ((i >> 3) * 37 + j * 11) & 0xff);
    bytes[i % 32] = (bytes[i % 32] as number) ^ (1 << (i % 8));
    out.push(normalizeEntry({ id: `bh-${i}-ü`, list: i % 3 ? 'ncmec' : 'internal', algorithm: 'blockhash', hash: bytes, label: i % 5 ? undefined : 'review', metadata: i % 7 ? undefined : { case: i } }));
  }
  for (let i = 0; i < 100; i++) {
    const md5 = Uint8Array.from({ length: 16 }, (_, j) => (i * 13 + j) & 0xff);
    out.push(normalizeEntry({ id: `m${i}`, list: 'ncmec', algorithm: 'md5', hash: md5, label: 'csam' }));
    if (i % 10 === 0) out.push(normalizeEntry({ id: `dup${i}`, list: 'internal', algorithm: 'md5', hash: md5 }));
  }
  out.push(normalizeEntry({ list: 'internal', algorithm: 'sha256', hash: 'ab'.repeat(32) }));
  return out;
}

const LISTS = [{ name: 'ncmec', version: 7 }, { name: 'internal', version: 2 }];

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `not a HashwardenError: ${String(error)}`;
  }
}

let dir: string;
let file: string;
let bytes: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-snapshot-'));
  file = join(dir, 'lists.snap');
  await writeSnapshot(file, { lists: LISTS, entries: entries(), source: 'test' });
  bytes = new Uint8Array(await readFile(file));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Section boundaries from the table: where truncation and corruption tests cut and flip. */
function sectionRanges(data: Uint8Array): [number, number][] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(12, true);
  return Array.from({ length: count }, (_, i) => {
    const offset = Number(view.getBigUint64(64 + i * 32 + 16, true));
    return [offset, offset + Number(view.getBigUint64(64 + i * 32 + 24, true))];
  });
}

describe('snapshots', () => {
  it('round-trip: a matcher on the snapshot answers every query as the matcher on the entries', async () => {
    const fromEntries = Matcher.fromEntries(entries());
    const fromSnapshot = await Matcher.open(file);
    expect(fromSnapshot.size).toBe(fromEntries.size);
    fc.assert(
      fc.property(fc.nat(299), fc.nat(40), fc.nat(31), (i, threshold, flip) => {
        const query = Uint8Array.from(Buffer.from(entries()[i]!.hash, 'hex'));
        query[flip] = (query[flip] as number) ^ 0x81;
        expect(fromSnapshot.matchHash({ algorithm: 'blockhash', hash: query }, { threshold })).toEqual(fromEntries.matchHash({ algorithm: 'blockhash', hash: query }, { threshold }));
      }),
      { seed: 3, numRuns: 100 },
    );
    for (const e of entries().filter((x) => x.algorithm !== 'blockhash')) {
      expect(fromSnapshot.matchHash(e)).toEqual(fromEntries.matchHash(e));
    }
    expect(fromSnapshot.matchHash({ algorithm: 'md5', hash: 'ff'.repeat(16) })).toEqual([]);
  });

  it('keeps the lists with their versions', async () => {
    expect((await readSnapshot(file)).lists).toEqual(LISTS);
  });

  it('writes an empty snapshot that opens to an empty matcher', async () => {
    const empty = join(dir, 'empty.snap');
    await writeSnapshot(empty, { lists: [], entries: [] });
    expect((await Matcher.open(empty)).size).toBe(0);
  });

  it('refuses a snapshot truncated at any section boundary or inside a section', () => {
    const cuts = new Set<number>([0, 4, 8, 63, 64, 65]);
    for (const [start, end] of sectionRanges(bytes)) for (const at of [start, start + 1, Math.floor((start + end) / 2), end - 1]) cuts.add(at);
    for (const at of [...cuts].filter((c) => c < bytes.length)) {
      expect(() => parseSnapshot(bytes.subarray(0, at)), `cut at ${at}`).toThrow(expect.objectContaining({ code: 'ERR_SNAPSHOT_TRUNCATED' }));
    }
  });

  it('refuses a snapshot with a flipped byte anywhere: header, table or any section', () => {
    const flips = new Set<number>([9, 12, 20, 30, 40, 64, 70, 100]);
    let previousEnd = 0;
    for (const [start, end] of sectionRanges(bytes)) {
      if (end > start) flips.add(start).add(end - 1);
      if (start > previousEnd + 1) flips.add(start - 1); // padding
      previousEnd = end;
    }
    for (const at of flips) {
      const copy = Uint8Array.from(bytes);
      copy[at] = (copy[at] as number) ^ 0x10;
      expect(() => parseSnapshot(copy), `flip at ${at}`).toThrow(HashwardenError);
      try {
        parseSnapshot(copy);
      } catch (error) {
        expect(['ERR_SNAPSHOT_CORRUPT', 'ERR_SNAPSHOT_FORMAT', 'ERR_SNAPSHOT_TRUNCATED']).toContain((error as HashwardenError).code);
      }
    }
  });

  it('refuses the wrong magic, another version and trailing bytes', () => {
    const wrongMagic = Uint8Array.from(bytes);
    wrongMagic[1] = 0x58;
    expect(() => parseSnapshot(wrongMagic)).toThrow(expect.objectContaining({ code: 'ERR_SNAPSHOT_FORMAT' }));
    const v2 = Uint8Array.from(bytes);
    const view = new DataView(v2.buffer);
    view.setUint32(8, 2, true);
    view.setUint32(28, (zlib as unknown as { crc32(b: Uint8Array): number }).crc32(v2.subarray(0, 28)) >>> 0, true);
    expect(() => parseSnapshot(v2)).toThrow(expect.objectContaining({ code: 'ERR_SNAPSHOT_VERSION' }));
    const longer = new Uint8Array(bytes.length + 64);
    longer.set(bytes);
    expect(() => parseSnapshot(longer)).toThrow(expect.objectContaining({ code: 'ERR_SNAPSHOT_FORMAT' }));
  });

  it('reports an unreadable path as ERR_INPUT_READ and never leaves a temporary file behind', async () => {
    expect(await codeOf(readSnapshot(join(dir, 'missing.snap')))).toBe('ERR_INPUT_READ');
    expect(await codeOf(writeSnapshot(join(dir, 'no-such-dir', 'x.snap'), { lists: [], entries: [] }))).toBe('ERR_STORE');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces an existing snapshot atomically', async () => {
    const target = join(dir, 'replace.snap');
    await writeFile(target, 'old contents');
    await writeSnapshot(target, { lists: LISTS, entries: entries().slice(0, 10) });
    expect((await Matcher.open(target)).size).toBe(10);
  });
});
