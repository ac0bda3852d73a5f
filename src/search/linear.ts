/**
 * The reference search: compare the query with every stored hash and keep those within the
 * threshold. It is exact by construction, the baseline every faster index is tested against, and
 * on its own fast enough for lists of a few million hashes.
 *
 * Hashes are 256-bit and stored as two planes: bytes 0–15 of every hash one after another in plane
 * A, bytes 16–31 in plane B. Nearly every stored hash is far from the query and its first half
 * already shows it, so the scan streams plane A and reads plane B only for hashes whose plane-A
 * distance is still within the threshold — half the memory traffic, and still exact, since a
 * partial distance never exceeds the whole. The same planes are what a snapshot stores.
 *
 * Two kernels scan them, with identical results: a small WebAssembly module (popcount.wat, built
 * into popcount-wasm.ts by build-wasm.mjs) using i64.popcnt, and a pure-JS fallback with a 32-bit
 * SWAR popcount for engines without WebAssembly (e.g. `node --jitless`). The kernel is chosen once
 * per index. Each wasm index owns one WebAssembly.Memory holding the query, both planes and the
 * output buffer, so a search crosses into wasm once and copies nothing but the query and the hits.
 */
import { HashwardenError } from '../errors.js';
import { integerInRange, invalid, oneOf, optionsObject } from '../validate.js';
import { LazyWasm, type CompiledWasm, type WasmMemory } from '../wasm.js';
import { POPCOUNT_WASM_BASE64 } from './popcount-wasm.js';

/** One search hit: the position of the stored hash and its distance to the query. */
export interface SearchHit {
  readonly index: number;
  readonly distance: number;
}

/** The scan kernel of a {@link LinearIndex}. */
export type LinearKernel = 'wasm' | 'js';

/** Options of a {@link LinearIndex}. */
export interface LinearIndexOptions {
  /**
   * Which kernel scans: `'wasm'` (throws `ERR_MODULE_LOAD` when WebAssembly is unavailable),
   * `'js'`, or `'auto'`, which is wasm when it can be instantiated and js otherwise.
   * Default: `'auto'`.
   */
  readonly kernel?: LinearKernel | 'auto';
}

/** The one hash size stored: the perceptual hashes hashwarden has are all 256-bit. */
const BITS = 256;
const HASH_BYTES = 32;
const HALF_BYTES = 16;
/**
 * More hashes than any list holds. It also bounds a wasm index's memory: planes (32 bytes a hash)
 * plus an output region grown to every position (12 bytes a hash) stay within the 4 GiB a
 * WebAssembly memory can address, so growing it never fails for want of address space.
 */
const MAX_COUNT = 2 ** 26;

// ---------------------------------------------------------------------------------------------
// Validation

function validBits(bits: unknown): number {
  if (typeof bits !== 'number') invalid(String(BITS), 'bits', bits);
  if (bits !== BITS) invalid(String(BITS), 'bits', bits, true);
  return bits;
}

function validHash(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) invalid(`Uint8Array of ${HASH_BYTES} bytes`, name, value);
  if (value.length !== HASH_BYTES)
    throw new RangeError(`Expected Uint8Array of ${HASH_BYTES} bytes for ${name} but received ${value.length} bytes`);
  return value;
}

function validPlane(value: unknown, count: number, name: string): Uint8Array {
  const bytes = count * HALF_BYTES;
  if (!(value instanceof Uint8Array)) invalid(`Uint8Array of count × ${HALF_BYTES} bytes`, name, value);
  if (value.length !== bytes)
    throw new RangeError(
      `Expected Uint8Array of ${bytes} bytes (${count} × ${HALF_BYTES}) for ${name} but received ${value.length} bytes`,
    );
  return value;
}

/** An index's threshold: 0–256 bits, the rule `LinearIndex` and `MihIndex` share. */
export function validThreshold(threshold: unknown): number {
  return integerInRange(threshold, 0, BITS, 'threshold');
}

/**
 * Throws for the first of `candidates[0..length)` that is not a stored position: the wasm kernel
 * would read past the planes (memory of the index, never outside it, but not a hash).
 */
function checkCandidates(candidates: Uint32Array, length: number, count: number): void {
  let max = -1;
  for (let c = 0; c < length; c++) max = Math.max(max, candidates[c] as number);
  if (max < count) return;
  for (let c = 0; c < length; c++) integerInRange(candidates[c], 0, count - 1, `candidates[${c}]`);
}

function validKernel(options: LinearIndexOptions | undefined): LinearKernel | 'auto' {
  const o = optionsObject(options, 'options');
  return o.kernel === undefined ? 'auto' : oneOf(o.kernel, ['wasm', 'js', 'auto'] as const, 'options.kernel');
}

// ---------------------------------------------------------------------------------------------
// Kernels

/** What LinearIndex asks of a kernel; both keep the planes at 16-byte-aligned offsets. */
interface Kernel {
  readonly name: LinearKernel;
  readonly count: number;
  planeA(): Uint8Array;
  planeB(): Uint8Array;
  /** The WebAssembly.Memory holding the planes, for the wasm kernel. */
  readonly memory?: WasmMemory;
  search(query: Uint8Array, threshold: number): SearchHit[];
  verify(candidates: Uint32Array, length: number, query: Uint8Array, threshold: number, hits: SearchHit[]): void;
}

/**
 * Popcount of four 32-bit words. Each word is reduced to 4-bit counts, and the 4-bit counts of two
 * words (at most 8) share a nibble before the byte step, saving two reductions per pair; the four
 * byte sums (at most 32 each, 128 in all) are added by one multiply.
 */
function popcount128(a: number, b: number, c: number, d: number): number {
  a -= (a >>> 1) & 0x55555555;
  a = (a & 0x33333333) + ((a >>> 2) & 0x33333333);
  b -= (b >>> 1) & 0x55555555;
  b = (b & 0x33333333) + ((b >>> 2) & 0x33333333);
  c -= (c >>> 1) & 0x55555555;
  c = (c & 0x33333333) + ((c >>> 2) & 0x33333333);
  d -= (d >>> 1) & 0x55555555;
  d = (d & 0x33333333) + ((d >>> 2) & 0x33333333);
  let ab = a + b;
  ab = (ab & 0x0f0f0f0f) + ((ab >>> 4) & 0x0f0f0f0f);
  let cd = c + d;
  cd = (cd & 0x0f0f0f0f) + ((cd >>> 4) & 0x0f0f0f0f);
  return Math.imul(ab + cd, 0x01010101) >>> 24;
}

/**
 * The pure-JS kernel: both planes in one ArrayBuffer, read through 32-bit views. Words are in the
 * platform's byte order on both sides of the xor, which popcount does not care about. The views
 * are Int32Array, not Uint32Array: int32 values are always small integers to V8, while uint32
 * words above 2^31 are not, which slows the scan (docs/benchmark.md).
 */
class JsKernel implements Kernel {
  readonly name = 'js';
  readonly count: number;
  readonly #a: Int32Array;
  readonly #b: Int32Array;
  readonly #queryBytes = new Uint8Array(HASH_BYTES);
  readonly #query = new Int32Array(this.#queryBytes.buffer);

  constructor(count: number) {
    this.count = count;
    const buffer = new ArrayBuffer(count * HASH_BYTES);
    this.#a = new Int32Array(buffer, 0, count * 4);
    this.#b = new Int32Array(buffer, count * HALF_BYTES, count * 4);
  }

  planeA(): Uint8Array {
    return new Uint8Array(this.#a.buffer, this.#a.byteOffset, this.#a.byteLength);
  }

  planeB(): Uint8Array {
    return new Uint8Array(this.#b.buffer, this.#b.byteOffset, this.#b.byteLength);
  }

  search(query: Uint8Array, threshold: number): SearchHit[] {
    this.#queryBytes.set(query);
    const q = this.#query;
    const q0 = q[0] as number,
      q1 = q[1] as number,
      q2 = q[2] as number,
      q3 = q[3] as number;
    const q4 = q[4] as number,
      q5 = q[5] as number,
      q6 = q[6] as number,
      q7 = q[7] as number;
    const a = this.#a;
    const b = this.#b;
    const count = this.count;
    const hits: SearchHit[] = [];
    for (let i = 0, w = 0; i < count; i++, w += 4) {
      let d = popcount128(
        (a[w] as number) ^ q0,
        (a[w + 1] as number) ^ q1,
        (a[w + 2] as number) ^ q2,
        (a[w + 3] as number) ^ q3,
      );
      if (d > threshold) continue;
      d += popcount128(
        (b[w] as number) ^ q4,
        (b[w + 1] as number) ^ q5,
        (b[w + 2] as number) ^ q6,
        (b[w + 3] as number) ^ q7,
      );
      if (d <= threshold) hits.push({ index: i, distance: d });
    }
    return hits;
  }

  verify(candidates: Uint32Array, length: number, query: Uint8Array, threshold: number, hits: SearchHit[]): void {
    this.#queryBytes.set(query);
    const q = this.#query;
    const q0 = q[0] as number,
      q1 = q[1] as number,
      q2 = q[2] as number,
      q3 = q[3] as number;
    const q4 = q[4] as number,
      q5 = q[5] as number,
      q6 = q[6] as number,
      q7 = q[7] as number;
    const a = this.#a;
    const b = this.#b;
    for (let c = 0; c < length; c++) {
      const i = candidates[c] as number;
      const w = i * 4;
      let d = popcount128(
        (a[w] as number) ^ q0,
        (a[w + 1] as number) ^ q1,
        (a[w + 2] as number) ^ q2,
        (a[w + 3] as number) ^ q3,
      );
      if (d > threshold) continue;
      d += popcount128(
        (b[w] as number) ^ q4,
        (b[w + 1] as number) ^ q5,
        (b[w + 2] as number) ^ q6,
        (b[w + 3] as number) ^ q7,
      );
      if (d <= threshold) hits.push({ index: i, distance: d });
    }
  }
}

/** The exports of popcount.wat. */
interface PopcountExports {
  scan(
    planeA: number,
    planeB: number,
    count: number,
    query: number,
    threshold: number,
    out: number,
    maxOut: number,
  ): number;
  verify(
    planeA: number,
    planeB: number,
    candidates: number,
    n: number,
    query: number,
    threshold: number,
    out: number,
  ): number;
}

const WASM_PAGE = 65536;
/** Where the query sits in a wasm index's memory; the planes follow at PLANES_AT. */
const QUERY_AT = 0;
const PLANES_AT = 64;

/** The popcount module, compiled on first use and shared by every index. */
const POPCOUNT = new LazyWasm(POPCOUNT_WASM_BASE64);

function compiledPopcount(): CompiledWasm {
  const compiled = POPCOUNT.get();
  if (compiled === null) throw POPCOUNT.error;
  return compiled;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Output capacity, in hits, a new wasm index starts with: every position for small lists, so they
 * never grow; otherwise room for 1/64 of the list (at least 1024), 0.4% more memory than the
 * planes. A query matching more than that grows it to at least what that query needed.
 */
function initialCapacity(count: number): number {
  return roundUp(Math.max(16, Math.min(count, Math.max(1024, Math.ceil(count / 64)))), 16);
}

/**
 * The WebAssembly kernel. Memory layout: the query at 0, plane A at 64, plane B right after it,
 * then a scratch region of `capacity` u32 candidates followed by `capacity` (index, distance)
 * pairs of output. The scratch region is the only part that ever grows.
 */
class WasmKernel implements Kernel {
  readonly name = 'wasm';
  readonly count: number;
  readonly #memory: WasmMemory;
  readonly #exports: PopcountExports;
  readonly #planeB: number;
  readonly #scratch: number;
  #capacity: number;
  #u8: Uint8Array;
  #u32: Uint32Array;

  constructor(count: number) {
    this.count = count;
    this.#planeB = PLANES_AT + count * HALF_BYTES;
    this.#scratch = roundUp(this.#planeB + count * HALF_BYTES, 64);
    this.#capacity = initialCapacity(count);
    const { api, module } = compiledPopcount();
    this.#memory = new api.Memory({ initial: Math.ceil((this.#scratch + this.#capacity * 12) / WASM_PAGE) });
    this.#exports = new api.Instance(module, { env: { memory: this.#memory } }).exports as PopcountExports;
    this.#u8 = new Uint8Array(this.#memory.buffer);
    this.#u32 = new Uint32Array(this.#memory.buffer);
  }

  get memory(): WasmMemory {
    return this.#memory;
  }

  planeA(): Uint8Array {
    return new Uint8Array(this.#memory.buffer, PLANES_AT, this.count * HALF_BYTES);
  }

  planeB(): Uint8Array {
    return new Uint8Array(this.#memory.buffer, this.#planeB, this.count * HALF_BYTES);
  }

  get #out(): number {
    return this.#scratch + this.#capacity * 4;
  }

  /** Grows the scratch region to hold at least `hits` hits; detaches every earlier view. */
  #grow(hits: number): void {
    const capacity = roundUp(Math.max(hits, this.#capacity * 2), 16);
    const pages = Math.ceil((this.#scratch + capacity * 12) / WASM_PAGE);
    const have = this.#memory.buffer.byteLength / WASM_PAGE;
    if (pages > have) this.#memory.grow(pages - have);
    this.#capacity = capacity;
    this.#u8 = new Uint8Array(this.#memory.buffer);
    this.#u32 = new Uint32Array(this.#memory.buffer);
  }

  search(query: Uint8Array, threshold: number): SearchHit[] {
    this.#u8.set(query, QUERY_AT);
    const scan = (): number =>
      this.#exports.scan(PLANES_AT, this.#planeB, this.count, QUERY_AT, threshold, this.#out, this.#capacity);
    let found = scan();
    if (found > this.#capacity) {
      this.#grow(found);
      found = scan();
    }
    const u32 = this.#u32;
    const hits: SearchHit[] = [];
    for (let k = 0, at = this.#out >>> 2; k < found; k++, at += 2)
      hits.push({ index: u32[at] as number, distance: u32[at + 1] as number });
    return hits;
  }

  verify(candidates: Uint32Array, length: number, query: Uint8Array, threshold: number, hits: SearchHit[]): void {
    this.#u8.set(query, QUERY_AT);
    const u32 = this.#u32;
    const out = this.#out;
    // In chunks of the scratch capacity: each chunk has at most as many hits as candidates, so
    // verify never grows the memory.
    for (let from = 0; from < length; from += this.#capacity) {
      const to = Math.min(length, from + this.#capacity);
      u32.set(candidates.subarray(from, to), this.#scratch >>> 2);
      const found = this.#exports.verify(PLANES_AT, this.#planeB, this.#scratch, to - from, QUERY_AT, threshold, out);
      for (let k = 0, at = out >>> 2; k < found; k++, at += 2)
        hits.push({ index: u32[at] as number, distance: u32[at + 1] as number });
    }
  }
}

function createKernel(count: number, kernel: LinearKernel | 'auto'): Kernel {
  if (kernel === 'js') return new JsKernel(count);
  try {
    return new WasmKernel(count);
  } catch (error) {
    if (kernel === 'auto') return new JsKernel(count);
    throw new HashwardenError(
      'ERR_MODULE_LOAD',
      `Cannot use the WebAssembly popcount kernel: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Planes handed to the constructor; absent planes stay zero (`allocate`). */
class PlaneSource {
  constructor(
    readonly a: Uint8Array | undefined,
    readonly b: Uint8Array | undefined,
    readonly count: number,
  ) {}
}

// ---------------------------------------------------------------------------------------------

/**
 * Brute-force Hamming search over 256-bit hashes, exact at every threshold.
 *
 * @example
 * ```ts
 * const index = LinearIndex.fromHashes([a, b, c], 256);
 * index.search(query, 10); // [{ index: 1, distance: 3 }]
 * index.kernel; // 'wasm', or 'js' where WebAssembly is unavailable
 * ```
 */
export class LinearIndex {
  /** Bits per hash: always 256. */
  readonly bits: number;
  /** Number of stored hashes. */
  readonly count: number;
  /** The kernel that scans this index. */
  readonly kernel: LinearKernel;
  readonly #kernel: Kernel;

  /**
   * An index over `hashes`, 32 bytes each (copied).
   *
   * @param bits - Bits per hash; only 256 is supported (RangeError otherwise).
   * @param options - `kernel`: `'wasm'`, `'js'` or `'auto'` (default).
   * @example
   * ```ts
   * const index = new LinearIndex(hashes, 256, { kernel: 'js' });
   * ```
   */
  constructor(hashes: readonly Uint8Array[], bits: number, options?: LinearIndexOptions) {
    this.bits = validBits(bits);
    const kernel = validKernel(options);
    if (hashes instanceof PlaneSource) {
      this.#kernel = createKernel(hashes.count, kernel);
      if (hashes.a !== undefined) this.#kernel.planeA().set(hashes.a);
      if (hashes.b !== undefined) this.#kernel.planeB().set(hashes.b);
    } else {
      if (!Array.isArray(hashes)) invalid('array of Uint8Array hashes', 'hashes', hashes);
      integerInRange(hashes.length, 0, MAX_COUNT, 'hashes.length');
      hashes.forEach((hash, i) => {
        validHash(hash, `hashes[${i}]`);
      });
      this.#kernel = createKernel(hashes.length, kernel);
      const a = this.#kernel.planeA();
      const b = this.#kernel.planeB();
      hashes.forEach((hash, i) => {
        const at = i * HALF_BYTES;
        for (let k = 0; k < HALF_BYTES; k++) {
          a[at + k] = hash[k] as number;
          b[at + k] = hash[HALF_BYTES + k] as number;
        }
      });
    }
    this.count = this.#kernel.count;
    this.kernel = this.#kernel.name;
  }

  /**
   * A linear index over `hashes` (each `bits / 8` bytes; `bits` must be 256).
   *
   * @param options - `kernel`: `'wasm'`, `'js'` or `'auto'` (default).
   * @example
   * ```ts
   * const index = LinearIndex.fromHashes(hashes, 256);
   * ```
   */
  static fromHashes(hashes: readonly Uint8Array[], bits: number, options?: LinearIndexOptions): LinearIndex {
    return new LinearIndex(hashes, bits, options);
  }

  /**
   * An index over planes as {@link LinearIndex.planes} returns them (e.g. read from a snapshot):
   * `planeA` holds bytes 0–15 of each of the `count` hashes, `planeB` bytes 16–31, `count × 16`
   * bytes each. Both are copied.
   *
   * @param options - `kernel`: `'wasm'`, `'js'` or `'auto'` (default).
   * @example
   * ```ts
   * const { a, b } = index.planes();
   * const same = LinearIndex.fromPlanes(a, b, index.count);
   * ```
   */
  static fromPlanes(planeA: Uint8Array, planeB: Uint8Array, count: number, options?: LinearIndexOptions): LinearIndex {
    integerInRange(count, 0, MAX_COUNT, 'count');
    const source = new PlaneSource(validPlane(planeA, count, 'planeA'), validPlane(planeB, count, 'planeB'), count);
    return new LinearIndex(source as unknown as readonly Uint8Array[], BITS, options);
  }

  /**
   * An index of `count` all-zero hashes whose planes the caller then fills in place, through
   * {@link LinearIndex.planes}: how a snapshot reads its planes from the file straight into the
   * kernel's memory, with no copy.
   *
   * @param options - `kernel`: `'wasm'`, `'js'` or `'auto'` (default).
   * @example
   * ```ts
   * const index = LinearIndex.allocate(count);
   * await file.read(index.planes().a, 0, count * 16, planeAOffset);
   * ```
   */
  static allocate(count: number, options?: LinearIndexOptions): LinearIndex {
    integerInRange(count, 0, MAX_COUNT, 'count');
    return new LinearIndex(
      new PlaneSource(undefined, undefined, count) as unknown as readonly Uint8Array[],
      BITS,
      options,
    );
  }

  /**
   * The stored planes, as views (not copies): `a` holds bytes 0–15 of every hash, `b` bytes
   * 16–31, `count × 16` bytes each. For writing out (a snapshot) right away: a search whose hits
   * overflow the wasm kernel's output buffer grows its memory, which detaches earlier views.
   *
   * @example
   * ```ts
   * const { a, b } = index.planes();
   * await file.write(a); await file.write(b);
   * ```
   */
  planes(): { a: Uint8Array; b: Uint8Array } {
    return { a: this.#kernel.planeA(), b: this.#kernel.planeB() };
  }

  /**
   * The WebAssembly.Memory that holds the planes (wasm kernel), or undefined (JS kernel): lets a
   * snapshot checksum the planes where it read them. Internal; not part of the package's API.
   *
   * @example
   * ```ts
   * const memory = LinearIndex.allocate(1000).wasmMemory(); // a WebAssembly.Memory
   * ```
   */
  wasmMemory(): WasmMemory | undefined {
    return this.#kernel.memory;
  }

  /**
   * The stored hash at position `index`, as a new 32-byte array.
   *
   * @example
   * ```ts
   * const hex = formatHex(index.hashAt(hit.index));
   * ```
   */
  hashAt(index: number): Uint8Array {
    integerInRange(index, 0, this.count - 1, 'index');
    const at = index * HALF_BYTES;
    const out = new Uint8Array(HASH_BYTES);
    out.set(this.#kernel.planeA().subarray(at, at + HALF_BYTES), 0);
    out.set(this.#kernel.planeB().subarray(at, at + HALF_BYTES), HALF_BYTES);
    return out;
  }

  /**
   * Exact distances for candidate positions (e.g. from a multi-index lookup): appends a hit for
   * each of `candidates[0..length)` within `threshold` to `hits`, in the order given (duplicates
   * included). A candidate that is not a stored position throws a RangeError.
   *
   * @example
   * ```ts
   * const hits: SearchHit[] = [];
   * index.verify(candidates, n, query, 8, hits);
   * ```
   */
  verify(candidates: Uint32Array, length: number, query: Uint8Array, threshold: number, hits: SearchHit[]): void {
    if (!(candidates instanceof Uint32Array)) invalid('Uint32Array', 'candidates', candidates);
    integerInRange(length, 0, candidates.length, 'length');
    validHash(query, 'query');
    validThreshold(threshold);
    if (!Array.isArray(hits)) invalid('array', 'hits', hits);
    // All of them before any hit is appended, so a bad list leaves `hits` as it was.
    checkCandidates(candidates, length, this.count);
    this.#kernel.verify(candidates, length, query, threshold, hits);
  }

  /**
   * Every stored hash within `threshold` bits (0–256) of `query` (32 bytes), in storage order.
   *
   * @example
   * ```ts
   * for (const { index, distance } of linear.search(query, 8)) report(index, distance);
   * ```
   */
  search(query: Uint8Array, threshold: number): SearchHit[] {
    validHash(query, 'query');
    validThreshold(threshold);
    return this.#kernel.search(query, threshold);
  }
}
