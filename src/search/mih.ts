/**
 * Multi-index hashing: exact Hamming search that reads a small part of the list, after Norouzi,
 * Punjani & Fleet, "Fast Search in Hamming Space with Multi-Index Hashing" (CVPR 2012): the 256
 * bits are cut into substrings, each with a table from its value to the entries holding it, and
 * an entry within t of the query is found through a substring within a small radius (the paper's
 * tighter pigeonhole rule), then verified exactly; a cost guard hands queries that would read too
 * much to the linear scan. The derivation, the table layout and the guard are explained in
 * docs/algorithms.md (*Multi-index hashing*); the tier choice is in tier.ts.
 */
import { HashwardenError } from '../errors.js';
import { invalid, optionsObject, positiveNumber } from '../validate.js';
import { LinearIndex, validThreshold, type SearchHit } from './linear.js';
import { defaultSubstringBits, MAX_SUBSTRING_BITS, substringWidths, validSubstringBits } from './tier.js';

const BITS = 256;
const HASH_BYTES = 32;
const HALF_BYTES = 16;

/**
 * Most keys probed in one table per query; a threshold that needs more (t ≥ 98 at 1M hashes,
 * t ≥ 72 at 10M) is answered by the scan. With the default guard this never binds below ~20M
 * hashes (m × 65,536 probes > N/32 already); it bounds the enumeration when the guard is off, and
 * the cached flip masks at 256 KiB a width.
 */
export const MAX_PROBES_PER_TABLE = 1 << 16;

/**
 * Default `guardFraction`: the scan answers when probes + candidates exceed N/32, the break-even
 * point measured by the calibration table of bench/search.bench.ts (each probe or candidate is a
 * random read worth about 30 hashes of the scan's streaming read; figures in docs/benchmark.md).
 */
export const DEFAULT_GUARD_FRACTION = 1 / 32;

// ---------------------------------------------------------------------------------------------
// Validation

function validLinear(linear: unknown): LinearIndex {
  if (!(linear instanceof LinearIndex)) invalid('LinearIndex', 'linear', linear);
  if (linear.bits !== BITS) invalid(`LinearIndex of ${BITS}-bit hashes`, 'linear.bits', linear.bits, true);
  return linear;
}

function validQuery(query: unknown): Uint8Array {
  if (!(query instanceof Uint8Array)) invalid(`Uint8Array of ${HASH_BYTES} bytes`, 'query', query);
  if (query.length !== HASH_BYTES)
    throw new RangeError(`Expected Uint8Array of ${HASH_BYTES} bytes for query but received ${query.length} bytes`);
  return query;
}

/** Options of {@link MihIndex}. */
export interface MihOptions {
  /**
   * Target substring width in bits, 8–24: the hash is cut into m = ⌈256 / substringBits⌉
   * substrings of ⌊256/m⌋ or ⌈256/m⌉ bits, so no substring is wider than this.
   * Default: {@link defaultSubstringBits} of the list size.
   */
  readonly substringBits?: number;
  /**
   * The cost guard: a query whose probes plus candidates exceed `guardFraction × N` is answered
   * by the linear scan. `Infinity` turns the guard off (MIH whenever the radius allows).
   * Default: {@link DEFAULT_GUARD_FRACTION} (1/32).
   */
  readonly guardFraction?: number;
}

interface ResolvedOptions {
  readonly guardFraction: number;
}

function resolveGuard(options: MihOptions | undefined): ResolvedOptions {
  const o = optionsObject(options, 'options');
  return Object.freeze({
    guardFraction:
      o.guardFraction === undefined
        ? DEFAULT_GUARD_FRACTION
        : positiveNumber(o.guardFraction, Infinity, 'options.guardFraction'),
  });
}

// ---------------------------------------------------------------------------------------------
// Substrings, keys and flip masks

/**
 * Bits `start .. start + width − 1` of the hash at byte `base` of `bytes`, as an integer. Four
 * bytes always cover them (start mod 8 ≤ 7, width ≤ 24); what the fourth byte holds past the
 * substring (even past the hash: the next hash, or nothing at the end) is shifted out.
 */
export function keyAt(bytes: Uint8Array, base: number, start: number, width: number): number {
  const at = base + (start >>> 3);
  const word =
    (((bytes[at] ?? 0) << 24) | ((bytes[at + 1] ?? 0) << 16) | ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0)) >>>
    0;
  return (word >>> (32 - (start & 7) - width)) & ((1 << width) - 1);
}

/**
 * Widest table sorted in one pass: 2^20 buckets (4 MB of offsets). Wider ones (the 2^24 buckets of
 * 10M entries: 64 MB) are partitioned by their keys' high bits first, so that the counting sort
 * works in windows of 2^16 buckets (256 KB) that stay in cache; at 20 bits and below the extra
 * pass and its scratch memory cost more than the misses they save (docs/benchmark.md).
 */
const ONE_PASS_BITS = 20;

/** Buckets a partition of a wide table spans: 2^16. */
const WINDOW_BITS = 16;

/**
 * Counting sort of `n` keys into `table` (2^width + 1 zeros: on return each bucket's start, the
 * last slot n) and `positions` (each key's entry, `from[k]` or k itself, by bucket). Bucket
 * sizes go one slot up (table[key + 1]), so the prefix sums leave each bucket's start at
 * table[key]; placing advances table[key] to the bucket's end, which is the next bucket's
 * start, and one shift restores the starts. Keys are placed in the order given, so a bucket
 * lists its positions ascending when `from` is ascending within each key.
 */
function bucketSort(
  keys: Uint32Array,
  n: number,
  table: Uint32Array,
  positions: Uint32Array,
  from?: Uint32Array,
): void {
  for (let i = 0; i < n; i++) {
    const slot = (keys[i] as number) + 1;
    table[slot] = (table[slot] as number) + 1;
  }
  for (let k = 1; k < table.length; k++) table[k] = (table[k] as number) + (table[k - 1] as number);
  for (let i = 0; i < n; i++) {
    const key = keys[i] as number;
    const at = table[key] as number;
    positions[at] = from === undefined ? i : (from[i] as number);
    table[key] = at + 1;
  }
  table.copyWithin(1, 0, table.length - 1);
  table[0] = 0;
}

/** One table of a multi-index: each bucket's start (2^width + 1 of them) and the positions by bucket. */
export interface MihTable {
  readonly offsets: Uint32Array;
  readonly ids: Uint32Array;
}

/**
 * The tables {@link MihIndex.build} makes over `linear` for substrings of `widths`, one at a time,
 * so that a writer can store each while the next is built (`hashwarden export`). Internal.
 */
export function* mihTables(linear: LinearIndex, widths: readonly number[]): Generator<MihTable, void, undefined> {
  const n = linear.count;
  const starts = widths.map((_, j) => widths.slice(0, j).reduce((sum, w) => sum + w, 0));
  // Keys straight from the planes, one table at a time: the counting sort's scattered writes
  // then stay within one table's offsets and ids (8 MB at 1M, 20 bits) instead of all m tables
  // at once, several times faster (docs/benchmark.md).
  const keys = new Uint32Array(n);
  // A table wider than ONE_PASS_BITS is sorted in two passes, through scratch arrays shared by
  // the tables.
  const wide = widths.some((w) => w > ONE_PASS_BITS);
  const scratch = wide ? { keys: new Uint32Array(n), positions: new Uint32Array(n) } : undefined;
  for (const [j, width] of widths.entries()) {
    // Views taken again for each table: the caller may grow the index's memory between two.
    const { a, b } = linear.planes();
    keysFromPlanes(a, b, n, starts[j] as number, width, keys);
    const table = new Uint32Array(2 ** width + 1);
    const positions = new Uint32Array(n);
    if (scratch === undefined || width <= ONE_PASS_BITS) bucketSort(keys, n, table, positions);
    else {
      // Partitioned by the key's high bits first (a few hundred write streams), the keys then
      // reach the table in order of their high bits: each partition's counts and placements
      // stay within a WINDOW_BITS window of the table and one range of positions, in cache,
      // where one pass over a table of 2^24 buckets (64 MB) missed the cache and the address
      // translation at almost every key.
      const high = width - WINDOW_BITS;
      const partitions = new Uint32Array((1 << high) + 1);
      for (let i = 0; i < n; i++) {
        const p = ((keys[i] as number) >>> WINDOW_BITS) + 1;
        partitions[p] = (partitions[p] as number) + 1;
      }
      for (let p = 1; p < partitions.length; p++)
        partitions[p] = (partitions[p] as number) + (partitions[p - 1] as number);
      for (let i = 0; i < n; i++) {
        const key = keys[i] as number;
        const p = key >>> WINDOW_BITS;
        const at = partitions[p] as number;
        scratch.keys[at] = key;
        scratch.positions[at] = i;
        partitions[p] = at + 1;
      }
      bucketSort(scratch.keys, n, table, positions, scratch.positions);
    }
    yield { offsets: table, ids: positions };
  }
}

/**
 * The key of substring `start`/`width` for each of `n` hashes stored as planes (bytes 0–15 in
 * `a`, 16–31 in `b`, 16 bytes a hash), into `keys`. A substring inside one plane is read with
 * `keyAt` on that plane (16-byte stride); one that straddles byte 16 takes its four bytes from
 * both.
 */
function keysFromPlanes(
  a: Uint8Array,
  b: Uint8Array,
  n: number,
  start: number,
  width: number,
  keys: Uint32Array,
): void {
  const first = start >>> 3;
  if (first + 4 <= HALF_BYTES || first >= HALF_BYTES) {
    const plane = first < HALF_BYTES ? a : b;
    const from = first < HALF_BYTES ? start : start - 8 * HALF_BYTES;
    for (let i = 0, at = 0; i < n; i++, at += HALF_BYTES) keys[i] = keyAt(plane, at, from, width);
    return;
  }
  const shift = 32 - (start & 7) - width;
  const mask = (1 << width) - 1;
  for (let i = 0, at = 0; i < n; i++, at += HALF_BYTES) {
    let word = 0;
    for (let k = first; k < first + 4; k++)
      word = (word << 8) | ((k < HALF_BYTES ? a[at + k] : b[at + k - HALF_BYTES]) as number);
    keys[i] = ((word >>> 0) >>> shift) & mask;
  }
}

/** BINOMIAL_SUMS[w][r] = C(w, 0) + … + C(w, r): keys within radius r of a w-bit key. */
const BINOMIAL_SUMS: readonly (readonly number[])[] = Array.from({ length: MAX_SUBSTRING_BITS + 1 }, (_, w) => {
  const sums: number[] = [];
  let c = 1;
  let sum = 0;
  for (let r = 0; r <= w; r++) {
    sum += c;
    sums.push(sum);
    c = (c * (w - r)) / (r + 1);
  }
  return sums;
});

/** Keys within `radius` of a `width`-bit key; 0 for a negative radius (the table is skipped). */
export function probesAt(width: number, radius: number): number {
  if (radius < 0) return 0;
  const sums = BINOMIAL_SUMS[width] as readonly number[];
  return sums[Math.min(radius, width)] as number;
}

/**
 * Per width, every mask of at most some number of bits, ordered by bit count, so the masks of any
 * smaller radius are a prefix: probing radius r reads the first probesAt(width, r) of them. Shared
 * by all indexes and grown to the largest radius asked for, never past MAX_PROBES_PER_TABLE masks.
 */
const MASKS: (Int32Array | undefined)[] = [];

export function masksFor(width: number, radius: number): Int32Array {
  const needed = probesAt(width, radius);
  const cached = MASKS[width];
  if (cached !== undefined && cached.length >= needed) return cached;
  const masks = new Int32Array(needed);
  let n = 0;
  const end = 2 ** width;
  for (let bits = 0; bits <= Math.min(radius, width); bits++) {
    if (bits === 0) {
      masks[n++] = 0;
      continue;
    }
    // Gosper's hack: the next larger integer with the same number of set bits.
    for (let v = (1 << bits) - 1; v < end; ) {
      masks[n++] = v;
      const low = v & -v;
      const ripple = v + low;
      v = (((ripple ^ v) >>> 2) >>> (31 - Math.clz32(low))) | ripple;
    }
  }
  MASKS[width] = masks;
  return masks;
}

// ---------------------------------------------------------------------------------------------

/** What {@link MihIndex.search} would do for a query, as {@link MihIndex.plan} reports it. */
export interface MihPlan {
  /** Keys looked up, over all tables (computed from the radii; counted whether or not used). */
  readonly probes: number;
  /**
   * Entries in the probed buckets, duplicates included (an entry can be found in several
   * tables). 0 when the radius is beyond what the tables are ever probed for (the scan answers).
   */
  readonly candidates: number;
  /** True when the search scans linearly: radius beyond the probe limit, or over the guard. */
  readonly linear: boolean;
}

/** Tables handed from `fromTables` to the constructor. */
interface Tables {
  readonly widths: readonly number[];
  readonly offsets: Uint32Array[];
  readonly ids: Uint32Array[];
}

/** True when `values` never decreases (`MihIndex.fromTables`; the snapshot reader checks its own, in place). */
function ascending(values: Uint32Array): boolean {
  let previous = 0;
  for (let k = 0; k < values.length; k++) {
    const v = values[k] as number;
    if (v < previous) return false;
    previous = v;
  }
  return true;
}

function maxOf(values: Uint32Array): number {
  let max = 0;
  for (let k = 0; k < values.length; k++) {
    const v = values[k] as number;
    if (v > max) max = v;
  }
  return max;
}

/**
 * True when `offsets` can be one table's bucket starts for `count` entries: from 0 to `count`,
 * never decreasing. With {@link mihIdsValid}, enough for every read of a search to stay inside the
 * arrays and the hashes. (For readers that check sections as they arrive, e.g. snapshots.)
 */
export function mihOffsetsValid(offsets: Uint32Array, count: number): boolean {
  return offsets.length > 0 && offsets[0] === 0 && offsets[offsets.length - 1] === count && ascending(offsets);
}

/** True when every id of a table is a position below `count`. */
function mihIdsValid(ids: Uint32Array, count: number): boolean {
  return ids.length === 0 || maxOf(ids) < count;
}

/** Set by the class's static block: the constructor, for {@link mihFromCheckedTables}. */
let construct: (linear: LinearIndex, tables: Tables, options: ResolvedOptions) => MihIndex;

/**
 * Internal (not exported by the package): an index over tables whose sizes the caller has fixed and
 * whose offsets it has checked with {@link mihOffsetsValid} — the snapshot reader, which checks
 * each section while the next one is being read. Ids are not scanned (a snapshot's checksums vouch
 * for them): an id beyond the hashes fails the query that meets it with `ERR_SNAPSHOT_FORMAT`,
 * since the verify step checks every candidate before reading its hash.
 */
export function mihFromCheckedTables(
  linear: LinearIndex,
  widths: readonly number[],
  offsets: Uint32Array[],
  ids: Uint32Array[],
): MihIndex {
  return construct(linear, { widths, offsets, ids }, resolveGuard(undefined));
}

/**
 * Up to this many hits are put in position order by sorting the hit objects; more (a clustered
 * list) by a radix sort of their positions and a second, ordered verify.
 */
const SORT_HITS_IN_PLACE = 1024;

/**
 * Candidates beyond N / 256 are sorted and deduplicated before they are verified: there the
 * candidates come from clusters, each entry found by many tables, and verifying repeats cost more
 * than the sort. Below, candidates are verified as gathered.
 */
const DEDUPE_FIRST_ABOVE = 256;

/** Returned by the enumeration when the scan must answer. */
const SCAN = -1;

/**
 * Exact Hamming search over a {@link LinearIndex} by multi-index hashing, with a cost guard that
 * answers from the linear scan whenever that is cheaper. Results equal `linear.search` exactly:
 * the same hits, ascending by position.
 *
 * @example
 * ```ts
 * const linear = LinearIndex.fromHashes(hashes, 256);
 * const index = MihIndex.build(linear);           // substring width from N, guard N/32
 * index.search(query, 31);                        // [{ index: 4711, distance: 12 }]
 * index.plan(query, 31);                          // e.g. { probes: 1409, candidates: 1392, linear: false } at 1M
 * ```
 */
export class MihIndex {
  /** The hashes, and the scan for queries the tables would answer slowly. */
  readonly linear: LinearIndex;
  /** Number of substrings (tables). */
  readonly m: number;
  /** Width in bits of each substring, in order; they sum to 256. */
  readonly substringBits: readonly number[];
  /** The cost guard in force (see {@link MihOptions.guardFraction}). */
  readonly guardFraction: number;
  readonly #starts: Int32Array;
  readonly #offsets: Uint32Array[];
  readonly #ids: Uint32Array[];
  /** guardFraction × N: the most probes + candidates a query may cost before the scan answers. */
  readonly #budget: number;
  /** Reused across queries; grows to the largest candidate count seen (at most the budget). */
  #candidates = new Uint32Array(256);
  /** The radix sort's other buffer and its counts; grown with #candidates. */
  #sorted = new Uint32Array(256);
  readonly #counts: Uint32Array;
  /** Radix sort: passes of #radixBits bits cover every position below N. */
  readonly #radixBits: number;
  readonly #radixPasses: number;
  /** Per probe of one table, the start and end of its bucket (two-phase enumeration). */
  #ranges = new Uint32Array(512);
  /** Probes of the last enumeration, for `plan`. */
  #probes = 0;

  static {
    construct = (linear, tables, options) => new MihIndex(linear, tables, options);
  }

  private constructor(linear: LinearIndex, tables: Tables, options: ResolvedOptions) {
    this.linear = linear;
    this.substringBits = Object.freeze([...tables.widths]);
    this.m = tables.widths.length;
    this.#starts = new Int32Array(this.m);
    for (let j = 1; j < this.m; j++)
      this.#starts[j] = (this.#starts[j - 1] as number) + (tables.widths[j - 1] as number);
    this.#offsets = tables.offsets;
    this.#ids = tables.ids;
    this.guardFraction = options.guardFraction;
    this.#budget = options.guardFraction * linear.count;
    // Fewest passes of at most 13 bits (8,192 counts, 32 KiB) that cover log2 N bits: two passes
    // up to 2^26 hashes.
    const positionBits = Math.max(1, Math.ceil(Math.log2(Math.max(2, linear.count))));
    this.#radixPasses = Math.ceil(positionBits / 13);
    this.#radixBits = Math.ceil(positionBits / this.#radixPasses);
    this.#counts = new Uint32Array(1 << this.#radixBits);
  }

  /**
   * Sorts #candidates[0..n) ascending (LSD radix sort, #radixPasses passes through #sorted) and
   * returns the array now holding them (#candidates or #sorted: the buffers swap).
   */
  #sortCandidates(n: number): Uint32Array {
    let from = this.#candidates;
    let to = this.#sorted;
    if (to.length < from.length) to = this.#sorted = new Uint32Array(from.length);
    const counts = this.#counts;
    const mask = counts.length - 1;
    for (let pass = 0, shift = 0; pass < this.#radixPasses; pass++, shift += this.#radixBits) {
      counts.fill(0);
      for (let i = 0; i < n; i++) {
        const digit = ((from[i] as number) >>> shift) & mask;
        counts[digit] = (counts[digit] as number) + 1;
      }
      for (let k = 0, sum = 0; k <= mask; k++) {
        const c = counts[k] as number;
        counts[k] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const value = from[i] as number;
        const digit = (value >>> shift) & mask;
        const at = counts[digit] as number;
        to[at] = value;
        counts[digit] = at + 1;
      }
      const swap = from;
      from = to;
      to = swap;
    }
    // Both stay owned: whichever holds the result is gathered into next time.
    this.#candidates = from;
    this.#sorted = to;
    return from;
  }

  /**
   * Builds the tables for the hashes of `linear` (which the index keeps and searches with): per
   * table a counting sort (count the keys, then place every position), no per-bucket arrays.
   * Memory: 4 × N bytes of ids plus 4 × (2^width + 1) bytes of offsets per table (75 bytes an
   * entry at 1M with the default width), and during the build 4 × N bytes of keys.
   *
   * @param options - `substringBits` (default: {@link defaultSubstringBits} of N),
   *   `guardFraction` (default 1/32).
   * @example
   * ```ts
   * const index = MihIndex.build(LinearIndex.fromHashes(hashes, 256), { substringBits: 16 });
   * index.m; // 16
   * ```
   */
  static build(linear: LinearIndex, options?: MihOptions): MihIndex {
    validLinear(linear);
    const o = optionsObject(options, 'options');
    const target =
      o.substringBits === undefined
        ? defaultSubstringBits(linear.count)
        : validSubstringBits(o.substringBits, 'options.substringBits');
    const resolved = resolveGuard(options);
    const widths = substringWidths(target);
    const offsets: Uint32Array[] = [];
    const ids: Uint32Array[] = [];
    for (const table of mihTables(linear, widths)) {
      offsets.push(table.offsets);
      ids.push(table.ids);
    }
    return new MihIndex(linear, { widths, offsets, ids }, resolved);
  }

  /**
   * An index over tables as {@link MihIndex.tables} returns them (e.g. read from a snapshot),
   * without rebuilding. The arrays are used as given, not copied: do not change them. Their
   * shape is checked (lengths, offsets ascending from 0 to N, ids below N); that they match the
   * hashes is the snapshot's checksums' business.
   *
   * @param substringBits - Width of each substring, 8–24 each, summing to 256.
   * @param options - `guardFraction` (default 1/32).
   * @example
   * ```ts
   * const { offsets, ids } = index.tables();
   * const same = MihIndex.fromTables(index.linear, index.substringBits, offsets, ids);
   * ```
   */
  static fromTables(
    linear: LinearIndex,
    substringBits: readonly number[],
    offsets: Uint32Array[],
    ids: Uint32Array[],
    options?: Pick<MihOptions, 'guardFraction'>,
  ): MihIndex {
    validLinear(linear);
    const resolved = resolveGuard(options);
    if (!Array.isArray(substringBits)) invalid('array of substring widths', 'substringBits', substringBits);
    const widths = substringBits.map((w, j) => validSubstringBits(w, `substringBits[${j}]`));
    const total = widths.reduce((sum, w) => sum + w, 0);
    if (total !== BITS)
      throw new RangeError(
        `Expected substring widths summing to ${BITS} for substringBits but received widths summing to ${total}`,
      );
    const m = widths.length;
    if (!Array.isArray(offsets)) invalid('array of Uint32Array', 'offsets', offsets);
    if (!Array.isArray(ids)) invalid('array of Uint32Array', 'ids', ids);
    if (offsets.length !== m) throw new RangeError(`Expected ${m} tables for offsets but received ${offsets.length}`);
    if (ids.length !== m) throw new RangeError(`Expected ${m} tables for ids but received ${ids.length}`);
    const n = linear.count;
    for (let j = 0; j < m; j++) {
      const off: unknown = offsets[j];
      const table: unknown = ids[j];
      const size = 2 ** (widths[j] as number) + 1;
      if (!(off instanceof Uint32Array)) invalid('Uint32Array', `offsets[${j}]`, off);
      if (!(table instanceof Uint32Array)) invalid('Uint32Array', `ids[${j}]`, table);
      if (off.length !== size)
        throw new RangeError(`Expected Uint32Array of ${size} offsets for offsets[${j}] but received ${off.length}`);
      if (table.length !== n)
        throw new RangeError(`Expected Uint32Array of ${n} ids for ids[${j}] but received ${table.length}`);
      // Enough for every read to stay inside the arrays and within the hashes; a search never
      // trusts more than that.
      if (!mihOffsetsValid(off, n)) throw new RangeError(`Expected offsets ascending from 0 to ${n} for offsets[${j}]`);
      if (!mihIdsValid(table, n))
        throw new RangeError(`Expected ids below ${n} for ids[${j}] but received ${maxOf(table)}`);
    }
    return new MihIndex(linear, { widths, offsets, ids }, resolved);
  }

  /**
   * The tables, as the arrays the index searches (not copies), for writing a snapshot: per
   * substring, `offsets` (2^width + 1 bucket starts) and `ids` (N positions grouped by key).
   *
   * @example
   * ```ts
   * const { offsets, ids } = index.tables();
   * offsets.forEach((o, part) => writeSection(MIH_OFFSETS, part, o));
   * ```
   */
  tables(): { offsets: Uint32Array[]; ids: Uint32Array[] } {
    return { offsets: [...this.#offsets], ids: [...this.#ids] };
  }

  /**
   * The stored hash at position `index`, as a new 32-byte array (from the linear index).
   *
   * @example
   * ```ts
   * const hex = formatHex(mih.hashAt(hit.index));
   * ```
   */
  hashAt(index: number): Uint8Array {
    return this.linear.hashAt(index);
  }

  /**
   * Every stored hash within `threshold` bits (0–256) of `query` (32 bytes), ascending by
   * position — exactly what `linear.search` returns, found through the tables when they are the
   * cheaper way and by the scan otherwise.
   *
   * @example
   * ```ts
   * for (const { index, distance } of mih.search(query, 31)) report(index, distance);
   * ```
   */
  search(query: Uint8Array, threshold: number): SearchHit[] {
    validQuery(query);
    validThreshold(threshold);
    const found = this.#enumerate(query, threshold, this.#budget, true);
    if (found === SCAN) return this.linear.search(query, threshold);
    // Verify the candidates as gathered: duplicates (an entry near the query is found in several
    // tables) and all. Far entries, nearly all candidates, are rarely found twice, so sorting and
    // deduplicating the hits afterwards is cheaper than doing it to every candidate first
    // (docs/benchmark.md). A sorted order buys no locality at that density: candidates lie
    // kilobytes apart.
    // Many candidates (beyond N/256: a clustered list, where an entry near the query is found by
    // most tables) are deduplicated first, so each is verified once.
    if (found > this.linear.count / DEDUPE_FIRST_ABOVE) return this.#sortedSearch(found, query, threshold);
    const hits: SearchHit[] = [];
    this.#verify(this.#candidates, found, query, threshold, hits);
    if (hits.length <= 1) return hits;
    if (hits.length <= SORT_HITS_IN_PLACE) {
      hits.sort((x, y) => x.index - y.index);
      let unique = 1;
      for (let h = 1; h < hits.length; h++) {
        const hit = hits[h] as SearchHit;
        if (hit.index !== (hits[unique - 1] as SearchHit).index) hits[unique++] = hit;
      }
      hits.length = unique;
      return hits;
    }
    // Many hits (a clustered list): radix-sort their positions, keep each once, verify those again
    // (in order, so the hits come out as the scan returns them).
    const positions = this.#candidates;
    for (let h = 0; h < hits.length; h++) positions[h] = (hits[h] as SearchHit).index;
    return this.#sortedSearch(hits.length, query, threshold);
  }

  /** Sorts the first `n` candidates, drops repeats and verifies them: hits in position order. */
  #sortedSearch(n: number, query: Uint8Array, threshold: number): SearchHit[] {
    const candidates = this.#sortCandidates(n);
    let unique = 0;
    let last = -1;
    for (let c = 0; c < n; c++) {
      const position = candidates[c] as number;
      if (position !== last) candidates[unique++] = position;
      last = position;
    }
    const hits: SearchHit[] = [];
    this.#verify(candidates, unique, query, threshold, hits);
    return hits;
  }

  #verify(candidates: Uint32Array, n: number, query: Uint8Array, threshold: number, hits: SearchHit[]): void {
    try {
      this.linear.verify(candidates, n, query, threshold, hits);
    } catch (error) {
      // Only tables taken unchecked (a snapshot's, whose checksums held) can get here.
      if (error instanceof RangeError)
        throw new HashwardenError(
          'ERR_SNAPSHOT_FORMAT',
          `Multi-index tables name an entry beyond the ${this.linear.count} hashes: they do not belong to this list`,
          { cause: error },
        );
      throw error;
    }
  }

  /**
   * What {@link MihIndex.search} would do for this query, without verifying anything: the keys
   * it looks up, the entries in those buckets, and whether it answers by the linear scan.
   *
   * @example
   * ```ts
   * const { probes, candidates, linear } = index.plan(nearBlankHash, 31);
   * if (linear) console.log(`guarded: ${probes + candidates} > N/32`);
   * ```
   */
  plan(query: Uint8Array, threshold: number): MihPlan {
    validQuery(query);
    validThreshold(threshold);
    const counted = this.#enumerate(query, threshold, Infinity, false);
    const candidates = counted === SCAN ? 0 : counted;
    return { probes: this.#probes, candidates, linear: counted === SCAN || this.#probes + candidates > this.#budget };
  }

  /**
   * Walks the buckets within the radii of the query's keys and returns how many entries they
   * hold (copied into #candidates when `gather`), or SCAN as soon as probes + entries exceed
   * `limit` or a radius is beyond MAX_PROBES_PER_TABLE. Sets #probes.
   */
  #enumerate(query: Uint8Array, threshold: number, limit: number, gather: boolean): number {
    const m = this.m;
    const widths = this.substringBits;
    const s = Math.floor(threshold / m);
    const a = threshold - s * m;
    let probes = 0;
    let beyond = false;
    for (let j = 0; j < m; j++) {
      const count = probesAt(widths[j] as number, j <= a ? s : s - 1);
      beyond ||= count > MAX_PROBES_PER_TABLE;
      probes += count;
    }
    this.#probes = probes;
    // The number of probes is known before any is made, so a query that could never pass the
    // guard costs no table read at all.
    if (beyond || probes > limit) return SCAN;
    const room = limit - probes;
    let found = 0;
    for (let j = 0; j < m; j++) {
      const width = widths[j] as number;
      const radius = j <= a ? s : s - 1;
      if (radius < 0) break; // the tables after a are all at radius s − 1
      const count = probesAt(width, radius);
      const masks = masksFor(width, radius);
      const offsets = this.#offsets[j] as Uint32Array;
      const key = keyAt(query, 0, this.#starts[j] as number, width);
      // Two phases: first every bucket's bounds, then the entries. The offset reads of the first
      // phase do not depend on each other and no branch waits on them, so the processor keeps
      // many cache misses in flight; interleaved with the copying they came one at a time
      // (docs/benchmark.md).
      let ranges = this.#ranges;
      if (ranges.length < 2 * count) ranges = this.#ranges = new Uint32Array(2 * count);
      let size = 0;
      for (let p = 0, r = 0; p < count; p++, r += 2) {
        const bucket = key ^ (masks[p] as number);
        const from = offsets[bucket] as number;
        const to = offsets[bucket + 1] as number;
        ranges[r] = from;
        ranges[r + 1] = to;
        size += to - from;
      }
      if (found + size > room) return SCAN;
      if (gather) {
        let candidates = this.#candidates;
        // Room for 3 more: a small bucket is copied as 4 ids (below).
        if (found + size + 3 > candidates.length) {
          const grown = new Uint32Array(Math.max(found + size + 3, 2 * candidates.length));
          grown.set(candidates.subarray(0, found));
          candidates = this.#candidates = grown;
        }
        const ids = this.#ids[j] as Uint32Array;
        const last = ids.length - 4;
        for (let r = 0; r < 2 * count; r += 2) {
          const from = ranges[r] as number;
          const entries = (ranges[r + 1] as number) - from;
          if (entries <= 4 && from <= last) {
            // Most buckets hold 0–4 entries. Copying 4 whatever the size (the extra ones are
            // overwritten or past the end) leaves no branch that depends on the bucket's size,
            // so the reads of many buckets overlap: 30% off the query at 10M, t = 31.
            candidates[found] = ids[from] as number;
            candidates[found + 1] = ids[from + 1] as number;
            candidates[found + 2] = ids[from + 2] as number;
            candidates[found + 3] = ids[from + 3] as number;
            found += entries;
          } else {
            for (let k = from; k < from + entries; k++) candidates[found++] = ids[k] as number;
          }
        }
      } else {
        found += size;
      }
    }
    return found;
  }
}
