/**
 * XXH3-64 in plain JavaScript: `XXH3_64bits` of the xxHash specification (doc/xxhash_spec.md,
 * "XXH3 Algorithm Description", github.com/Cyan4973/xxHash), seed 0, the default 192-byte secret.
 *
 * Why it exists: it is the snapshot checksum wherever WebAssembly is unavailable
 * (`node --jitless`) and for inputs of at most 240 bytes, and it is the oracle that the
 * WebAssembly long-input loop (xxh3.wat) is tested against. It is itself tested against vectors
 * made by the reference `xxhsum -H3` (test-vectors/xxh3/).
 *
 * Arithmetic: the short and medium paths (0–240 bytes) and the final merge are a handful of
 * operations and use BigInt. The long-input loop does not: every 64-bit accumulator is held in
 * three exact doubles and its carries are settled once a block (see "The long path" below and
 * docs/algorithms.md), so the loop is 32-bit integer and double arithmetic only. The input is read
 * in place, never copied, through a DataView (any byteOffset).
 */

const M64 = 0xffff_ffff_ffff_ffffn;

const PRIME32_1 = 0x9e3779b1;
const PRIME32_2 = 0x85ebca77;
const PRIME32_3 = 0xc2b2ae3d;
const PRIME64_1 = 0x9e3779b185ebca87n;
const PRIME64_2 = 0xc2b2ae3d27d4eb4fn;
const PRIME64_3 = 0x165667b19e3779f9n;
const PRIME64_4 = 0x85ebca77c2b2ae63n;
const PRIME64_5 = 0x27d4eb2f165667c5n;
/** XXH3's avalanche multiplier (PRIME_MX1 in the specification). */
const PRIME_MX1 = 0x165667919e3779f9n;
/** The 4–8 byte path's multiplier (PRIME_MX2). */
const PRIME_MX2 = 0x9fb21c651e98df25n;

/** Inputs longer than this take the long path (XXH3_MIDSIZE_MAX). */
const MIDSIZE_MAX = 240;
const STRIPE = 64;
/** Stripes a block with the 192-byte secret: (192 - 64) / 8. */
const STRIPES_PER_BLOCK = 16;
const BLOCK = STRIPE * STRIPES_PER_BLOCK;
/** Where the last stripe's secret starts: 192 - 64 - 7 (XXH_SECRET_LASTACC_START). */
const LAST_STRIPE_SECRET = 121;
/** Where the scramble's secret starts: 192 - 64. */
const SCRAMBLE_SECRET = 128;
/** Where the final merge's secret starts (XXH_SECRET_MERGEACCS_START). */
const MERGE_SECRET = 11;

const TWO_16 = 65536;
const TWO_32 = 4294967296;

/** The default secret (kSecret), private so a caller writing to the exported copy changes nothing. */
const SECRET = Uint8Array.of(
  0xb8,
  0xfe,
  0x6c,
  0x39,
  0x23,
  0xa4,
  0x4b,
  0xbe,
  0x7c,
  0x01,
  0x81,
  0x2c,
  0xf7,
  0x21,
  0xad,
  0x1c,
  0xde,
  0xd4,
  0x6d,
  0xe9,
  0x83,
  0x90,
  0x97,
  0xdb,
  0x72,
  0x40,
  0xa4,
  0xa4,
  0xb7,
  0xb3,
  0x67,
  0x1f,
  0xcb,
  0x79,
  0xe6,
  0x4e,
  0xcc,
  0xc0,
  0xe5,
  0x78,
  0x82,
  0x5a,
  0xd0,
  0x7d,
  0xcc,
  0xff,
  0x72,
  0x21,
  0xb8,
  0x08,
  0x46,
  0x74,
  0xf7,
  0x43,
  0x24,
  0x8e,
  0xe0,
  0x35,
  0x90,
  0xe6,
  0x81,
  0x3a,
  0x26,
  0x4c,
  0x3c,
  0x28,
  0x52,
  0xbb,
  0x91,
  0xc3,
  0x00,
  0xcb,
  0x88,
  0xd0,
  0x65,
  0x8b,
  0x1b,
  0x53,
  0x2e,
  0xa3,
  0x71,
  0x64,
  0x48,
  0x97,
  0xa2,
  0x0d,
  0xf9,
  0x4e,
  0x38,
  0x19,
  0xef,
  0x46,
  0xa9,
  0xde,
  0xac,
  0xd8,
  0xa8,
  0xfa,
  0x76,
  0x3f,
  0xe3,
  0x9c,
  0x34,
  0x3f,
  0xf9,
  0xdc,
  0xbb,
  0xc7,
  0xc7,
  0x0b,
  0x4f,
  0x1d,
  0x8a,
  0x51,
  0xe0,
  0x4b,
  0xcd,
  0xb4,
  0x59,
  0x31,
  0xc8,
  0x9f,
  0x7e,
  0xc9,
  0xd9,
  0x78,
  0x73,
  0x64,
  0xea,
  0xc5,
  0xac,
  0x83,
  0x34,
  0xd3,
  0xeb,
  0xc3,
  0xc5,
  0x81,
  0xa0,
  0xff,
  0xfa,
  0x13,
  0x63,
  0xeb,
  0x17,
  0x0d,
  0xdd,
  0x51,
  0xb7,
  0xf0,
  0xda,
  0x49,
  0xd3,
  0x16,
  0x55,
  0x26,
  0x29,
  0xd4,
  0x68,
  0x9e,
  0x2b,
  0x16,
  0xbe,
  0x58,
  0x7d,
  0x47,
  0xa1,
  0xfc,
  0x8f,
  0xf8,
  0xb8,
  0xd1,
  0x7a,
  0xd0,
  0x31,
  0xce,
  0x45,
  0xcb,
  0x3a,
  0x8f,
  0x95,
  0x16,
  0x04,
  0x28,
  0xaf,
  0xd7,
  0xfb,
  0xca,
  0xbb,
  0x4b,
  0x40,
  0x7e,
);
const SECRET_VIEW = new DataView(SECRET.buffer);

/**
 * The default 192-byte XXH3 secret (`kSecret` / `XXH3_kSecret` in xxhash.h), for code that needs
 * the same key material, such as a WebAssembly version of the long-input loop.
 *
 * It must not be modified. A typed array cannot be frozen, so this is a copy: writing to it does
 * not change what {@link xxh3} computes, but it does break every other reader of it.
 *
 * @example
 * ```ts
 * XXH3_SECRET.length; // 192
 * XXH3_SECRET[0]; // 0xb8
 * ```
 */
export const XXH3_SECRET: Uint8Array = SECRET.slice();

/** Little-endian 64-bit word of the secret at byte `at`. */
function secret64(at: number): bigint {
  return SECRET_VIEW.getBigUint64(at, true);
}

/** Little-endian 32-bit words of the secret from byte `from`. */
function secretWords32(from: number, count: number): Uint32Array {
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) words[i] = SECRET_VIEW.getUint32(from + 4 * i, true);
  return words;
}

/** The secret as 48 32-bit words: stripe n of a block uses words 2n … 2n + 15. */
const STRIPE_KEYS = secretWords32(0, 48);
/** The 16 words the last stripe uses (secret bytes 121–184). */
const LAST_STRIPE_KEYS = secretWords32(LAST_STRIPE_SECRET, 16);
/** The 16 words the scramble uses (secret bytes 128–191). */
const SCRAMBLE_KEYS = secretWords32(SCRAMBLE_SECRET, 16);
/** The merge's 8 secret words (bytes 11–74), as bigints. */
const MERGE_KEYS = Array.from({ length: 8 }, (_, i) => secret64(MERGE_SECRET + 8 * i));

/** The long path's initial accumulators (XXH3_INIT_ACC). */
const INITIAL_ACCUMULATORS = [
  BigInt(PRIME32_3),
  PRIME64_1,
  PRIME64_2,
  PRIME64_3,
  PRIME64_4,
  BigInt(PRIME32_2),
  PRIME64_5,
  BigInt(PRIME32_1),
] as const;

// ---------------------------------------------------------------------------------------------
// BigInt helpers for the short paths and the merge

/** Low 64 bits of a × b. */
function mul64(a: bigint, b: bigint): bigint {
  return (a * b) & M64;
}

/** The 128-bit product a × b, folded: low half xor high half (XXH3_mul128_fold64). */
function mulFold64(a: bigint, b: bigint): bigint {
  const product = a * b;
  return (product & M64) ^ (product >> 64n);
}

/** XXH3's own avalanche (XXH3_avalanche). */
function avalanche(h: bigint): bigint {
  h ^= h >> 37n;
  h = mul64(h, PRIME_MX1);
  return h ^ (h >> 32n);
}

/** XXH64's avalanche, used by the 0–3 byte paths. */
function avalancheXxh64(h: bigint): bigint {
  h ^= h >> 33n;
  h = mul64(h, PRIME64_2);
  h ^= h >> 29n;
  h = mul64(h, PRIME64_3);
  return h ^ (h >> 32n);
}

function rotl64(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & M64;
}

const SWAP = new DataView(new ArrayBuffer(8));

function bswap64(x: bigint): bigint {
  SWAP.setBigUint64(0, x, true);
  return SWAP.getBigUint64(0, false);
}

/** 16 input bytes at `at` keyed with the 16 secret bytes at `secretAt`, multiplied and folded (XXH3_mix16B, seed 0). */
function mix16(input: DataView, at: number, secretAt: number): bigint {
  return mulFold64(
    input.getBigUint64(at, true) ^ secret64(secretAt),
    input.getBigUint64(at + 8, true) ^ secret64(secretAt + 8),
  );
}

// ---------------------------------------------------------------------------------------------
// Short and medium inputs (0–240 bytes)

function hash0(): bigint {
  return avalancheXxh64(secret64(56) ^ secret64(64));
}

function hash1to3(bytes: Uint8Array): bigint {
  const length = bytes.length;
  const combined =
    ((bytes[0] as number) << 16) |
    ((bytes[length >> 1] as number) << 24) |
    (bytes[length - 1] as number) |
    (length << 8);
  const keys = (SECRET_VIEW.getUint32(0, true) ^ SECRET_VIEW.getUint32(4, true)) >>> 0;
  return avalancheXxh64(BigInt(keys) ^ BigInt(combined >>> 0));
}

function hash4to8(input: DataView, length: number): bigint {
  const first = BigInt(input.getUint32(0, true));
  const last = BigInt(input.getUint32(length - 4, true));
  let h = (last | (first << 32n)) ^ (secret64(8) ^ secret64(16));
  // rrmxmx
  h ^= rotl64(h, 49n) ^ rotl64(h, 24n);
  h = mul64(h, PRIME_MX2);
  h ^= (h >> 35n) + BigInt(length);
  h = mul64(h, PRIME_MX2);
  return h ^ (h >> 28n);
}

function hash9to16(input: DataView, length: number): bigint {
  const low = input.getBigUint64(0, true) ^ (secret64(24) ^ secret64(32));
  const high = input.getBigUint64(length - 8, true) ^ (secret64(40) ^ secret64(48));
  return avalanche((BigInt(length) + bswap64(low) + high + mulFold64(low, high)) & M64);
}

function hash17to128(input: DataView, length: number): bigint {
  let acc = mul64(BigInt(length), PRIME64_1);
  // Pairs of 16-byte chunks from both ends, inwards; the sum does not depend on the order.
  const rounds = ((length - 1) >> 5) + 1;
  for (let i = 0; i < rounds; i++) {
    acc += mix16(input, 16 * i, 32 * i) + mix16(input, length - 16 * i - 16, 32 * i + 16);
  }
  return avalanche(acc & M64);
}

function hash129to240(input: DataView, length: number): bigint {
  let acc = mul64(BigInt(length), PRIME64_1);
  for (let i = 0; i < 8; i++) acc += mix16(input, 16 * i, 16 * i);
  acc = avalanche(acc & M64);
  const chunks = length >> 4;
  for (let i = 8; i < chunks; i++) acc += mix16(input, 16 * i, 16 * (i - 8) + 3);
  // The last 16 bytes, with secret bytes 119–134: XXH3_SECRET_SIZE_MIN (136) − XXH3_MIDSIZE_LASTOFFSET (17).
  acc += mix16(input, length - 16, 136 - 17);
  return avalanche(acc & M64);
}

// ---------------------------------------------------------------------------------------------
// The long path (more than 240 bytes), without BigInt
//
// Accumulator i is kept as three non-negative integer doubles, state[i] (weight 1),
// state[8 + i] (weight 2^16) and state[16 + i] (weight 2^32), exact because at most 16 stripes are
// added between two calls of `normalise`, which settles the carries into 32-bit halves (the
// derivation: docs/algorithms.md, "XXH3 checksums"). In the loops, `a` is the keyed low half made
// unsigned; `b`, the keyed high half, may stay a signed int32, since only its 16-bit halves are used.

/** Adds `stripes` stripes from `at` to the accumulators, keyed by `keys` from word `keyAt` (2 more a stripe). */
function accumulate(
  input: DataView,
  at: number,
  stripes: number,
  keys: Uint32Array,
  keyAt: number,
  state: Float64Array,
): void {
  let x0 = state[0] as number,
    x1 = state[1] as number,
    x2 = state[2] as number,
    x3 = state[3] as number;
  let x4 = state[4] as number,
    x5 = state[5] as number,
    x6 = state[6] as number,
    x7 = state[7] as number;
  let y0 = state[8] as number,
    y1 = state[9] as number,
    y2 = state[10] as number,
    y3 = state[11] as number;
  let y4 = state[12] as number,
    y5 = state[13] as number,
    y6 = state[14] as number,
    y7 = state[15] as number;
  let h0 = state[16] as number,
    h1 = state[17] as number,
    h2 = state[18] as number,
    h3 = state[19] as number;
  let h4 = state[20] as number,
    h5 = state[21] as number,
    h6 = state[22] as number,
    h7 = state[23] as number;
  for (let n = 0; n < stripes; n++, at += STRIPE, keyAt += 2) {
    let lo = input.getUint32(at, true);
    let hi = input.getUint32(at + 4, true);
    let a = (lo ^ (keys[keyAt] as number)) >>> 0;
    let b = hi ^ (keys[keyAt + 1] as number);
    x1 += lo;
    h1 += hi;
    x0 += a * (b & 0xffff);
    y0 += a * (b >>> 16);

    lo = input.getUint32(at + 8, true);
    hi = input.getUint32(at + 12, true);
    a = (lo ^ (keys[keyAt + 2] as number)) >>> 0;
    b = hi ^ (keys[keyAt + 3] as number);
    x0 += lo;
    h0 += hi;
    x1 += a * (b & 0xffff);
    y1 += a * (b >>> 16);

    lo = input.getUint32(at + 16, true);
    hi = input.getUint32(at + 20, true);
    a = (lo ^ (keys[keyAt + 4] as number)) >>> 0;
    b = hi ^ (keys[keyAt + 5] as number);
    x3 += lo;
    h3 += hi;
    x2 += a * (b & 0xffff);
    y2 += a * (b >>> 16);

    lo = input.getUint32(at + 24, true);
    hi = input.getUint32(at + 28, true);
    a = (lo ^ (keys[keyAt + 6] as number)) >>> 0;
    b = hi ^ (keys[keyAt + 7] as number);
    x2 += lo;
    h2 += hi;
    x3 += a * (b & 0xffff);
    y3 += a * (b >>> 16);

    lo = input.getUint32(at + 32, true);
    hi = input.getUint32(at + 36, true);
    a = (lo ^ (keys[keyAt + 8] as number)) >>> 0;
    b = hi ^ (keys[keyAt + 9] as number);
    x5 += lo;
    h5 += hi;
    x4 += a * (b & 0xffff);
    y4 += a * (b >>> 16);

    lo = input.getUint32(at + 40, true);
    hi = input.getUint32(at + 44, true);
    a = (lo ^ (keys[keyAt + 10] as number)) >>> 0;
    b = hi ^ (keys[keyAt + 11] as number);
    x4 += lo;
    h4 += hi;
    x5 += a * (b & 0xffff);
    y5 += a * (b >>> 16);

    lo = input.getUint32(at + 48, true);
    hi = input.getUint32(at + 52, true);
    a = (lo ^ (keys[keyAt + 12] as number)) >>> 0;
    b = hi ^ (keys[keyAt + 13] as number);
    x7 += lo;
    h7 += hi;
    x6 += a * (b & 0xffff);
    y6 += a * (b >>> 16);

    lo = input.getUint32(at + 56, true);
    hi = input.getUint32(at + 60, true);
    a = (lo ^ (keys[keyAt + 14] as number)) >>> 0;
    b = hi ^ (keys[keyAt + 15] as number);
    x6 += lo;
    h6 += hi;
    x7 += a * (b & 0xffff);
    y7 += a * (b >>> 16);
  }
  state[0] = x0;
  state[1] = x1;
  state[2] = x2;
  state[3] = x3;
  state[4] = x4;
  state[5] = x5;
  state[6] = x6;
  state[7] = x7;
  state[8] = y0;
  state[9] = y1;
  state[10] = y2;
  state[11] = y3;
  state[12] = y4;
  state[13] = y5;
  state[14] = y6;
  state[15] = y7;
  state[16] = h0;
  state[17] = h1;
  state[18] = h2;
  state[19] = h3;
  state[20] = h4;
  state[21] = h5;
  state[22] = h6;
  state[23] = h7;
}

/**
 * Settles accumulator i's carries: afterwards state[i] is its low 32 bits, state[16 + i] its high
 * 32 bits and state[8 + i] zero. Every step is exact: the operands are integers below 2^53.
 */
function normalise(state: Float64Array, i: number): void {
  const x = state[i] as number;
  const y = state[8 + i] as number;
  const xLow = x % TWO_32;
  const yLow = y % TWO_16;
  const low = xLow + yLow * TWO_16; // < 2^33
  const lowWord = low % TWO_32;
  const high = (x - xLow) / TWO_32 + (y - yLow) / TWO_16 + (state[16 + i] as number) + (low - lowWord) / TWO_32;
  state[i] = lowWord;
  state[8 + i] = 0;
  state[16 + i] = high % TWO_32;
}

/** The high 32 bits of the 64-bit product of two 32-bit unsigned integers. */
function mulHigh32(a: number, b: number): number {
  const low = a * (b & 0xffff); // < 2^48
  const mid = a * (b >>> 16); // < 2^48, weight 2^16
  const midLow = mid % TWO_16;
  return (mid - midLow) / TWO_16 + Math.floor((low + midLow * TWO_16) / TWO_32);
}

/** XXH3_scrambleAcc: acc ^= acc >> 47; acc ^= secret word; acc *= PRIME32_1 (mod 2^64), each accumulator. */
function scramble(state: Float64Array): void {
  for (let i = 0; i < 8; i++) {
    normalise(state, i);
    const high = state[16 + i] as number;
    const low = ((state[i] as number) ^ (high >>> 15) ^ (SCRAMBLE_KEYS[2 * i] as number)) >>> 0;
    const keyedHigh = (high ^ (SCRAMBLE_KEYS[2 * i + 1] as number)) >>> 0;
    state[i] = Math.imul(low, PRIME32_1) >>> 0;
    state[16 + i] = (mulHigh32(low, PRIME32_1) + Math.imul(keyedHigh, PRIME32_1)) >>> 0;
  }
}

/** The 8 accumulators after the long path's loop over `bytes` (more than 240 bytes), ready to merge. */
function longAccumulators(bytes: Uint8Array): BigUint64Array {
  const length = bytes.length;
  const input = new DataView(bytes.buffer, bytes.byteOffset, length);
  const state = new Float64Array(24);
  for (let i = 0; i < 8; i++) {
    const initial = INITIAL_ACCUMULATORS[i] as bigint;
    state[i] = Number(initial & 0xffff_ffffn);
    state[16 + i] = Number(initial >> 32n);
  }
  const blocks = Math.floor((length - 1) / BLOCK);
  // The last block (1–1024 bytes, a full block included): its full stripes but the last one, then
  // the input's last 64 bytes, which may reach back into the block before.
  const stripes = Math.floor((length - 1 - blocks * BLOCK) / STRIPE);
  for (let b = 0; b < blocks; b++) {
    accumulate(input, b * BLOCK, STRIPES_PER_BLOCK, STRIPE_KEYS, 0, state);
    scramble(state);
  }
  accumulate(input, blocks * BLOCK, stripes, STRIPE_KEYS, 0, state);
  // The input's last 64 bytes, which may reach back into the block before.
  accumulate(input, length - STRIPE, 1, LAST_STRIPE_KEYS, 0, state);
  const acc = new BigUint64Array(8);
  for (let i = 0; i < 8; i++) {
    normalise(state, i);
    acc[i] = (BigInt(state[16 + i] as number) << 32n) | BigInt(state[i] as number);
  }
  return acc;
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * The end of XXH3-64's long path (inputs longer than 240 bytes): `XXH3_mergeAccs(acc, secret + 11,
 * length × PRIME64_1 mod 2^64)` with its final avalanche. Returns the hash as an unsigned bigint.
 *
 * `acc` holds the 8 accumulators after every stripe of the input has been accumulated, the last
 * stripe (the input's last 64 bytes, keyed with secret bytes 121–184) included, and after the
 * scramble that follows every full 1024-byte block but the last. They start as
 * PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1
 * (XXH3_INIT_ACC). {@link xxh3} ends its own long path here; a WebAssembly loop that produces the
 * accumulators ends here too. `acc` is not modified.
 *
 * Throws RangeError when `acc` does not hold 8 values or `length` is not an integer above 240
 * (shorter inputs never reach the merge).
 *
 * @example
 * ```ts
 * const input = new Uint8Array(1000);
 * xxh3MergeAccumulators(xxh3Accumulators(input), input.length) === xxh3(input); // true
 * ```
 */
export function xxh3MergeAccumulators(acc: BigUint64Array, length: number): bigint {
  if (acc.length !== 8) throw new RangeError(`xxh3MergeAccumulators: expected 8 accumulators, got ${acc.length}`);
  if (!Number.isSafeInteger(length) || length <= MIDSIZE_MAX) {
    throw new RangeError(`xxh3MergeAccumulators: length must be an integer above ${MIDSIZE_MAX}, got ${length}`);
  }
  let result = mul64(BigInt(length), PRIME64_1);
  for (let i = 0; i < 8; i += 2) {
    result += mulFold64(
      (acc[i] as bigint) ^ (MERGE_KEYS[i] as bigint),
      (acc[i + 1] as bigint) ^ (MERGE_KEYS[i + 1] as bigint),
    );
  }
  return avalanche(result & M64);
}

/**
 * The 8 accumulators of XXH3-64's long path over `bytes` (longer than 240 bytes), ready for
 * {@link xxh3MergeAccumulators}: what a WebAssembly version of the loop must produce, lane by lane.
 * Computed without BigInt, in place. Throws RangeError for 240 bytes or fewer.
 *
 * @example
 * ```ts
 * const input = new Uint8Array(4096).fill(7);
 * const acc = xxh3Accumulators(input); // BigUint64Array(8)
 * xxh3MergeAccumulators(acc, input.length) === xxh3(input); // true
 * ```
 */
export function xxh3Accumulators(bytes: Uint8Array): BigUint64Array {
  if (bytes.length <= MIDSIZE_MAX) {
    throw new RangeError(`xxh3Accumulators: the long path takes more than ${MIDSIZE_MAX} bytes, got ${bytes.length}`);
  }
  return longAccumulators(bytes);
}

/**
 * XXH3-64 of `bytes` (`XXH3_64bits`: seed 0, default secret), as an unsigned bigint, for every
 * length. Equal to the reference `xxhsum -H3`, whose hex output is this value's 16 hex digits.
 * Reads the bytes in place (any byteOffset, no copy); a long input costs about one pass over it.
 *
 * @example
 * ```ts
 * xxh3(new Uint8Array(0)); // 0x2d06800538d394c2n
 * xxh3(new TextEncoder().encode('abc')).toString(16).padStart(16, '0'); // '78af5f94892f3950'
 * ```
 */
export function xxh3(bytes: Uint8Array): bigint {
  const length = bytes.length;
  if (length > MIDSIZE_MAX) return xxh3MergeAccumulators(longAccumulators(bytes), length);
  if (length === 0) return hash0();
  if (length <= 3) return hash1to3(bytes);
  const input = new DataView(bytes.buffer, bytes.byteOffset, length);
  if (length <= 8) return hash4to8(input, length);
  if (length <= 16) return hash9to16(input, length);
  if (length <= 128) return hash17to128(input, length);
  return hash129to240(input, length);
}
