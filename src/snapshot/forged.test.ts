/**
 * Forged snapshots whose header, table and META are valid but declare sections the file cannot
 * or should not hold (issue 18, finding 7): refused with a snapshot code from what META says,
 * before any section is read or allocated for. The sources here refuse every read past META, so a
 * reader that reached for a section fails these tests without allocating gigabytes.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeEntry } from '../lists/entry.js';
import {
  codeOf,
  FORGED_CASES,
  forgedMeta,
  forgedSource,
  forgeSnapshot,
  resized,
  writeForged,
  type ForgedSection,
} from '../testing/forged-snapshot.js';
import { VPDQ_PACKED_FRAME_BYTES } from '../algorithms/vpdq.js';
import { KIND, NO_ALGORITHM, VPDQ_TABLE } from './format.js';
import { load, readSnapshot } from './read.js';
import { writeSnapshot } from './write.js';

/** Loads `forged` from a source that refuses reads past META; the code, and whether any was asked for. */
async function refusal(meta: unknown, sections: readonly ForgedSection[]): Promise<{ code: string; reads: number[] }> {
  const source = forgedSource(forgeSnapshot(meta, sections));
  return { code: await codeOf(load(source, 'forged.snap')), reads: source.readsPastHead };
}

/** An MD5 table of `count` entries: every section at its right size, but `changes` by kind. */
function md5Sections(count: number, changes: Readonly<Record<number, number>> = {}): ForgedSection[] {
  const sizes: [number, number][] = [
    [KIND.EXACT, count * 16],
    [KIND.ENTRY_LIST, 0],
    [KIND.ENTRY_ID_OFFSETS, (count + 1) * 4],
    [KIND.ENTRY_ID_BYTES, count],
    [KIND.ENTRY_LABEL_OFFSETS, 0],
    [KIND.ENTRY_LABEL_BYTES, 0],
    [KIND.ENTRY_METADATA_OFFSETS, 0],
    [KIND.ENTRY_METADATA_BYTES, 0],
  ];
  return sizes.map(([kind, length]) => ({ kind, algorithm: 0, length: changes[kind] ?? length }));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-forged-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('forged snapshots', () => {
  it('refuses string sections larger than the entry count allows before reading any section', async () => {
    // The finding's file: one MD5 entry and three string sections of 3.5 GiB.
    const source = forgedSource(FORGED_CASES['huge-strings']!());
    expect(await codeOf(load(source, 'huge-strings.snap'))).toBe('ERR_SNAPSHOT_FORMAT');
    expect(source.readsPastHead).toEqual([]);
    // Each string column on its own, just past its bound: 3 bytes a UTF-16 unit of 1,024 ids or
    // labels, 65,536 bytes of metadata an entry.
    for (const [kind, over] of [
      [KIND.ENTRY_ID_BYTES, 2 * 3072 + 1],
      [KIND.ENTRY_LABEL_BYTES, 2 * 3072 + 1],
      [KIND.ENTRY_METADATA_BYTES, 2 * 65_536 + 1],
    ] as const) {
      const forged = await refusal(forgedMeta(['md5', 128, 2, 'exact']), md5Sections(2, { [kind]: over }));
      expect(forged, `kind ${kind}`).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
    }
  });

  it('refuses ids shorter than one byte an entry: ids are never empty', async () => {
    const forged = await refusal(forgedMeta(['md5', 128, 4, 'exact']), md5Sections(4, { [KIND.ENTRY_ID_BYTES]: 3 }));
    expect(forged).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
  });

  it('refuses a section of a kind no release defines, of any algorithm, before allocating for it', async () => {
    // The finding's 60 GB section once reached WebAssembly.Memory() and threw a plain RangeError.
    const source = forgedSource(FORGED_CASES['unknown-kind-60GB']!());
    expect(await codeOf(load(source, 'unknown.snap'))).toBe('ERR_SNAPSHOT_FORMAT');
    expect(source.readsPastHead).toEqual([]);
    const ofAnAlgorithm = await refusal(forgedMeta(['md5', 128, 1, 'exact']), [
      ...md5Sections(1),
      { kind: 99, algorithm: 0, length: 60e9 },
    ]);
    expect(ofAnAlgorithm).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
  });

  it('refuses 2^26 declared PDQ entries whose sections are not all there, before allocating their planes', async () => {
    for (const name of ['pdq-2^26-planes', 'pdq-2^26-gap']) {
      const source = forgedSource(FORGED_CASES[name]!());
      expect(await codeOf(load(source, name)), name).toBe('ERR_SNAPSHOT_FORMAT');
      expect(source.readsPastHead, name).toEqual([]);
    }
  });

  it('refuses a gap between sections, or after the last, wider than the alignment padding', async () => {
    const meta = forgedMeta(['md5', 128, 1, 'exact']);
    const between = md5Sections(1).map((s) => (s.kind === KIND.ENTRY_ID_BYTES ? { ...s, gapBefore: 64 } : s));
    expect(await refusal(meta, between)).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
    const forged = forgeSnapshot(meta, md5Sections(1));
    const source = forgedSource(resized(forged, forged.size + 64));
    expect(await codeOf(load(source, 'gap.snap'))).toBe('ERR_SNAPSHOT_FORMAT');
    expect(source.readsPastHead).toEqual([]);
  });

  it('refuses algorithms whose hashes together exceed the file, though each alone would fit', async () => {
    // 40 MD5 and 40 SHA-1 entries: 640 and 800 bytes of hashes, in a file of 1,024 or so.
    const meta = forgedMeta(['md5', 128, 40, 'exact'], ['sha1', 160, 40, 'exact']);
    const forged = forgeSnapshot(meta, [{ kind: 99, algorithm: NO_ALGORITHM, length: 700 }]);
    expect(forged.size).toBeGreaterThan(800);
    expect(forged.size).toBeLessThan(640 + 800);
    await expect(load(forgedSource(forged), 'two.snap')).rejects.toThrow(/40 sha1 entries do not fit/);
  });

  it('refuses the finding files from disk as sparse files, with a snapshot code', async () => {
    for (const [name, make] of Object.entries(FORGED_CASES)) {
      const path = join(dir, `${name}.snap`);
      await writeForged(path, make());
      // A few KB on disk, whatever the size declared.
      expect((await stat(path)).blocks * 512).toBeLessThan(1 << 20);
      expect(await codeOf(readSnapshot(path)), name).toBe('ERR_SNAPSHOT_FORMAT');
      await rm(path);
    }
  });

  it('still reads ids, labels and metadata at their longest, in any script', async () => {
    const entries = [
      // 1,024 UTF-16 units of 3 UTF-8 bytes each: the most an id or label can take.
      { id: '€'.repeat(1024), label: '€'.repeat(1024), metadata: { note: 'x'.repeat(60_000) } },
      { id: '😀'.repeat(512), label: '😀'.repeat(512), metadata: { note: '€'.repeat(20_000) } },
    ].map((e, i) =>
      normalizeEntry({ ...e, list: 'l', algorithm: 'md5', hash: Uint8Array.from({ length: 16 }, () => i) }),
    );
    const path = join(dir, 'longest.snap');
    await writeSnapshot(path, { lists: [{ name: 'l', version: 1 }], entries });
    const loaded = await readSnapshot(path);
    const table = loaded.tables.get('md5');
    expect(table?.entries.count).toBe(2);
    expect([0, 1].map((i) => [table?.entries.id(i), table?.entries.label(i), table?.entries.metadata(i)])).toEqual(
      entries.map((e) => [e.id, e.label, e.metadata]),
    );
  });

  it('never writes a snapshot the reader would refuse: metadata past its bound is refused, no file written', async () => {
    const path = join(dir, 'too-much.snap');
    const entry = normalizeEntry({ id: 'a', list: 'l', algorithm: 'md5', hash: '0'.repeat(32) });
    const metadata = { note: 'x'.repeat(65_536) };
    expect(
      await codeOf(writeSnapshot(path, { lists: [{ name: 'l', version: 1 }], entries: [{ ...entry, metadata }] })),
    ).toBe('ERR_STORE');
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });
});

describe("META's quarantined entries", () => {
  const withQuarantine = (quarantined: unknown): unknown => ({
    ...(forgedMeta(['md5', 128, 1, 'exact']) as object),
    lists: [{ name: 'l', version: 1, quarantined }],
  });

  it('refuses a quarantined that is not an array of entries with text id and reason', async () => {
    for (const bad of [{}, [{ id: 1, reason: 'r' }], [{ id: 'a' }], [{ id: 'a', reason: 'r', until: 5 }], [null]]) {
      expect((await refusal(withQuarantine(bad), md5Sections(1))).code).toBe('ERR_SNAPSHOT_FORMAT');
    }
  });

  it('writes and reads back the quarantined entries a list records, and refuses malformed ones', async () => {
    const path = join(dir, 'quarantine.snap');
    const entries = [normalizeEntry({ list: 'l', algorithm: 'md5', hash: 'a'.repeat(32) })];
    const quarantined = [
      { id: 'x', reason: 'flag image', until: '2027-01-01T00:00:00.000Z' },
      { id: 'y', reason: 'r' },
    ];
    await writeSnapshot(path, { lists: [{ name: 'l', version: 2, quarantined }], entries });
    expect((await readSnapshot(path)).lists).toEqual([{ name: 'l', version: 2, quarantined }]);
    await expect(
      writeSnapshot(path, { lists: [{ name: 'l', version: 2, quarantined: [{ id: '', reason: 'r' }] }], entries }),
    ).rejects.toBeInstanceOf(RangeError);
    await expect(
      writeSnapshot(path, { lists: [{ name: 'l', version: 2, quarantined: 'x' as never }], entries }),
    ).rejects.toBeInstanceOf(TypeError);
  });
});

describe('forged vPDQ tables', () => {
  /** META of no algorithm and `videos` as given. */
  const videoMeta = (videos: unknown): unknown => ({ ...(forgedMeta() as object), videos });

  /** A vPDQ table of `count` entries and `frames` frames: every section at its right size, but `changes` by kind. */
  function videoSections(
    count: number,
    frames: number,
    changes: Readonly<Record<number, number>> = {},
  ): ForgedSection[] {
    const sizes: [number, number][] = [
      [KIND.ENTRY_LIST, 0],
      [KIND.ENTRY_ID_OFFSETS, (count + 1) * 4],
      [KIND.ENTRY_ID_BYTES, count],
      [KIND.ENTRY_LABEL_OFFSETS, 0],
      [KIND.ENTRY_LABEL_BYTES, 0],
      [KIND.ENTRY_METADATA_OFFSETS, 0],
      [KIND.ENTRY_METADATA_BYTES, 0],
      [KIND.VPDQ_FRAME_OFFSETS, (count + 1) * 4],
      [KIND.VPDQ_FRAME_BYTES, frames * VPDQ_PACKED_FRAME_BYTES],
    ];
    return sizes.map(([kind, length]) => ({ kind, algorithm: VPDQ_TABLE, length: changes[kind] ?? length }));
  }

  it('refuses frame sections of another size than META counts, before reading any section', async () => {
    for (const [kind, length] of [
      [KIND.VPDQ_FRAME_BYTES, 3 * 2 ** 30],
      [KIND.VPDQ_FRAME_BYTES, 10 * VPDQ_PACKED_FRAME_BYTES + 1],
      [KIND.VPDQ_FRAME_OFFSETS, 0],
      [KIND.VPDQ_FRAME_OFFSETS, 2 ** 32],
    ] as const) {
      const forged = await refusal(videoMeta({ count: 2, frames: 10 }), videoSections(2, 10, { [kind]: length }));
      expect(forged, `kind ${kind}, ${length} bytes`).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
    }
  });

  it('refuses counts no writer gives: frames beyond 36,000 an entry, entries beyond 2^26, not integers', async () => {
    for (const videos of [
      { count: 1, frames: 36_001 },
      { count: 2 ** 26 + 1, frames: 0 },
      { count: 1.5, frames: 1 },
      { count: 1 },
      { count: -1, frames: 0 },
      null,
      'many',
    ]) {
      const forged = await refusal(videoMeta(videos), videoSections(1, 1));
      expect(forged, JSON.stringify(videos)).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
    }
  });

  it('refuses 2^26 declared videos in sections sized for one, before allocating for them', async () => {
    const forged = await refusal(videoMeta({ count: 2 ** 26, frames: 1 }), videoSections(1, 1));
    expect(forged).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
  });

  it('refuses vPDQ sections META does not count, and a vPDQ table missing a section', async () => {
    expect(await refusal(forgedMeta(), videoSections(1, 1))).toEqual({ code: 'ERR_SNAPSHOT_FORMAT', reads: [] });
    const missing = videoSections(1, 1).filter((s) => s.kind !== KIND.VPDQ_FRAME_OFFSETS);
    expect(await refusal(videoMeta({ count: 1, frames: 1 }), missing)).toEqual({
      code: 'ERR_SNAPSHOT_FORMAT',
      reads: [],
    });
    const unknown = [...videoSections(1, 1), { kind: KIND.EXACT, algorithm: VPDQ_TABLE, length: 16 }];
    expect(await refusal(videoMeta({ count: 1, frames: 1 }), unknown)).toEqual({
      code: 'ERR_SNAPSHOT_FORMAT',
      reads: [],
    });
  });

  it('refuses frame offsets that split a frame or do not end at the frames, once read', async () => {
    const offsets = (...values: number[]): Uint8Array => new Uint8Array(Uint32Array.from(values).buffer);
    const ids = new TextEncoder().encode('ab');
    for (const bad of [offsets(0, 40, 82), offsets(0, 41, 41), offsets(0, 82, 41), offsets(4, 41, 82)]) {
      const sections = videoSections(2, 2).map((s): ForgedSection => {
        if (s.kind === KIND.VPDQ_FRAME_OFFSETS) return { ...s, data: bad };
        if (s.kind === KIND.VPDQ_FRAME_BYTES) return { ...s, data: new Uint8Array(82) };
        if (s.kind === KIND.ENTRY_ID_OFFSETS) return { ...s, data: offsets(0, 1, 2) };
        if (s.kind === KIND.ENTRY_ID_BYTES) return { ...s, data: ids };
        return { ...s, data: new Uint8Array(0) };
      });
      const bytes = forgeSnapshot(videoMeta({ count: 2, frames: 2 }), sections);
      // Every section is held: a full file, whose only fault is the offsets.
      expect(await codeOf(load(forgedSource(bytes), 'offsets.snap'))).toBe('ERR_SNAPSHOT_FORMAT');
    }
  });
});
