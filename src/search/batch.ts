/**
 * The batch kernel of a rescan: many queries (every hash each recorded upload searched) against one
 * set of entries (those a list import just added), returning only the hits as typed arrays.
 *
 * The entries get multi-index hashing tables (mih.ts's tables and radius rule) laid out for
 * throughput rather than one query's latency (batch.wat): beside each table's ids, in bucket order,
 * the half of each hash that the table's substring is not in, so a bucket's candidates are filtered
 * by reading on rather than by a random read each; one WebAssembly call probes one table for a
 * chunk of queries, sorted by that table's key when the table outgrows the cache. A query near a
 * cluster of entries is answered by the linear index's scan, and very small entry sets are scanned
 * outright. Exact at every threshold (docs/algorithms.md, *The rescan's batch kernel*): a pair
 * within the threshold shares a substring within the probed radius (the pigeonhole rule), a
 * partial distance never exceeds the whole, every hit's distance is computed in full, and an entry
 * found through several tables is reported once.
 */
import { integerInRange, invalid, optionsObject, positiveNumber } from '../validate.js';
import { LazyWasm, type WasmMemory } from '../wasm.js';
import { BATCH_WASM_BASE64 } from './batch-wasm.js';
import { LinearIndex, validThreshold } from './linear.js';
import { keyAt, masksFor, MAX_PROBES_PER_TABLE, mihTables, probesAt } from './mih.js';
import { substringWidths, validSubstringBits } from './tier.js';

const HASH_BYTES = 32;

/**
 * Most entries one index takes: 2^22 (4M). Each costs about 350 bytes in the kernel's memory (16
 * tables of 20 bytes, the hash, the output room), 1.5 GB at this size, and a WebAssembly memory
 * cannot pass 4 GB; a caller with more new entries splits them over several indexes.
 */
export const MAX_BATCH_ENTRIES = 2 ** 22;

/** Default table width: see {@link defaultBatchSubstringBits}. */
const BATCH_SUBSTRING_BITS = 16;

/**
 * Entry sets smaller than this are scanned for every query instead of indexed: the scan then
 * reads no more hashes than t = 31 makes probes (272) and candidates, and streams them. The exact
 * crossover was not measured.
 */
export const BATCH_SCAN_BELOW = 512;

/**
 * Default `guardFraction`: a query whose probes plus candidates exceed count / 8 is answered by the
 * scan. A probe or candidate is a random read worth several hashes of the scan's streaming read, so
 * past this point (a query near a cluster of entries) the scan is the cheaper way. The value is
 * reasoned, not measured (mih.ts's measured break-even, N/32, is for one query's random reads; a
 * batch reads buckets in order). Exactness does not depend on it.
 */
export const BATCH_GUARD_FRACTION = 1 / 8;

/**
 * Hits of {@link searchBatch}, as parallel typed arrays that grow as needed and are reused from
 * one call to the next: hit k is query `queries[k]` (its index in the batch) matching entry
 * `entries[k]` (its position in the index) at `distances[k]` bits. Hits are ordered by query,
 * then by entry; only the first `length` are valid.
 */
export class BatchHits {
  /** Number of valid hits. */
  length = 0;
  /** Query index (position in the batch) of each hit. */
  queries: Uint32Array;
  /** Entry position (in the index) of each hit. */
  entries: Uint32Array;
  /** Hamming distance of each hit, 0–256. */
  distances: Uint16Array;

  /**
   * An empty buffer with room for `capacity` hits before it grows.
   *
   * @example
   * ```ts
   * const hits = new BatchHits();
   * searchBatch(index, queries, 31, hits);
   * for (let k = 0; k < hits.length; k++) emit(hits.queries[k], hits.entries[k], hits.distances[k]);
   * ```
   */
  constructor(capacity = 1024) {
    integerInRange(capacity, 1, 2 ** 30, 'capacity');
    this.queries = new Uint32Array(capacity);
    this.entries = new Uint32Array(capacity);
    this.distances = new Uint16Array(capacity);
  }

  /** Appends one hit, growing the arrays when full. */
  push(query: number, entry: number, distance: number): void {
    if (this.length === this.queries.length) this.#grow();
    const k = this.length++;
    this.queries[k] = query;
    this.entries[k] = entry;
    this.distances[k] = distance;
  }

  #grow(): void {
    const capacity = this.queries.length * 2;
    const queries = new Uint32Array(capacity);
    const entries = new Uint32Array(capacity);
    const distances = new Uint16Array(capacity);
    queries.set(this.queries);
    entries.set(this.entries);
    distances.set(this.distances);
    this.queries = queries;
    this.entries = entries;
    this.distances = distances;
  }
}

/** Options of {@link BatchIndex}. */
export interface BatchIndexOptions {
  /**
   * Target substring width of the tables, 8–24 bits (see `MihOptions.substringBits`), or 0 to scan
   * every query without tables. Default: {@link defaultBatchSubstringBits} of the entry count.
   */
  readonly substringBits?: number;
  /**
   * The cost guard: a query whose probes plus candidates exceed `guardFraction × count` is answered
   * by the scan; `Infinity` turns it off. Default: {@link BATCH_GUARD_FRACTION} (1/8).
   */
  readonly guardFraction?: number;
}

/**
 * Substring width for `count` entries. 16 bits (16 tables probed at radius 1 for t = 31) was the
 * fastest of the widths bench/rescan-kernel.bench.ts swept (12–18 at 10k entries, 14–20 at 1M): its
 * few probes each read on through a bucket's halves, which costs little. 0 (scan) below
 * {@link BATCH_SCAN_BELOW}.
 *
 * @example
 * ```ts
 * defaultBatchSubstringBits(10_000); // 16
 * ```
 */
export function defaultBatchSubstringBits(count: number): number {
  integerInRange(count, 0, 2 ** 32 - 1, 'count');
  return count < BATCH_SCAN_BELOW ? 0 : BATCH_SUBSTRING_BITS;
}

/** The exports of batch.wat. */
interface BatchExports {
  probe(
    bit: number,
    width: number,
    nprobe: number,
    masks: number,
    offsets: number,
    ids: number,
    halves: number,
    halfAt: number,
    occupied: number,
    near: number,
    words: number,
    queries: number,
    order: number,
    n: number,
    threshold: number,
    work: number,
    budget: number,
    out: number,
    cap: number,
    reserve: number,
    count: number,
  ): number;
}

/** The batch module, compiled on first use and shared by every index. */
const BATCH = new LazyWasm(BATCH_WASM_BASE64);

const WASM_PAGE = 65536;
/** A shared memory must name its largest size: 4 GiB, all a 32-bit WebAssembly memory addresses (only reserved, not used). */
const MAX_PAGES = 65536;

/**
 * An index's tables as another thread takes them ({@link BatchIndex.share}, {@link BatchIndex.attach}).
 */
export interface SharedBatchIndex {
  readonly memory: WasmMemory;
  readonly layout: Layout;
  readonly substringBits: readonly number[];
  readonly count: number;
}
/**
 * Queries searched together, table by table (2 MiB of them): enough that, sorted by a table's key,
 * they probe nearly every bucket of a 16-bit table in ascending order, so the table's halves
 * stream through the cache once per chunk instead of being read at random for each query.
 */
const CHUNK_QUERIES = 65_536;
/** Bits of a table's key the queries are sorted by: 2^16 counts, 256 KiB, stay in cache. */
const ORDER_BITS = 16;
/**
 * Entry sets from this size have their chunks sorted by key before each table. Below it a table
 * (20 bytes an entry) stays in cache anyway and the sort is pure cost: at 10k entries the kernel
 * was faster unsorted, at 1M about 3× faster sorted (bench/rescan-kernel.bench.ts); sizes in
 * between were not measured, and 2^16 entries (1.3 MB a table) is where a table outgrows the
 * second-level caches of current processors.
 */
export const BATCH_SORT_FROM = 65_536;
/**
 * Tables up to this width get a near word per bucket: bit p set when the bucket of the key XOR
 * the p-th probe mask (`masksFor(width, 1)`: the key itself, then each one-bit flip) is not empty.
 * A query then reads one word per table for radius 0 or 1 (t = 31 over 16 tables) and visits only
 * the occupied buckets, instead of testing 17 occupancy bits of which, at 10,000 entries in 65,536
 * buckets, about 15 say empty (each a branch the processor mispredicts often). 4 × 2^width bytes
 * a table (256 KiB at 16 bits, 1 MiB at 18); wider tables, chosen for sets large enough that nearly
 * every bucket is occupied, would gain nothing from them.
 */
export const NEAR_MAX_BITS = 18;
/** Bytes per hit triple in the kernel's output. */
const TRIPLE = 12;

function align(n: number, to = 64): number {
  return Math.ceil(n / to) * to;
}

/** Where the tables and work areas sit in the kernel's memory. */
export interface Layout {
  readonly words: number;
  readonly offsets: number[];
  readonly ids: number[];
  readonly halves: number[];
  readonly occupied: number[];
  /** Per table, its near words (0 for a table too wide to have them): see {@link NEAR_MAX_BITS}. */
  readonly near: number[];
  /** Start of the per-call area: masks, queries, work counters, hit count, hits. */
  readonly work: number;
}

function layoutFor(count: number, widths: readonly number[]): Layout {
  let at = 64;
  const words = at;
  at = align(at + count * HASH_BYTES);
  const offsets: number[] = [];
  const ids: number[] = [];
  const halves: number[] = [];
  const occupied: number[] = [];
  const near: number[] = [];
  for (const width of widths) {
    offsets.push(at);
    at = align(at + 4 * (2 ** width + 1));
    ids.push(at);
    at = align(at + 4 * count);
    halves.push(at);
    at = align(at + 16 * count);
    occupied.push(at);
    at = align(at + Math.ceil(2 ** width / 8));
    if (width <= NEAR_MAX_BITS) {
      near.push(at);
      at = align(at + 4 * 2 ** width);
    } else near.push(0);
  }
  return { words, offsets, ids, halves, occupied, near, work: at };
}

/**
 * The entries of a rescan, indexed for {@link searchBatch}: multi-index tables in one WebAssembly
 * memory with the hashes (32 bytes an entry), per table 4 bytes of id and 16 of half hash an entry
 * plus 4 × 2^width bytes of offsets, 2^width bits of occupancy and, up to {@link NEAR_MAX_BITS}, 4 × 2^width
 * bytes of near words; plus the linear index (32 bytes
 * an entry) for small sets and guarded queries. Without WebAssembly every query is scanned.
 *
 * @example
 * ```ts
 * const index = BatchIndex.fromHashes(newEntries); // n × 32 bytes
 * const hits = searchBatch(index, recordedHashes, 31);
 * ```
 */
export class BatchIndex {
  /** Number of entries. */
  readonly count: number;
  /** The entries' linear index: the scan for small sets and guarded queries. */
  readonly linear: LinearIndex;
  /** Width in bits of each table's substring (empty when every query is scanned). */
  readonly substringBits: readonly number[];
  readonly #starts: number[];
  readonly #layout: Layout | undefined;
  readonly #memory: WasmMemory | undefined;
  readonly #exports: BatchExports | undefined;
  /**
   * This instance's own area of the memory for its calls (masks, queries, counters, hits), and its
   * size: taken by growing the memory, never in place, so that the threads sharing an index
   * ({@link BatchIndex.share}) each have one and none overlaps the tables or another's.
   */
  #work = 0;
  #workSize = 0;
  /** guardFraction × count, capped to what the kernel's u32 counters hold. */
  readonly #budget: number;
  /** One chunk's hits as the kernel finds them, table by table, before ordering. */
  readonly #staged = new BatchHits();
  /** The sort of a chunk's queries by key: each query's key, and the counts per key. */
  readonly #keys = new Uint32Array(CHUNK_QUERIES);
  readonly #counts = new Uint32Array((1 << ORDER_BITS) + 1);

  private constructor(linear: LinearIndex, target: number, guardFraction: number, shared?: SharedBatchIndex) {
    this.linear = linear;
    this.count = linear.count;
    this.#budget = Math.min(2 ** 32 - 2, Math.floor(guardFraction * this.count));
    const compiled = target === 0 ? null : BATCH.get();
    const widths = compiled === null ? [] : (shared?.substringBits.slice() ?? substringWidths(target));
    this.substringBits = Object.freeze(widths);
    this.#starts = widths.map((_, j) => widths.slice(0, j).reduce((sum, w) => sum + w, 0));
    if (compiled === null) return;
    if (shared !== undefined) {
      // Another thread's tables: this one only gets its own area for its calls.
      this.#layout = shared.layout;
      this.#memory = shared.memory;
      this.#exports = new compiled.api.Instance(compiled.module, { env: { memory: this.#memory } })
        .exports as BatchExports;
      return;
    }
    const layout = layoutFor(this.count, widths);
    this.#layout = layout;
    // Shared, so that search threads search these very tables (a million entries take 350 MB and
    // seconds to index) instead of each building its own.
    this.#memory = new compiled.api.Memory({
      initial: Math.ceil(layout.work / WASM_PAGE),
      maximum: MAX_PAGES,
      shared: true,
    });
    this.#exports = new compiled.api.Instance(compiled.module, { env: { memory: this.#memory } })
      .exports as BatchExports;
    const memory = new Uint8Array(this.#memory.buffer);
    // Copied word by word (every area starts on a 64-byte boundary): a copy call per entry and
    // table, tens of millions of them at a million entries, took seconds.
    const u32 = new Uint32Array(this.#memory.buffer);
    const { a, b } = linear.planes();
    const wordsOf = (plane: Uint8Array) =>
      new Uint32Array(
        plane.byteOffset % 4 === 0 ? plane.buffer : plane.slice().buffer,
        plane.byteOffset % 4 === 0 ? plane.byteOffset : 0,
        4 * this.count,
      );
    const aw = wordsOf(a);
    const bw = wordsOf(b);
    for (let i = 0, w = layout.words >>> 2, h = 0; i < this.count; i++, w += 8, h += 4) {
      u32[w] = aw[h] as number;
      u32[w + 1] = aw[h + 1] as number;
      u32[w + 2] = aw[h + 2] as number;
      u32[w + 3] = aw[h + 3] as number;
      u32[w + 4] = bw[h] as number;
      u32[w + 5] = bw[h + 1] as number;
      u32[w + 6] = bw[h + 2] as number;
      u32[w + 7] = bw[h + 3] as number;
    }
    // A substring that starts in bytes 0–15 is filtered by bytes 16–31 and the other way round;
    // one straddling byte 16 shares a few bits with its filter half, which costs nothing in
    // exactness: a distance over some of the bits never exceeds the whole.
    let j = 0;
    let inverse: Uint32Array | undefined;
    for (const table of mihTables(linear, widths)) {
      new Uint32Array(this.#memory.buffer, layout.offsets[j], table.offsets.length).set(table.offsets);
      new Uint32Array(this.#memory.buffer, layout.ids[j], this.count).set(table.ids);
      // Scattered in entry order rather than gathered in bucket order: the reads then stream and
      // the writes, which nothing waits on, go out at random (gathering took about three times as long).
      const slot = inverse ?? new Uint32Array(this.count);
      inverse = slot;
      for (let k = 0; k < this.count; k++) slot[table.ids[k] as number] = k;
      const half = (layout.halves[j] as number) >>> 2;
      for (let i = 0, at = (layout.words + this.#halfAt(j)) >>> 2; i < this.count; i++, at += 8) {
        const to = half + 4 * (slot[i] as number);
        u32[to] = u32[at] as number;
        u32[to + 1] = u32[at + 1] as number;
        u32[to + 2] = u32[at + 2] as number;
        u32[to + 3] = u32[at + 3] as number;
      }
      const occupied = layout.occupied[j] as number;
      for (let bucket = 0; bucket < table.offsets.length - 1; bucket++)
        if ((table.offsets[bucket] as number) !== (table.offsets[bucket + 1] as number))
          memory[occupied + (bucket >>> 3)] = (memory[occupied + (bucket >>> 3)] as number) | (1 << (bucket & 7));
      const near = layout.near[j] as number;
      if (near !== 0) this.#fillNear(memory, occupied, near, widths[j] as number);
      j++;
    }
  }

  /** Writes a `width`-bit table's near words at `near` from its occupancy bits at `occupied`. */
  #fillNear(memory: Uint8Array, occupied: number, near: number, width: number): void {
    const words = new Uint32Array(memory.buffer, near, 2 ** width);
    const masks = masksFor(width, 1);
    const isOccupied = (x: number) => (((memory[occupied + (x >>> 3)] as number) >>> (x & 7)) & 1) === 1;
    for (let key = 0; key < 2 ** width; key++) {
      let bits = 0;
      for (let p = 0; p <= width; p++) if (isOccupied(key ^ (masks[p] as number))) bits |= 1 << p;
      words[key] = bits;
    }
  }

  /** Byte offset within a hash of the half stored beside table `j`'s ids. */
  #halfAt(j: number): number {
    return (this.#starts[j] as number) < 128 ? 16 : 0;
  }

  /** Bytes of a per-call area with room for `maskWords` flip masks. */
  #workBytes(maskWords: number): number {
    const queries = align(CHUNK_QUERIES * HASH_BYTES + 4);
    return align(4 * maskWords) + queries + 8 * CHUNK_QUERIES + 64 + this.#capacity() * TRIPLE;
  }

  /**
   * What another thread needs to search this index's tables ({@link BatchIndex.attach}): the
   * shared memory and where the tables lie in it. Posted to a worker as it is (a shared
   * WebAssembly memory is shared, not copied, by `postMessage`). Undefined when the index has no
   * tables (every query is scanned: nothing to share).
   */
  share(): SharedBatchIndex | undefined {
    if (this.#layout === undefined || this.#memory === undefined || this.substringBits.length === 0) return undefined;
    return { memory: this.#memory, layout: this.#layout, substringBits: this.substringBits, count: this.count };
  }

  /**
   * This index in another thread: the tables `shared` describes, searched in place, and the
   * entries' `hashes` (n × 32 bytes, the same as the index's, in its order) for the scan. The
   * tables must not change while any thread searches them: an index never changes once built.
   *
   * @param options - `guardFraction`, as the index was built with.
   */
  static attach(
    shared: SharedBatchIndex,
    hashes: Uint8Array,
    options?: Pick<BatchIndexOptions, 'guardFraction'>,
  ): BatchIndex {
    const count = validBatch(hashes, 'hashes');
    if (count !== shared.count)
      throw new RangeError(`Expected ${shared.count} hashes for the shared index but received ${count}`);
    const guard = guardOf(optionsObject(options, 'options'));
    return new BatchIndex(linearOf(hashes, count), BATCH_SUBSTRING_BITS, guard, shared);
  }

  /** Hits the output area holds: room for one query's worst case (a bucket of every entry) and more. */
  #capacity(): number {
    return this.count + 1 + CHUNK_QUERIES;
  }

  /**
   * An index over `linear`'s hashes (kept, not copied, for the scan).
   *
   * @param options - `substringBits`: table width, or 0 for no tables; `guardFraction`.
   * @example
   * ```ts
   * const index = BatchIndex.fromLinear(table.linear);
   * ```
   */
  static fromLinear(linear: LinearIndex, options?: BatchIndexOptions): BatchIndex {
    if (!(linear instanceof LinearIndex)) invalid('LinearIndex', 'linear', linear);
    integerInRange(linear.count, 0, MAX_BATCH_ENTRIES, 'linear.count');
    const o = optionsObject(options, 'options');
    const target =
      o.substringBits === undefined
        ? defaultBatchSubstringBits(linear.count)
        : o.substringBits === 0
          ? 0
          : validSubstringBits(o.substringBits, 'options.substringBits');
    return new BatchIndex(linear, target, guardOf(o));
  }

  /**
   * An index over `hashes`: n × 32 bytes, one 256-bit hash after another (copied).
   *
   * @param options - `substringBits`: table width, or 0 for no tables; `guardFraction`.
   * @example
   * ```ts
   * const index = BatchIndex.fromHashes(bytes);
   * ```
   */
  static fromHashes(hashes: Uint8Array, options?: BatchIndexOptions): BatchIndex {
    const count = validBatch(hashes, 'hashes');
    integerInRange(count, 0, MAX_BATCH_ENTRIES, 'hashes.length / 32');
    return BatchIndex.fromLinear(linearOf(hashes, count), options);
  }

  /** Searches `queries` (validated by the caller) and appends the hits to `out`. */
  search(queries: Uint8Array, threshold: number, out: BatchHits): void {
    const n = queries.length / HASH_BYTES;
    const layout = this.#layout;
    const widths = this.substringBits;
    const m = widths.length;
    if (layout === undefined || m === 0) {
      for (let q = 0; q < n; q++) this.#scan(queries, q, threshold, out);
      return;
    }
    const s = Math.floor(threshold / m);
    const a = threshold - s * m;
    const radii = widths.map((_, j) => (j <= a ? s : s - 1));
    const counts = widths.map((width, j) => probesAt(width, radii[j] as number));
    const probes = counts.reduce((sum, c) => sum + c, 0);
    const budget = this.#budget;
    // The radii, and so the probes, are the same for every query: a threshold whose probes alone
    // exceed the budget is scanned for all of them.
    if (counts.some((c) => c > MAX_PROBES_PER_TABLE) || probes > budget) {
      for (let q = 0; q < n; q++) this.#scan(queries, q, threshold, out);
      return;
    }
    const memory = this.#memory as WasmMemory;
    const need = this.#workBytes(probes);
    if (need > this.#workSize) {
      // A new area at the memory's end (the old one, too small, is left): growing is atomic, so
      // threads growing at once each get their own pages.
      const pages = Math.ceil(need / WASM_PAGE);
      this.#work = memory.grow(pages) * WASM_PAGE;
      this.#workSize = pages * WASM_PAGE;
    }
    const u8 = new Uint8Array(memory.buffer);
    const u32 = new Uint32Array(memory.buffer);
    // Each table's masks, then the queries, their work counters, the hit count and the hits.
    const masksAt: number[] = [];
    let at = this.#work;
    for (let j = 0; j < m; j++) {
      const count = counts[j] as number;
      masksAt.push(at);
      if (count > 0) u32.set(masksFor(widths[j] as number, radii[j] as number).subarray(0, count), at >>> 2);
      at += 4 * count;
    }
    const queriesAt = align(at);
    const workAt = align(queriesAt + CHUNK_QUERIES * HASH_BYTES + 4);
    const orderAt = align(workAt + 4 * CHUNK_QUERIES);
    const countAt = align(orderAt + 4 * CHUNK_QUERIES);
    const outAt = countAt + 64;
    const exports = this.#exports as BatchExports;
    const staged = this.#staged;
    for (let done = 0; done < n; done += CHUNK_QUERIES) {
      const chunk = Math.min(CHUNK_QUERIES, n - done);
      u8.set(queries.subarray(done * HASH_BYTES, (done + chunk) * HASH_BYTES), queriesAt);
      u32.fill(probes, workAt >>> 2, (workAt >>> 2) + chunk);
      staged.length = 0;
      const chunkBytes = u8.subarray(queriesAt, queriesAt + chunk * HASH_BYTES + 4);
      for (let j = 0; j < m; j++) {
        if ((counts[j] as number) === 0) continue;
        const order = u32.subarray(orderAt >>> 2, (orderAt >>> 2) + chunk);
        if (this.count >= BATCH_SORT_FROM) this.#sortByKey(chunkBytes, chunk, j, order);
        else if (j === 0) for (let q = 0; q < chunk; q++) order[q] = q;
        for (let from = 0; from < chunk; ) {
          const ran = exports.probe(
            this.#starts[j] as number,
            widths[j] as number,
            counts[j] as number,
            masksAt[j] as number,
            layout.offsets[j] as number,
            layout.ids[j] as number,
            layout.halves[j] as number,
            this.#halfAt(j),
            layout.occupied[j] as number,
            // Near words hold the masks of radius 0 and 1 only.
            (counts[j] as number) <= (widths[j] as number) + 1 ? (layout.near[j] as number) : 0,
            layout.words,
            queriesAt,
            orderAt + 4 * from,
            chunk - from,
            threshold,
            workAt,
            budget,
            outAt,
            this.#capacity(),
            this.count + 1,
            countAt,
          );
          const found = u32[countAt >>> 2] as number;
          for (let k = 0, w = outAt >>> 2; k < found; k++, w += 3)
            staged.push(u32[w] as number, u32[w + 1] as number, u32[w + 2] as number);
          from += ran;
        }
      }
      this.#emit(staged, u32, workAt >>> 2, budget, done, chunk, queries, threshold, out);
    }
  }

  /** Puts the numbers of the `n` queries in `bytes` into `order`, sorted by table `j`'s key. */
  #sortByKey(bytes: Uint8Array, n: number, j: number, order: Uint32Array): void {
    const width = this.substringBits[j] as number;
    const bits = Math.min(width, ORDER_BITS);
    const start = this.#starts[j] as number;
    const keys = this.#keys;
    const counts = this.#counts;
    counts.fill(0);
    for (let q = 0; q < n; q++) {
      const key = keyAt(bytes, q * HASH_BYTES, start, width) >>> (width - bits);
      keys[q] = key;
      counts[key + 1] = (counts[key + 1] as number) + 1;
    }
    for (let k = 1; k <= 1 << bits; k++) counts[k] = (counts[k] as number) + (counts[k - 1] as number);
    for (let q = 0; q < n; q++) {
      const key = keys[q] as number;
      const at = counts[key] as number;
      order[at] = q;
      counts[key] = at + 1;
    }
  }

  /**
   * Appends one chunk's hits to `out` by query and then entry, each (query, entry) once, and scans
   * the queries whose work counter passed the budget instead (their staged hits are dropped).
   */
  #emit(
    staged: BatchHits,
    u32: Uint32Array,
    work: number,
    budget: number,
    done: number,
    chunk: number,
    queries: Uint8Array,
    threshold: number,
    out: BatchHits,
  ): void {
    // Query in the chunk (below 2^16), entry (below 2^26) and distance (at most 256) packed into
    // one double, exactly: one sort orders them.
    const packed = new Float64Array(staged.length);
    for (let k = 0; k < staged.length; k++)
      packed[k] =
        ((staged.queries[k] as number) * 2 ** 26 + (staged.entries[k] as number)) * 512 +
        (staged.distances[k] as number);
    packed.sort();
    let k = 0;
    for (let q = 0; q < chunk; q++) {
      const guarded = (u32[work + q] as number) > budget;
      if (guarded) this.#scan(queries, done + q, threshold, out);
      let last = -1;
      for (; k < packed.length; k++) {
        const value = packed[k] as number;
        const pair = Math.floor(value / 512);
        if (Math.floor(pair / 2 ** 26) !== q) break;
        const entry = pair % 2 ** 26;
        if (!guarded && entry !== last) out.push(done + q, entry, value - pair * 512);
        last = entry;
      }
    }
  }

  #scan(queries: Uint8Array, q: number, threshold: number, out: BatchHits): void {
    const query = queries.subarray(q * HASH_BYTES, (q + 1) * HASH_BYTES);
    for (const hit of this.linear.search(query, threshold)) out.push(q, hit.index, hit.distance);
  }
}

/** The `guardFraction` option, checked, or its default. */
function guardOf(o: Pick<BatchIndexOptions, 'guardFraction'>): number {
  return o.guardFraction === undefined
    ? BATCH_GUARD_FRACTION
    : positiveNumber(o.guardFraction, Infinity, 'options.guardFraction');
}

/** A linear index of `count` hashes held back to back in `hashes` (copied). */
function linearOf(hashes: Uint8Array, count: number): LinearIndex {
  const linear = LinearIndex.allocate(count);
  const { a, b } = linear.planes();
  for (let i = 0; i < count; i++) {
    a.set(hashes.subarray(i * HASH_BYTES, i * HASH_BYTES + 16), i * 16);
    b.set(hashes.subarray(i * HASH_BYTES + 16, (i + 1) * HASH_BYTES), i * 16);
  }
  return linear;
}

/** Number of 32-byte hashes in `value`, a Uint8Array of n × 32 bytes, else a TypeError/RangeError. */
function validBatch(value: unknown, name: string): number {
  if (!(value instanceof Uint8Array)) invalid(`Uint8Array of n × ${HASH_BYTES} bytes`, name, value);
  if (value.length % HASH_BYTES !== 0)
    throw new RangeError(
      `Expected Uint8Array of n × ${HASH_BYTES} bytes for ${name} but received ${value.length} bytes`,
    );
  return value.length / HASH_BYTES;
}

/**
 * Every (query, entry) pair within `threshold` bits: `queries` holds n 256-bit hashes, 32 bytes
 * each, one after another. The hits go to `out` (cleared first; a new {@link BatchHits} when
 * absent), ordered by query and then by entry position: exactly the pairs a comparison of every
 * query with every entry finds.
 *
 * @example
 * ```ts
 * const index = BatchIndex.fromHashes(newEntries);
 * const hits = new BatchHits();
 * for (const batch of recordedBatches) {
 *   searchBatch(index, batch, 31, hits);
 *   for (let k = 0; k < hits.length; k++) emit(hits.queries[k], hits.entries[k], hits.distances[k]);
 * }
 * ```
 */
export function searchBatch(index: BatchIndex, queries: Uint8Array, threshold: number, out?: BatchHits): BatchHits {
  if (!(index instanceof BatchIndex)) invalid('BatchIndex', 'index', index);
  validBatch(queries, 'queries');
  validThreshold(threshold);
  if (out !== undefined && !(out instanceof BatchHits)) invalid('BatchHits', 'out', out);
  const hits = out ?? new BatchHits();
  hits.length = 0;
  index.search(queries, threshold, hits);
  return hits;
}
