/**
 * Snapshot checksums: XXH3-64 (xxHash specification, XXH3 section; seed 0, default secret) of
 * every section, computed where the section was read. A section longer than 240 bytes that lies
 * in a WebAssembly memory registered here (a snapshot's arena, the scan kernel's planes) is hashed
 * in place by xxh3.wat's SIMD loop; one elsewhere is streamed through a small staging memory; the
 * short inputs, and everything when WebAssembly is unavailable (`node --jitless`), go through
 * xxh3.ts. All paths give the same value: the wasm loop is tested against xxh3.ts, and xxh3.ts
 * against vectors from the reference `xxhsum`.
 *
 * Why XXH3 and not CRC-32: every byte of a snapshot is checked at open, and xxh3.wat's loop
 * checks them faster than zlib's CRC-32 (docs/benchmark.md).
 */
import { LazyWasm, type CompiledWasm, type WasmMemory } from '../wasm.js';
import { xxh3, xxh3MergeAccumulators } from './xxh3.js';
import { XXH3_WASM_BASE64 } from './xxh3-wasm.js';

/** Inputs up to this length take XXH3's short paths (in xxh3.ts). */
const SHORT_INPUT = 240;
const BLOCK = 1024;
const STRIPE = 64;
/**
 * Blocks a call (1 MiB): V8 swaps in optimised code only between calls, so a long section is fed
 * in calls short enough that most of it runs optimised.
 */
const BLOCKS_PER_CALL = 1024;
const WASM_PAGE = 65536;

interface Xxh3Exports {
  begin(): void;
  blocks(at: number, blocks: number): void;
  finish(at: number, stripes: number, last: number): void;
  acc(i: number): bigint;
  ascending(at: number, count: number): number;
}

/** The compiled kernel; null when this runtime has no WebAssembly (or no SIMD). */
const XXH3_KERNEL = new LazyWasm(XXH3_WASM_BASE64);

/** Kernel instances by the buffer of the memory they were made over. */
const inPlace = new WeakMap<ArrayBuffer, Xxh3Exports>();

function instanceOver(memory: WasmMemory): Xxh3Exports | undefined {
  const k = XXH3_KERNEL.get();
  if (k === null) return undefined;
  let exports = inPlace.get(memory.buffer);
  if (exports === undefined) {
    exports = new k.api.Instance(k.module, { env: { memory } }).exports as Xxh3Exports;
    inPlace.set(memory.buffer, exports);
  }
  return exports;
}

/**
 * Lets `checksum` and `ascending` work in place on views of `memory` (a WebAssembly.Memory):
 * how the scan kernel's planes are hashed where a snapshot read them. Views made after the memory
 * grows fall back to the staging path (still correct).
 */
export function registerMemory(memory: WasmMemory): void {
  instanceOver(memory);
}

/**
 * A buffer of at least `bytes` bytes, zeroed, that `checksum` and `ascending` work on in place:
 * a WebAssembly memory's (never grown), or a plain ArrayBuffer without WebAssembly. A snapshot
 * reads its sections into one. Throws RangeError when it cannot be had.
 *
 * @example
 * ```ts
 * const arena = allocateArena(1 << 20);
 * const ids = new Uint32Array(arena, 0, 1000);
 * ```
 */
export function allocateArena(bytes: number): ArrayBuffer {
  const k = XXH3_KERNEL.get();
  if (k === null) return new ArrayBuffer(bytes);
  const memory = new k.api.Memory({ initial: Math.max(1, Math.ceil(bytes / WASM_PAGE)) });
  instanceOver(memory);
  return memory.buffer;
}

let staging: { memory: WasmMemory; exports: Xxh3Exports } | undefined;

/** Hashes a long input through a staging memory of 1 MiB + 2 KiB, a chunk at a time. */
function stagedChecksum(bytes: Uint8Array, k: CompiledWasm): bigint {
  if (staging === undefined) {
    const memory = new k.api.Memory({ initial: Math.ceil((BLOCKS_PER_CALL * BLOCK + 2 * BLOCK) / WASM_PAGE) });
    staging = { memory, exports: new k.api.Instance(k.module, { env: { memory } }).exports as Xxh3Exports };
  }
  const { memory, exports } = staging;
  const into = new Uint8Array(memory.buffer);
  const length = bytes.length;
  const blocks = Math.floor((length - 1) / BLOCK);
  exports.begin();
  for (let b = 0; b < blocks; b += BLOCKS_PER_CALL) {
    const n = Math.min(BLOCKS_PER_CALL, blocks - b);
    into.set(bytes.subarray(b * BLOCK, (b + n) * BLOCK), 0);
    exports.blocks(0, n);
  }
  // The last, partial block and the last stripe, which may reach back into the block before.
  const from = Math.min(blocks * BLOCK, length - STRIPE);
  into.set(bytes.subarray(from, length), 0);
  return finish(exports, blocks * BLOCK - from, length, length - STRIPE - from, blocks);
}

function finish(exports: Xxh3Exports, tailAt: number, length: number, lastAt: number, blocks: number): bigint {
  exports.finish(tailAt, Math.floor((length - 1 - blocks * BLOCK) / STRIPE), lastAt);
  const acc = new BigUint64Array(8);
  for (let i = 0; i < 8; i++) acc[i] = BigInt.asUintN(64, exports.acc(i));
  return xxh3MergeAccumulators(acc, length);
}

/**
 * XXH3-64 (seed 0) of `bytes`, as an unsigned bigint: in place when they lie in an arena or a
 * registered memory, else staged or in JavaScript.
 *
 * @example
 * ```ts
 * checksum(new Uint8Array(0)); // 0x2d06800538d394c2n
 * ```
 */
export function checksum(bytes: Uint8Array): bigint {
  if (bytes.length <= SHORT_INPUT) return xxh3(bytes);
  const k = XXH3_KERNEL.get();
  if (k === null) return xxh3(bytes);
  const exports = inPlace.get(bytes.buffer as ArrayBuffer);
  if (exports === undefined) return stagedChecksum(bytes, k);
  const start = bytes.byteOffset;
  const length = bytes.length;
  const blocks = Math.floor((length - 1) / BLOCK);
  exports.begin();
  for (let b = 0; b < blocks; b += BLOCKS_PER_CALL)
    exports.blocks(start + b * BLOCK, Math.min(BLOCKS_PER_CALL, blocks - b));
  return finish(exports, start + blocks * BLOCK, length, start + length - STRIPE, blocks);
}

/**
 * True when `values` never decrease: SIMD in place for a view of an arena, else a plain loop.
 *
 * @example
 * ```ts
 * ascending(Uint32Array.of(0, 2, 2, 5)); // true
 * ```
 */
export function ascending(values: Uint32Array): boolean {
  const exports = inPlace.get(values.buffer as ArrayBuffer);
  if (exports !== undefined && values.byteOffset % 4 === 0)
    return exports.ascending(values.byteOffset, values.length) === 1;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) < (values[i - 1] as number)) return false;
  return true;
}
