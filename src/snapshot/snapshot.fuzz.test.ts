/**
 * Fuzz tests of snapshot loading (docs/fuzzing.md, docs/snapshot-format.md). Small valid snapshots
 * (linear and multi-index tables, every algorithm and vPDQ entries, labels, metadata, several
 * lists; one list and empty columns; no entries) are damaged in four ways, and each time only an ERR_SNAPSHOT_* error
 * may come out, never a crash, a hang, a RangeError from a typed array or a wrong silent result:
 *
 * - bit flips: every byte is under a checksum or the zero-padding check, so the exact code is
 *   known (the magic: FORMAT, the version: VERSION, anything else: CORRUPT);
 * - truncation anywhere: TRUNCATED; bytes appended: FORMAT;
 * - header and section-table fields changed (counts, sizes, kinds, parts, offsets, lengths) with
 *   the header and table checksums made valid again: refused, or read as exactly the same lists;
 * - forged files written with valid checksums everywhere (sections dropped, repeated, swapped,
 *   relabelled, their bytes changed, META rewritten): refused, or opened to a matcher whose every
 *   query (by hash, and by a video's frames) answers well-formed matches or ERR_SNAPSHOT_FORMAT; a
 *   matcher may refuse to open one whose video entries do not unpack, with ERR_SNAPSHOT_FORMAT.
 *
 * And writeSnapshot, fed arbitrary lists and search options, refuses them with an argument error
 * or writes a file that readSnapshot reads back.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError } from '../errors.js';
import { Matcher } from '../matcher/matcher.js';
import type { Match, VideoMatch } from '../matcher/types.js';
import { formatVpdqJson, parseVpdqJson, type VpdqFeature } from '../algorithms/vpdq.js';
import { normalizeEntry, type ListEntry } from '../lists/entry.js';
import type { SnapshotList } from './format.js';
import { parseSnapshot, readSnapshot } from './read.js';
import { writeSnapshot } from './write.js';
import { fuzzParameters, fuzzTestTimeout, isArgumentError } from '../testing/fuzz.js';
import { applyMutations, mutation } from '../testing/mutate.js';
import { mulberry32 } from '../testing/prng.js';
import { assemble, disassemble, type LaidSection, reseal, viewOf } from '../testing/snapshot-layout.js';

const SNAPSHOT_CODES = [
  'ERR_SNAPSHOT_FORMAT',
  'ERR_SNAPSHOT_VERSION',
  'ERR_SNAPSHOT_TRUNCATED',
  'ERR_SNAPSHOT_CORRUPT',
];

// ---------------------------------------------------------------------------------------------
// The snapshots damaged

const LISTS: SnapshotList[] = [
  { name: 'ncmec', version: 7, thresholds: { pdq: 24 }, label: 'block-and-report' },
  { name: 'internal', version: 2 },
  { name: 'ünïcode list', version: 1, thresholds: { blockhash: 4 } },
];

/** Near-duplicate perceptual hashes (so searches find several), exact hashes in two lists, labels, metadata, unicode ids. */
function mixedEntries(): ListEntry[] {
  const random = mulberry32(7);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
  const out: ListEntry[] = [];
  for (const algorithm of ['blockhash', 'pdq'] as const) {
    const seed = bytes(32);
    for (let i = 0; i < 24; i++) {
      const hash = Uint8Array.from(seed);
      for (let flip = 0; flip < i % 9; flip++) {
        const at = Math.floor(random() * 32);
        hash[at] = (hash[at] as number) ^ (1 << Math.floor(random() * 8));
      }
      if (i % 6 === 5) hash.set(bytes(32));
      out.push(
        normalizeEntry({
          id: `${algorithm}-${i}-ü`,
          list: LISTS[i % 3]!.name,
          algorithm,
          hash,
          label: i % 4 ? undefined : 'review',
          metadata: i % 5 ? undefined : { case: i, note: 'x"y' },
        }),
      );
    }
  }
  for (const algorithm of ['md5', 'sha1', 'sha256'] as const) {
    for (let i = 0; i < 8; i++) {
      const hash = bytes(getAlgorithm(algorithm).bits / 8);
      out.push(
        normalizeEntry({ id: `${algorithm}${i}`, list: 'ncmec', algorithm, hash, label: i % 3 ? 'csam' : undefined }),
      );
      if (i % 4 === 0) out.push(normalizeEntry({ id: `${algorithm}-dup${i}`, list: 'internal', algorithm, hash }));
    }
  }
  // Videos sharing frames (so one query finds several), one of no frame at all, one of low quality.
  const frames = Array.from({ length: 12 }, () => Buffer.from(bytes(32)).toString('hex'));
  for (let i = 0; i < 8; i++) {
    const video: VpdqFeature[] = Array.from({ length: i === 6 ? 0 : 2 + (i % 5) }, (_, f) => ({
      hash: frames[(i * 2 + f) % frames.length] as string,
      quality: i === 7 ? 20 : 60 + f,
      seconds: f * 1.5,
    }));
    out.push(
      normalizeEntry({
        id: `video-${i}-ü`,
        list: LISTS[i % 3]!.name,
        algorithm: 'vpdq',
        hash: formatVpdqJson(video),
        label: i % 2 ? undefined : 'csam',
        metadata: i % 3 ? undefined : { case: i },
      }),
    );
  }
  return out;
}

interface Base {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly queries: readonly Query[];
  /** What a matcher on the undamaged file answers. */
  readonly observed: Observation;
}

interface Query {
  readonly algorithm: AlgorithmName | 'vpdq';
  readonly hash: string;
  readonly threshold: number | undefined;
  /** A video's query (`algorithm: 'vpdq'`): its frames, matched at every share (`queryMatchPercent: 0`). */
  readonly frames?: readonly VpdqFeature[];
}

/** Each entry's own hash (at thresholds 0 and 64 when perceptual: every entry is then a candidate), and a few random ones. */
function queriesOf(entries: readonly ListEntry[]): Query[] {
  const random = mulberry32(11);
  const queries: Query[] = [];
  for (const e of entries) {
    if (e.algorithm === 'vpdq') {
      queries.push({ algorithm: 'vpdq', hash: '', threshold: 31, frames: parseVpdqJson(e.hash) });
      continue;
    }
    if (getAlgorithm(e.algorithm).kind === 'perceptual')
      for (const threshold of [0, 64]) queries.push({ algorithm: e.algorithm, hash: e.hash, threshold });
    else queries.push({ algorithm: e.algorithm, hash: e.hash, threshold: undefined });
  }
  for (const algorithm of ['blockhash', 'pdq', 'md5'] as const) {
    const hash = Buffer.from(
      Uint8Array.from({ length: getAlgorithm(algorithm).bits / 8 }, () => Math.floor(random() * 256)),
    ).toString('hex');
    queries.push({ algorithm, hash, threshold: algorithm === 'md5' ? undefined : 40 });
  }
  return queries;
}

/**
 * What a matcher says: its lists, tables and the answer (or error code) of every query; or the
 * code it refused to open with (`refused`).
 */
interface Observation {
  readonly refused?: string;
  readonly size: number;
  readonly lists: unknown;
  readonly tables: unknown;
  readonly answers: readonly (readonly Match[] | readonly VideoMatch[] | string)[];
}

async function observe(path: string, queries: readonly Query[]): Promise<Observation> {
  let matcher: Matcher;
  try {
    matcher = await Matcher.open(path, { allowEmpty: true });
  } catch (error) {
    const refused = error instanceof HashwardenError ? error.code : `untyped: ${String(error)}`;
    return { refused, size: 0, lists: [], tables: [], answers: [] };
  }
  const answers = queries.map((q) => {
    try {
      if (q.frames !== undefined) return matcher.matchVpdq(q.frames, { queryMatchPercent: 0 });
      return matcher.matchHash(
        { algorithm: q.algorithm as AlgorithmName, hash: q.hash },
        q.threshold === undefined ? {} : { threshold: q.threshold },
      );
    } catch (error) {
      return error instanceof HashwardenError ? error.code : `untyped: ${String(error)}`;
    }
  });
  return { size: matcher.size, lists: matcher.lists, tables: matcher.describe(), answers };
}

let dir: string;
const bases: Base[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-snapshot-fuzz-'));
  const mixed = mixedEntries();
  const plain = mixed
    .filter((e) => e.algorithm === 'blockhash' || e.algorithm === 'md5')
    .map((e) => normalizeEntry({ id: e.id, list: 'only', algorithm: e.algorithm, hash: e.hash }));
  const variants: [string, SnapshotList[], ListEntry[], Parameters<typeof writeSnapshot>[1]['search']][] = [
    ['linear', LISTS, mixed, undefined],
    ['mih', LISTS, mixed, { tier: 'mih', substringBits: 8 }],
    ['one list, empty columns', [{ name: 'only', version: 3 }], plain, undefined],
    ['no entries', [], [], undefined],
  ];
  for (const [name, lists, entries, search] of variants) {
    const path = join(dir, `${bases.length}.snap`);
    await writeSnapshot(path, { lists, entries, source: 'fuzz', ...(search === undefined ? {} : { search }) });
    const queries = queriesOf(entries);
    bases.push({ name, bytes: new Uint8Array(await readFile(path)), queries, observed: await observe(path, queries) });
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The layout, to damage it knowingly (docs/snapshot-format.md)

/**
 * The code a load fails with, 'ok', or what else came out: from memory (parseSnapshot), or from a
 * file (readSnapshot, whose reads of a file differ from those of bytes in memory).
 */
async function loadCode(bytes: Uint8Array, fromFile = false): Promise<string> {
  try {
    if (fromFile) await readSnapshot(await fileOf(bytes));
    else await parseSnapshot(bytes, 'fuzz.snap');
    return 'ok';
  } catch (error) {
    return error instanceof HashwardenError
      ? error.code
      : `untyped: ${error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)}`;
  }
}

let written = 0;
async function fileOf(bytes: Uint8Array): Promise<string> {
  const path = join(dir, `fuzzed-${++written}.snap`);
  await writeFile(path, bytes);
  return path;
}

/** Asserts a video query's answer is well formed: shares in range, frame pairs within the distance. */
function expectWellFormedVideos(answer: readonly VideoMatch[], query: Query): void {
  const frames = query.frames as readonly VpdqFeature[];
  for (const match of answer) {
    expect(match.algorithm).toBe('vpdq');
    expect(typeof match.list === 'string' && typeof match.entryId === 'string').toBe(true);
    for (const share of [match.queryMatchPercent, match.listedMatchPercent])
      expect(share > 0 && share <= 100, String(share)).toBe(true);
    for (const pair of match.frames) {
      expect(frames[pair.queryFrame]?.seconds).toBe(pair.querySeconds);
      expect(Number.isInteger(pair.distance) && pair.distance >= 0 && pair.distance <= 31).toBe(true);
      expect(Number.isFinite(pair.listedSeconds) && pair.listedSeconds >= 0).toBe(true);
    }
  }
}

/** Asserts every answer is a well-formed list of matches for its query, or ERR_SNAPSHOT_FORMAT. */
function expectWellFormed(observed: Observation, queries: readonly Query[]): void {
  observed.answers.forEach((answer, i) => {
    const query = queries[i] as Query;
    if (typeof answer === 'string') {
      // An id, list number or string offset out of range, met by this query (docs/api.md).
      expect(answer, `query ${i}`).toBe('ERR_SNAPSHOT_FORMAT');
      return;
    }
    if (query.algorithm === 'vpdq') {
      expectWellFormedVideos(answer as readonly VideoMatch[], query);
      return;
    }
    const algorithm = getAlgorithm(query.algorithm);
    let previous = 0;
    for (const match of answer as readonly Match[]) {
      expect(match.algorithm).toBe(algorithm.name);
      expect(typeof match.list === 'string' && typeof match.entryId === 'string').toBe(true);
      expect(match.hash).toMatch(new RegExp(`^[0-9a-f]{${algorithm.bits / 4}}$`));
      expect(
        Number.isInteger(match.distance) && match.distance >= previous && match.distance <= (query.threshold ?? 0),
      ).toBe(true);
      if (algorithm.kind === 'exact') expect(match.hash).toBe(query.hash);
      previous = match.distance;
    }
  });
}

const baseIndex = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 3 });

describe('snapshot loading fuzz', () => {
  it('reads back each undamaged snapshot byte for byte through the test layout (the model the damage relies on)', async () => {
    for (const base of bases) {
      expect(assemble(disassemble(base.bytes)).bytes, base.name).toEqual(base.bytes);
      expect(await loadCode(base.bytes)).toBe('ok');
      expect(base.observed.refused, base.name).toBeUndefined();
      expect(
        base.observed.answers.every((a) => typeof a !== 'string'),
        base.name,
      ).toBe(true);
    }
    // The videos are held and found: each video query finds its own entry (all but the empty and
    // the low-quality one), and others that share its frames.
    const videos = base0().observed.answers.filter((_, i) => base0().queries[i]?.algorithm === 'vpdq');
    expect(videos.filter((a) => typeof a !== 'string' && a.length > 1).length).toBeGreaterThan(3);
    // The queries find what they should: a stored hash finds its own entry.
    expect(base0().observed.answers.filter((a) => typeof a !== 'string' && a.length > 0).length).toBeGreaterThan(100);
  });

  it(
    'refuses a snapshot with bits flipped anywhere, with the code of the first check that meets them',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          baseIndex(),
          fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 4 }),
          fc.boolean(),
          async (b, flips, fromFile) => {
            const { bytes } = bases[b] as Base;
            const copy = Uint8Array.from(bytes);
            for (const [at, bit] of flips) copy[at % copy.length] = (copy[at % copy.length] as number) ^ (1 << bit);
            const changed = [...copy.keys()].filter((i) => copy[i] !== bytes[i]);
            // The magic is checked first, then the version (its place is the same in every version),
            // then the header checksum; every later byte is under a checksum or must be zero padding.
            const expected =
              changed.length === 0
                ? 'ok'
                : changed.some((i) => i < 8)
                  ? 'ERR_SNAPSHOT_FORMAT'
                  : changed.some((i) => i < 12)
                    ? 'ERR_SNAPSHOT_VERSION'
                    : 'ERR_SNAPSHOT_CORRUPT';
            expect(await loadCode(copy, fromFile)).toBe(expected);
          },
        ),
        fuzzParameters(300),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'refuses a snapshot cut anywhere as TRUNCATED, and one with bytes after its end as FORMAT',
    async () => {
      // Cuts anywhere, and cuts at the edges of every region: header, table, each section, padding.
      const cutAt = fc.oneof(
        fc.nat().map((n) => ({ region: -1, edge: n })),
        fc.record({ region: fc.nat(), edge: fc.constantFrom(0, 1, 2, 3, 4) }),
      );
      await fc.assert(
        fc.asyncProperty(
          baseIndex(),
          cutAt,
          fc.uint8Array({ minLength: 1, maxLength: 130 }),
          fc.boolean(),
          fc.boolean(),
          async (b, cutting, extra, cut, fromFile) => {
            const { bytes } = bases[b] as Base;
            if (cut) {
              let at = cutting.edge;
              if (cutting.region >= 0) {
                const view = viewOf(bytes);
                const rows = view.getUint32(12, true);
                // Region 0: the header; 1: the table; then each section.
                const regions: [number, number][] = [
                  [0, 64],
                  [64, 64 + rows * 32],
                ];
                for (let i = 0; i < rows; i++) {
                  const offset = Number(view.getBigUint64(64 + i * 32 + 16, true));
                  regions.push([offset, offset + Number(view.getBigUint64(64 + i * 32 + 24, true))]);
                }
                const [start, end] = regions[cutting.region % regions.length] as [number, number];
                at = [start, start + 1, Math.floor((start + end) / 2), end - 1, end][cutting.edge] as number;
              }
              expect(await loadCode(bytes.slice(0, Math.max(0, at) % bytes.length), fromFile)).toBe(
                'ERR_SNAPSHOT_TRUNCATED',
              );
            } else {
              const longer = new Uint8Array(bytes.length + extra.length);
              longer.set(bytes);
              longer.set(extra, bytes.length);
              expect(await loadCode(longer, fromFile)).toBe('ERR_SNAPSHOT_FORMAT');
            }
          },
        ),
        fuzzParameters(200),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'refuses changed header and table fields even with their checksums made valid, or reads exactly the same lists',
    async () => {
      // Fields: the header's section count, file size and reserved bytes; a row's kind, algorithm,
      // part, checksum, offset and length.
      const FIELDS = [
        { at: 12, size: 4 },
        { at: 16, size: 8 },
        { at: 32, size: 8 },
        { row: 0, size: 2 },
        { row: 2, size: 2 },
        { row: 4, size: 4 },
        { row: 8, size: 8 },
        { row: 16, size: 8 },
        { row: 24, size: 8 },
      ] as const;
      const change = fc.record({
        field: fc.constantFrom(...FIELDS),
        row: fc.nat(),
        value: fc.oneof(
          fc.constantFrom(
            0n,
            1n,
            2n,
            7n,
            13n,
            64n,
            0xffffn,
            0x10000n,
            0xffffffffn,
            2n ** 53n,
            2n ** 63n,
            2n ** 64n - 1n,
          ),
          fc.integer({ min: -130, max: 130 }).map((d) => ({ delta: BigInt(d) })),
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        ),
        otherRow: fc.nat(),
      });
      await fc.assert(
        fc.asyncProperty(baseIndex(), fc.array(change, { minLength: 1, maxLength: 3 }), async (b, changes) => {
          const base = bases[b] as Base;
          const copy = Uint8Array.from(base.bytes);
          const view = viewOf(copy);
          const rows = view.getUint32(12, true);
          for (const { field, row, value } of changes) {
            const at = 'at' in field ? field.at : 64 + (row % rows) * 32 + field.row;
            const bits = BigInt(field.size * 8);
            const old =
              field.size === 2
                ? BigInt(view.getUint16(at, true))
                : field.size === 4
                  ? BigInt(view.getUint32(at, true))
                  : view.getBigUint64(at, true);
            const next = BigInt.asUintN(Number(bits), typeof value === 'bigint' ? value : old + value.delta);
            if (field.size === 2) view.setUint16(at, Number(next), true);
            else if (field.size === 4) view.setUint32(at, Number(next), true);
            else view.setBigUint64(at, next, true);
          }
          reseal(copy);
          const code = await loadCode(copy);
          if (code !== 'ok') {
            expect(SNAPSHOT_CODES, code).toContain(code);
            return;
          }
          // Accepted: then it must mean what the undamaged file meant (e.g. two empty sections swapped).
          expect(await observe(await fileOf(copy), base.queries)).toEqual(base.observed);
        }),
        fuzzParameters(300),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'refuses forged snapshots with valid checksums, or answers every query with well-formed matches or ERR_SNAPSHOT_FORMAT',
    async () => {
      const u32 = fc.oneof(
        fc.constantFrom(0, 1, 2, 23, 24, 25, 64, 0xffff, 0x10000, 0x7fffffff, 0xffffffff),
        fc.nat(0xffffffff),
      );
      const metaValue = fc.oneof(
        fc.constantFrom<unknown>(
          null,
          -1,
          0,
          1,
          1.5,
          2 ** 26,
          2 ** 53,
          1e308,
          '',
          'mih',
          'linear',
          'exact',
          'md5',
          'blockhash',
          [],
          {},
          [8, 8],
          Array(32).fill(8),
          Array(16).fill(16),
          { tier: 'mih', substringBits: Array(32).fill(8) },
          { tier: 'linear' },
        ),
        fc.jsonValue({ maxDepth: 2 }),
      );
      const forge = fc.oneof(
        fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
        fc.record({ op: fc.constant('repeat' as const), at: fc.nat() }),
        fc.record({ op: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
        fc.record({
          op: fc.constant('relabel' as const),
          at: fc.nat(),
          field: fc.constantFrom('kind' as const, 'algorithm' as const, 'part' as const),
          value: fc.oneof(fc.nat(15), fc.constantFrom(0xffff, 31, 32, 0xffffffff)),
        }),
        fc.record({
          op: fc.constant('bytes' as const),
          at: fc.nat(),
          edits: fc.array(mutation(), { minLength: 1, maxLength: 3 }),
        }),
        fc.record({ op: fc.constant('u32' as const), at: fc.nat(), index: fc.nat(), value: u32 }),
        fc.record({
          op: fc.constant('meta' as const),
          node: fc.nat(),
          value: fc.option(metaValue, { nil: undefined }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(baseIndex(), fc.array(forge, { minLength: 1, maxLength: 3 }), async (b, forges) => {
          const base = bases[b] as Base;
          let sections = disassemble(base.bytes);
          for (const f of forges) sections = forged(sections, f);
          const bytes = assemble(sections).bytes;
          const code = await loadCode(bytes);
          if (code !== 'ok') {
            expect(SNAPSHOT_CODES, code).toContain(code);
            return;
          }
          const queries = base.queries.filter((q) => q.algorithm !== 'sha1');
          const observed = await observe(await fileOf(bytes), queries);
          if (observed.refused !== undefined) {
            // Only the video entries are read whole at open (each unpacked into the frame index).
            expect(observed.refused).toBe('ERR_SNAPSHOT_FORMAT');
            return;
          }
          expectWellFormed(observed, queries);
          // What readSnapshot tells agrees with the matcher.
          const snapshot = await parseSnapshot(bytes);
          expect(snapshot.algorithms.reduce((n, a) => n + a.count, snapshot.videos?.count ?? 0)).toBe(observed.size);
          for (const list of snapshot.lists)
            expect(typeof list.name === 'string' && typeof list.version === 'number').toBe(true);
        }),
        fuzzParameters(300),
      );
    },
    fuzzTestTimeout(),
  );
});

type Forge =
  | { readonly op: 'drop' | 'repeat'; readonly at: number }
  | { readonly op: 'swap'; readonly at: number; readonly other: number }
  | {
      readonly op: 'relabel';
      readonly at: number;
      readonly field: 'kind' | 'algorithm' | 'part';
      readonly value: number;
    }
  | { readonly op: 'bytes'; readonly at: number; readonly edits: Parameters<typeof applyMutations>[1] }
  | { readonly op: 'u32'; readonly at: number; readonly index: number; readonly value: number }
  | { readonly op: 'meta'; readonly node: number; readonly value: unknown };

/** `sections` with one forgery applied (positions taken modulo the counts). */
function forged(sections: readonly LaidSection[], f: Forge): LaidSection[] {
  const out = [...sections];
  if (out.length === 0) return out;
  const i = f.op === 'meta' ? 0 : f.at % out.length;
  const s = out[i] as LaidSection;
  switch (f.op) {
    case 'drop':
      out.splice(i, 1);
      break;
    case 'repeat':
      out.splice(i, 0, s);
      break;
    case 'swap': {
      const j = f.other % out.length;
      out[i] = out[j] as LaidSection;
      out[j] = s;
      break;
    }
    case 'relabel':
      out[i] = { ...s, [f.field]: f.field === 'part' ? f.value >>> 0 : f.value & 0xffff };
      break;
    case 'bytes':
      out[i] = { ...s, data: applyMutations(s.data, f.edits) };
      break;
    case 'u32': {
      if (s.data.length < 4) break;
      const data = Uint8Array.from(s.data);
      viewOf(data).setUint32((f.index % Math.floor(data.length / 4)) * 4, f.value, true);
      out[i] = { ...s, data };
      break;
    }
    case 'meta': {
      const metaAt = out.findIndex((x) => x.kind === 1);
      const meta = out[metaAt];
      if (meta === undefined) break;
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(meta.data));
      } catch {
        break; // an earlier forgery broke the JSON already
      }
      out[metaAt] = { ...meta, data: new TextEncoder().encode(JSON.stringify(editJson(json, f.node, f.value)) ?? '') };
      break;
    }
  }
  return out;
}

/** `json` with its `node`-th value (depth first, modulo the count) replaced by `value`, or deleted when undefined. */
function editJson(json: unknown, node: number, value: unknown): unknown {
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach((x, k) => {
        slots.push({ parent: v, key: k });
        walk(x);
      });
    } else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        slots.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
  };
  walk(json);
  const slot = slots[node % Math.max(1, slots.length)];
  if (slot === undefined) return value ?? json;
  if (value === undefined) {
    if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
    else delete slot.parent[slot.key as string];
  } else if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else slot.parent[slot.key as string] = value;
  return json;
}

function base0(): Base {
  return bases[0] as Base;
}

describe('writeSnapshot fuzz', () => {
  it(
    'refuses bad lists and search options with argument errors, or writes what readSnapshot reads back',
    async () => {
      const anything = fc.anything({
        withNullPrototype: true,
        withBigInt: true,
        withBoxedValues: true,
        withSparseArray: true,
      });
      const list = fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record(
            {
              name: fc.oneof(fc.constantFrom('ncmec', 'internal', 'only'), anything),
              version: fc.oneof(fc.integer({ min: -1, max: 9 }), fc.constantFrom(1.5, Number.NaN, Infinity), anything),
              thresholds: fc.option(fc.oneof(fc.constant({ pdq: 24 }), fc.constant({ md5: 1 }), anything), {
                nil: undefined,
              }),
              label: fc.option(fc.oneof(fc.constantFrom('review', ''), anything), { nil: undefined }),
            },
            { requiredKeys: ['name', 'version'] },
          ),
        },
        { weight: 1, arbitrary: anything },
      );
      const search = fc.option(
        fc.oneof(
          fc.record(
            {
              tier: fc.constantFrom('auto', 'linear', 'mih', 'fast'),
              substringBits: fc.option(fc.integer({ min: 6, max: 26 }), { nil: undefined }),
            },
            { requiredKeys: [] },
          ),
          anything,
        ),
        { nil: undefined },
      );
      const entries = mixedEntries().filter((_, i) => i % 7 === 0);
      await fc.assert(
        fc.asyncProperty(
          fc.array(list, { maxLength: 4 }),
          search,
          fc.boolean(),
          async (lists, searchOption, withEntries) => {
            const path = join(dir, `written-${++written}.snap`);
            // Entries only in the lists given, else writeSnapshot refuses them for that reason alone.
            const names = new Set(
              lists.map((l) => (l !== null && typeof l === 'object' ? (l as { name?: unknown }).name : undefined)),
            );
            const chosen = withEntries ? entries.filter((e) => names.has(e.list)) : [];
            try {
              await writeSnapshot(path, {
                lists: lists as SnapshotList[],
                entries: chosen,
                ...(searchOption === undefined ? {} : { search: searchOption as never }),
              });
            } catch (error) {
              if (error instanceof HashwardenError) expect(error.code, error.message).toBe('ERR_UNKNOWN_ALGORITHM');
              else expect(isArgumentError(error), String(error)).toBe(true);
              return;
            }
            // Written: it must load, with the lists as given.
            const read = await readSnapshot(path).catch((error: unknown) => error);
            expect(read, `written, then refused: ${String(read)}`).not.toBeInstanceOf(Error);
            expect((read as Awaited<ReturnType<typeof readSnapshot>>).lists.map((l) => l.name)).toEqual(
              lists.map((l) => (l as SnapshotList).name),
            );
          },
        ),
        fuzzParameters(200),
      );
    },
    fuzzTestTimeout(),
  );

  it(
    'refuses a path that is no string, or a source that is no object, with argument errors',
    async () => {
      const anything = fc.anything({
        withNullPrototype: true,
        withBigInt: true,
        withBoxedValues: true,
        withTypedArray: true,
        withMap: true,
        withSet: true,
      });
      await fc.assert(
        fc.asyncProperty(
          anything,
          fc.oneof(anything, fc.constant({ lists: [], entries: [] })),
          async (path, source) => {
            // Arbitrary strings are no paths to write to: only the values refused before any file is touched.
            fc.pre(typeof path !== 'string' || path === '');
            for (const call of [
              () => writeSnapshot(path as string, source as never),
              () => readSnapshot(path as string),
            ]) {
              const error = await call().then(
                () => undefined,
                (e: unknown) => e,
              );
              expect(isArgumentError(error), String(error)).toBe(true);
            }
          },
        ),
        fuzzParameters(100),
      );
    },
    fuzzTestTimeout(),
  );
});
