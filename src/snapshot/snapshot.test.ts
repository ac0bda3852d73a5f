import { statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { Matcher } from '../matcher/matcher.js';
import { normalizeEntry, type ListEntry } from '../lists/entry.js';
import { load, parseSnapshot, readSnapshot, type Source } from './read.js';
import { writeSnapshot } from './write.js';
import { xxh3 } from './xxh3.js';
import { codeOf } from '../testing/forged-snapshot.js';

/** A mixed list: near-duplicate blockhashes, exact hashes in two lists, labels, metadata, unicode ids. */
function entries(): ListEntry[] {
  const out: ListEntry[] = [];
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from({ length: 32 }, (_, j) => ((i >> 3) * 37 + j * 11) & 0xff);
    bytes[i % 32] = (bytes[i % 32] as number) ^ (1 << (i % 8));
    out.push(
      normalizeEntry({
        id: `bh-${i}-ü`,
        list: i % 3 ? 'ncmec' : 'internal',
        algorithm: 'blockhash',
        hash: bytes,
        label: i % 5 ? undefined : 'review',
        metadata: i % 7 ? undefined : { case: i },
      }),
    );
  }
  for (let i = 0; i < 100; i++) {
    const md5 = Uint8Array.from({ length: 16 }, (_, j) => (i * 13 + j) & 0xff);
    out.push(normalizeEntry({ id: `m${i}`, list: 'ncmec', algorithm: 'md5', hash: md5, label: 'csam' }));
    if (i % 10 === 0) out.push(normalizeEntry({ id: `dup${i}`, list: 'internal', algorithm: 'md5', hash: md5 }));
  }
  out.push(normalizeEntry({ list: 'internal', algorithm: 'sha256', hash: 'ab'.repeat(32) }));
  return out;
}

function codeOfSync(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `not a HashwardenError: ${String(error)}`;
  }
  return undefined;
}

const LISTS = [
  { name: 'ncmec', version: 7 },
  { name: 'internal', version: 2 },
];

/** Section checksums, computed here by the JavaScript reference (the reader uses WebAssembly). */
const checksum = xxh3;

let dir: string;
/** The automatic tier: 300 blockhashes are scanned linearly. */
let file: string;
let bytes: Uint8Array;
/** The same entries with forced multi-index tables of 8-bit substrings (32 tables). */
let mihFile: string;
let mihBytes: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-snapshot-'));
  file = join(dir, 'lists.snap');
  await writeSnapshot(file, { lists: LISTS, entries: entries(), source: 'test' });
  bytes = new Uint8Array(await readFile(file));
  mihFile = join(dir, 'mih.snap');
  await writeSnapshot(mihFile, {
    lists: LISTS,
    entries: entries(),
    source: 'test',
    search: { tier: 'mih', substringBits: 8 },
  });
  mihBytes = new Uint8Array(await readFile(mihFile));
});

/** Table row `i`: where its fields are. */
function row(data: Uint8Array, i: number): { view: DataView; at: number; offset: number; length: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const at = 64 + i * 32;
  return {
    view,
    at,
    offset: Number(view.getBigUint64(at + 16, true)),
    length: Number(view.getBigUint64(at + 24, true)),
  };
}

/** Recomputes the table and header checksums after a row changed. */
function reseal(data: Uint8Array): Uint8Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(12, true);
  view.setBigUint64(24, checksum(data.subarray(64, 64 + count * 32)), true);
  view.setBigUint64(56, checksum(data.subarray(0, 56)), true);
  return data;
}

/** A copy whose first section of `kind` is changed by `edit`, with its checksum made valid again. */
function withSection(data: Uint8Array, kind: number, edit: (section: Uint8Array) => void): Uint8Array {
  const copy = Uint8Array.from(data);
  const count = new DataView(copy.buffer).getUint32(12, true);
  for (let i = 0; i < count; i++) {
    const r = row(copy, i);
    if (r.view.getUint16(r.at, true) !== kind) continue;
    const section = copy.subarray(r.offset, r.offset + r.length);
    edit(section);
    r.view.setBigUint64(r.at + 8, checksum(section), true);
    return reseal(copy);
  }
  throw new Error(`no section of kind ${kind}`);
}

/** A copy with META rewritten by `edit` (re-laid out: META is the first section, so the file is rebuilt). */
function withMeta(data: Uint8Array, edit: (meta: Record<string, unknown>) => void): Uint8Array {
  const first = row(data, 0);
  const meta = JSON.parse(new TextDecoder().decode(data.subarray(first.offset, first.offset + first.length))) as Record<
    string,
    unknown
  >;
  edit(meta);
  const text = new TextEncoder().encode(JSON.stringify(meta));
  // Pad with spaces (valid JSON) so the new META fits where the old one was, before the next section.
  const room = row(data, 1).offset - first.offset;
  if (text.length > room) throw new Error('META grew past its room');
  const copy = Uint8Array.from(data);
  copy.fill(0, first.offset, first.offset + room);
  copy.set(text, first.offset);
  new DataView(copy.buffer).setBigUint64(first.at + 24, BigInt(text.length), true);
  new DataView(copy.buffer).setBigUint64(first.at + 8, checksum(text), true);
  return reseal(copy);
}
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
  it.skipIf(process.platform === 'win32')('are written readable and writable by their owner only', () => {
    // The hashes of abuse material are themselves sensitive (docs/security.md).
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('round-trip: a matcher on the snapshot answers every query as the matcher on the entries', async () => {
    const fromEntries = Matcher.fromEntries(entries(), { lists: LISTS });
    const fromSnapshot = await Matcher.open(file);
    expect(fromSnapshot.size).toBe(fromEntries.size);
    fc.assert(
      fc.property(fc.nat(299), fc.nat(40), fc.nat(31), (i, threshold, flip) => {
        const query = Uint8Array.from(Buffer.from(entries()[i]!.hash, 'hex'));
        query[flip] = (query[flip] as number) ^ 0x81;
        expect(fromSnapshot.matchHash({ algorithm: 'blockhash', hash: query }, { threshold })).toEqual(
          fromEntries.matchHash({ algorithm: 'blockhash', hash: query }, { threshold }),
        );
      }),
      { seed: 3, numRuns: 100 },
    );
    for (const e of entries().filter((x) => x.algorithm !== 'blockhash')) {
      expect(fromSnapshot.matchHash(e)).toEqual(fromEntries.matchHash(e));
    }
    expect(fromSnapshot.matchHash({ algorithm: 'md5', hash: 'ff'.repeat(16) })).toEqual([]);
  });

  it('stores multi-index tables and answers every threshold as brute force does', async () => {
    const snapshot = await parseSnapshot(mihBytes);
    expect(snapshot.algorithms.find((a) => a.name === 'blockhash')?.search).toEqual({
      tier: 'mih',
      substringBits: Array(32).fill(8),
    });
    const fromSnapshot = await Matcher.open(mihFile);
    expect(fromSnapshot.describe().find((t) => t.algorithm === 'blockhash')).toMatchObject({ tier: 'mih', count: 300 });
    const linear = Matcher.fromEntries(entries(), { search: { tier: 'linear' }, lists: LISTS });
    for (let i = 0; i < 300; i += 7) {
      const query = Uint8Array.from(Buffer.from(entries()[i]!.hash, 'hex'));
      query[(i * 5) % 32] = (query[(i * 5) % 32] as number) ^ 0x5a;
      for (let threshold = 0; threshold <= 64; threshold++) {
        expect(
          fromSnapshot.matchHash({ algorithm: 'blockhash', hash: query }, { threshold }),
          `entry ${i} t=${threshold}`,
        ).toEqual(linear.matchHash({ algorithm: 'blockhash', hash: query }, { threshold }));
      }
    }
  });

  it('keeps the stored index unless the opener asks for another', async () => {
    expect((await Matcher.open(mihFile)).describe().find((t) => t.algorithm === 'blockhash')?.tier).toBe('mih');
    expect(
      (await Matcher.open(mihFile, { search: { tier: 'linear' } })).describe().find((t) => t.algorithm === 'blockhash')
        ?.tier,
    ).toBe('linear');
    const rebuilt = (await Matcher.open(file, { search: { tier: 'mih', substringBits: 12 } }))
      .describe()
      .find((t) => t.algorithm === 'blockhash');
    expect(rebuilt?.tier).toBe('mih');
    expect(Math.max(...(rebuilt?.substringBits ?? []))).toBe(12);
    expect(rebuilt?.substringBits?.reduce((a, b) => a + b, 0)).toBe(256);
    expect(
      (await Matcher.open(file))
        .describe()
        .map((t) => t.tier)
        .sort(),
    ).toEqual(['exact', 'exact', 'linear']);
  });

  it('rejects bad search options before writing anything', async () => {
    const target = join(dir, 'bad-options.snap');
    await expect(
      writeSnapshot(target, { lists: LISTS, entries: entries(), search: { substringBits: 30 } }),
    ).rejects.toThrow('Expected integer between 8 and 24 for search.substringBits but received 30 of type number');
    await expect(
      writeSnapshot(target, { lists: LISTS, entries: entries(), search: { tier: 'fast' as 'mih' } }),
    ).rejects.toThrow(RangeError);
    expect((await readdir(dir)).filter((f) => f.startsWith('bad-options') || f.includes('bad-options.snap.'))).toEqual(
      [],
    );
  });

  it('refuses lists readSnapshot would refuse with argument errors, writing nothing', async () => {
    // Found by snapshot.fuzz.test.ts: a name that was no string or a version of NaN was written, and
    // the file then refused by every reader; a null list threw "Cannot read properties of null".
    const target = join(dir, 'bad-lists.snap');
    for (const list of [
      { name: [], version: 1 },
      { name: 'x', version: Number.NaN },
      { name: 'x', version: 1.5 },
      { name: '', version: 1 },
      null,
    ]) {
      const error = await writeSnapshot(target, { lists: [list as never], entries: [] }).catch((e: unknown) => e);
      expect(error instanceof TypeError || error instanceof RangeError, String(error)).toBe(true);
      expect((error as Error).message).toMatch(/^Expected .+ for source\.lists\[0\]/);
    }
    expect((await readdir(dir)).filter((f) => f.includes('bad-lists'))).toEqual([]);
  });

  it('stores a column empty for every entry, and a single list, as empty sections', async () => {
    const plain = entries()
      .filter((e) => e.algorithm === 'blockhash')
      .map((e) => normalizeEntry({ id: e.id, list: 'only', algorithm: e.algorithm, hash: e.hash }));
    const target = join(dir, 'plain.snap');
    await writeSnapshot(target, { lists: [{ name: 'only', version: 1 }], entries: plain });
    const data = new Uint8Array(await readFile(target));
    const lengths = new Map<number, number>();
    const count = new DataView(data.buffer).getUint32(12, true);
    for (let i = 0; i < count; i++) {
      const r = row(data, i);
      lengths.set(r.view.getUint16(r.at, true), r.length);
    }
    // ENTRY_LIST, label offsets/bytes, metadata offsets/bytes: empty; ids: present.
    expect([7, 10, 11, 12, 13].map((kind) => lengths.get(kind))).toEqual([0, 0, 0, 0, 0]);
    expect(lengths.get(8)).toBe(4 * (plain.length + 1));
    const matcher = await Matcher.open(target);
    const match = matcher.matchHash(plain[17]!, { threshold: 0 }).find((m) => m.entryId === plain[17]!.id);
    expect(match).toEqual({
      list: 'only',
      entryId: plain[17]!.id,
      algorithm: 'blockhash',
      distance: 0,
      hash: plain[17]!.hash,
      listVersion: 1,
    });
  });

  it('keeps the lists with their versions', async () => {
    expect((await readSnapshot(file)).lists).toEqual(LISTS);
  });

  it('writes an empty snapshot that opens to an empty matcher', async () => {
    const empty = join(dir, 'empty.snap');
    await writeSnapshot(empty, { lists: [], entries: [] });
    expect((await Matcher.open(empty, { allowEmpty: true })).size).toBe(0);
  });

  it('refuses a snapshot truncated at any section boundary or inside a section', async () => {
    for (const data of [bytes, mihBytes]) {
      const cuts = new Set<number>([0, 4, 8, 63, 64, 65]);
      for (const [start, end] of sectionRanges(data))
        for (const at of [start, start + 1, Math.floor((start + end) / 2), end - 1]) cuts.add(at);
      for (const at of [...cuts].filter((c) => c < data.length)) {
        expect(await codeOf(parseSnapshot(data.subarray(0, at))), `cut at ${at}`).toBe('ERR_SNAPSHOT_TRUNCATED');
      }
    }
  });

  it('reports a read that fails while an earlier one is still pending as a typed error, not an unhandled rejection', async () => {
    // Reads of sections 0–2 finish late; the read of section 4 fails at once, before they do.
    const [failAt] = sectionRanges(mihBytes)[4] as [number, number];
    const slowBefore = (sectionRanges(mihBytes)[3] as [number, number])[0];
    const source: Source = {
      size: mihBytes.length,
      read(into, position) {
        if (position === failAt)
          return Promise.reject(new HashwardenError('ERR_SNAPSHOT_TRUNCATED', 'cut while being read'));
        into.set(mihBytes.subarray(position, position + into.length));
        return position > 64 * 4 && position < slowBefore
          ? new Promise((resolve) => setTimeout(resolve, 20))
          : Promise.resolve();
      },
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      expect(await codeOf(load(source, 'cut.snap'))).toBe('ERR_SNAPSHOT_TRUNCATED');
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('refuses a file cut at a section boundary from disk, too', async () => {
    const [start] = sectionRanges(mihBytes)[3] as [number, number];
    const cut = join(dir, 'cut.snap');
    await writeFile(cut, mihBytes.subarray(0, start));
    expect(await codeOf(Matcher.open(cut))).toBe('ERR_SNAPSHOT_TRUNCATED');
  });

  it('refuses a snapshot with a flipped byte anywhere: header, table, any section (MIH tables included) or padding', async () => {
    for (const data of [bytes, mihBytes]) {
      // Header: version (9), section count, size, table checksum, reserved, header checksum.
      const flips = new Set<number>([9, 12, 20, 30, 40, 60, 64, 70, 100]);
      let previousEnd = 0;
      for (const [start, end] of sectionRanges(data)) {
        if (end > start)
          flips
            .add(start)
            .add(Math.floor((start + end) / 2))
            .add(end - 1);
        if (start > previousEnd + 1) flips.add(start - 1); // padding
        previousEnd = end;
      }
      for (const at of flips) {
        const copy = Uint8Array.from(data);
        copy[at] = (copy[at] as number) ^ 0x10;
        // The version is read before the header checksum (its place is the same in every version):
        // a flip there reads as another version, which is refused as well.
        const codes =
          at >= 8 && at < 12
            ? ['ERR_SNAPSHOT_VERSION']
            : ['ERR_SNAPSHOT_CORRUPT', 'ERR_SNAPSHOT_FORMAT', 'ERR_SNAPSHOT_TRUNCATED'];
        expect(codes, `flip at ${at}`).toContain(await codeOf(parseSnapshot(copy)));
      }
    }
  });

  it('refuses the wrong magic, another version and trailing bytes', async () => {
    const wrongMagic = Uint8Array.from(bytes);
    wrongMagic[1] = 0x58;
    expect(await codeOf(parseSnapshot(wrongMagic))).toBe('ERR_SNAPSHOT_FORMAT');
    expect(await codeOf(parseSnapshot(wrongMagic.subarray(0, 20)))).toBe('ERR_SNAPSHOT_FORMAT');
    for (const version of [1, 4]) {
      const other = Uint8Array.from(bytes);
      const view = new DataView(other.buffer);
      view.setUint32(8, version, true);
      view.setBigUint64(56, checksum(other.subarray(0, 56)), true);
      expect(await codeOf(parseSnapshot(other))).toBe('ERR_SNAPSHOT_VERSION');
    }
    const longer = new Uint8Array(bytes.length + 64);
    longer.set(bytes);
    expect(await codeOf(parseSnapshot(longer))).toBe('ERR_SNAPSHOT_FORMAT');
  });

  it('refuses META whose algorithm entry is not an object, with valid checksums, as ERR_SNAPSHOT_FORMAT', async () => {
    // Found by snapshot.fuzz.test.ts: a null entry was read as one and threw a TypeError.
    for (const value of [null, 7, 'md5', []]) {
      const forged = withMeta(bytes, (meta) => {
        (meta.algorithms as unknown[])[0] = value;
      });
      expect(await codeOf(parseSnapshot(forged)), JSON.stringify(value)).toBe('ERR_SNAPSHOT_FORMAT');
    }
  });

  it('reads list thresholds in META by their canonical algorithm names, as the matcher looks them up', async () => {
    const forged = withMeta(bytes, (meta) => {
      meta.created = '';
      meta.sequence = 0;
      delete meta.source;
      (meta.lists as { thresholds?: unknown }[])[0]!.thresholds = { BlockHash: 3 };
    });
    const loaded = await parseSnapshot(forged);
    expect(loaded.lists[0]?.thresholds).toEqual({ blockhash: 3 });
  });

  it('refuses META that claims more entries than the file can hold, before allocating for them', async () => {
    const forged = withMeta(bytes, (meta) => {
      for (const a of meta.algorithms as { count: number }[]) a.count = 2 ** 26;
    });
    expect(await codeOf(parseSnapshot(forged))).toBe('ERR_SNAPSHOT_FORMAT');
    await expect(parseSnapshot(forged)).rejects.toThrow(/67108864 blockhash entries do not fit/);
  });

  it('refuses a second META section, whose bytes nothing would check', async () => {
    const copy = Uint8Array.from(bytes);
    const view = new DataView(copy.buffer);
    const count = view.getUint32(12, true);
    // The last section (metadata bytes of the last algorithm) relabelled as META.
    view.setUint16(64 + (count - 1) * 32, 1, true);
    expect(await codeOf(parseSnapshot(reseal(copy)))).toBe('ERR_SNAPSHOT_FORMAT');
    await expect(parseSnapshot(copy)).rejects.toThrow(/2 META sections/);
  });

  it('refuses META that claims multi-index tables the file does not hold', async () => {
    // Rewrite the linear snapshot's META to claim MIH, with every checksum made valid again.
    const forged = withMeta(bytes, (meta) => {
      // Room for the longer claim: the creation time and source are not needed to load.
      meta.created = '';
      meta.sequence = 0;
      delete meta.source;
      const algorithms = meta.algorithms as { name: string; search: unknown }[];
      for (const a of algorithms)
        if (a.name === 'blockhash') a.search = { tier: 'mih', substringBits: Array(16).fill(16) };
    });
    const error = await parseSnapshot(forged).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_SNAPSHOT_FORMAT' });
    expect(String((error as Error).message)).toMatch(/MIH_OFFSETS|kind 5|not expected|missing section/);
    // And the reverse: MIH tables present, META says linear.
    const linearClaim = withMeta(mihBytes, (meta) => {
      for (const a of meta.algorithms as { search: unknown }[]) a.search = { tier: 'linear' };
    });
    expect(await codeOf(parseSnapshot(linearClaim))).toBe('ERR_SNAPSHOT_FORMAT');
  });

  it('refuses multi-index bucket starts that are out of order even when their checksums hold', async () => {
    const forged = withSection(mihBytes, 5, (data) =>
      new DataView(data.buffer, data.byteOffset).setUint32(4, 0xffffff, true),
    );
    expect(await codeOf(parseSnapshot(forged))).toBe('ERR_SNAPSHOT_FORMAT');
  });

  it('fails a query, never reads out of bounds, when valid-checksum tables or entries point outside the list', async () => {
    // Every id of table 0 beyond the hashes: a query that finds any candidate must fail loudly.
    const badIds = withSection(mihBytes, 6, (data) =>
      new Uint32Array(data.buffer, data.byteOffset, data.length / 4).fill(0xffffff),
    );
    const path = join(dir, 'bad-ids.snap');
    await writeFile(path, badIds);
    const matcher = await Matcher.open(path);
    const stored = entries()[0]!.hash;
    expect(codeOfSync(() => matcher.matchHash({ algorithm: 'blockhash', hash: stored }, { threshold: 0 }))).toBe(
      'ERR_SNAPSHOT_FORMAT',
    );
    // An entry naming a list beyond META's: the entry lookup refuses it.
    const badList = withSection(mihBytes, 7, (data) =>
      new Uint16Array(data.buffer, data.byteOffset, data.length / 2).fill(9),
    );
    const listPath = join(dir, 'bad-list.snap');
    await writeFile(listPath, badList);
    const byList = await Matcher.open(listPath);
    expect(codeOfSync(() => byList.matchHash({ algorithm: 'blockhash', hash: stored }, { threshold: 0 }))).toBe(
      'ERR_SNAPSHOT_FORMAT',
    );
  });

  it('reports an unreadable path as ERR_INPUT_READ and never leaves a temporary file behind', async () => {
    expect(await codeOf(readSnapshot(join(dir, 'missing.snap')))).toBe('ERR_INPUT_READ');
    expect(await codeOf(writeSnapshot(join(dir, 'no-such-dir', 'x.snap'), { lists: [], entries: [] }))).toBe(
      'ERR_STORE',
    );
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('openSnapshot refuses anything but a snapshot, where open would try a SQLite store', async () => {
    const notSnapshot = join(dir, 'not-a-snapshot.db');
    await writeFile(notSnapshot, 'SQLite format 3\0 and more');
    expect(await codeOf(Matcher.openSnapshot(notSnapshot))).toBe('ERR_SNAPSHOT_FORMAT');
    expect(await codeOf(Matcher.openSnapshot(join(dir, 'missing.snap')))).toBe('ERR_INPUT_READ');
    expect((await Matcher.openSnapshot(file)).size).toBe(entries().length);
  });

  it('replaces an existing snapshot atomically', async () => {
    const target = join(dir, 'replace.snap');
    await writeFile(target, 'old contents');
    await writeSnapshot(target, { lists: LISTS, entries: entries().slice(0, 10) });
    expect((await Matcher.open(target)).size).toBe(10);
  });
});
