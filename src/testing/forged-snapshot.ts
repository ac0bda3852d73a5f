/**
 * Forged snapshots for tests and measurements: a header, a section table and a META section with
 * valid checksums, declaring sections of any size, whose bytes are not there (zeros, read from a
 * sparse file or from a source that records each read). What an attacker can write in a few KB.
 */
import { open } from 'node:fs/promises';
import { HashwardenError } from '../errors.js';
import {
  HEADER_BYTES,
  HEADER_CHECKSUM_AT,
  KIND,
  NO_ALGORITHM,
  ROW_BYTES,
  SNAPSHOT_MAGIC,
  align,
} from '../snapshot/format.js';
import type { Source } from '../snapshot/read.js';
import { xxh3 } from '../snapshot/xxh3.js';

/** A section to declare: its row, and either its bytes or only its length (then zeros, wrong checksum). */
export interface ForgedSection {
  readonly kind: number;
  readonly algorithm: number;
  readonly part?: number;
  readonly length?: number;
  readonly data?: Uint8Array;
  /** Bytes of padding before it beyond the alignment (the writer leaves none). */
  readonly gapBefore?: number;
}

/** A forged snapshot: the bytes up to the end of META (`head`), and the size the header declares. */
export interface ForgedSnapshot {
  readonly head: Uint8Array;
  readonly size: number;
}

/**
 * Lays out META then `sections` as the writer would (each at the next multiple of 64), with valid
 * header, table and META checksums; section bytes past META are not held (only `head` is).
 */
export function forgeSnapshot(meta: unknown, sections: readonly ForgedSection[]): ForgedSnapshot {
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta));
  const all: ForgedSection[] = [{ kind: KIND.META, algorithm: NO_ALGORITHM, data: metaBytes }, ...sections];
  const table = new DataView(new ArrayBuffer(all.length * ROW_BYTES));
  let offset = align(HEADER_BYTES + all.length * ROW_BYTES);
  const small: [number, Uint8Array][] = [];
  all.forEach((s, i) => {
    const length = s.data?.length ?? s.length ?? 0;
    offset += s.gapBefore ?? 0;
    const at = i * ROW_BYTES;
    table.setUint16(at, s.kind, true);
    table.setUint16(at + 2, s.algorithm, true);
    table.setUint32(at + 4, s.part ?? 0, true);
    table.setBigUint64(at + 8, s.data === undefined ? 0n : xxh3(s.data), true);
    table.setBigUint64(at + 16, BigInt(offset), true);
    table.setBigUint64(at + 24, BigInt(length), true);
    if (s.data !== undefined && s.data.length > 0) small.push([offset, s.data]);
    offset = align(offset + length);
  });
  const size = offset;
  // The head holds META and every section given with its bytes (keep those before the large ones).
  const head = new Uint8Array(Math.max(...small.map(([at, data]) => align(at + data.length))));
  const header = new DataView(head.buffer);
  head.set(SNAPSHOT_MAGIC, 0);
  header.setUint32(8, 2, true);
  header.setUint32(12, all.length, true);
  header.setBigUint64(16, BigInt(size), true);
  header.setBigUint64(24, xxh3(new Uint8Array(table.buffer)), true);
  header.setBigUint64(HEADER_CHECKSUM_AT, xxh3(head.subarray(0, HEADER_CHECKSUM_AT)), true);
  head.set(new Uint8Array(table.buffer), HEADER_BYTES);
  for (const [at, data] of small) head.set(data, at);
  return { head, size };
}

/**
 * A source serving the forged head, that refuses (and records) every read past it, without
 * touching the memory it was given: a reader that refuses the file before reading, or allocating
 * for, any section of the forged size never asks.
 */
export function forgedSource(forged: ForgedSnapshot): Source & { readonly readsPastHead: number[] } {
  const readsPastHead: number[] = [];
  return {
    size: forged.size,
    readsPastHead,
    read(into, position) {
      if (position + into.length > forged.head.length) {
        readsPastHead.push(position);
        return Promise.reject(new Error(`read of ${into.length} bytes at ${position}, past the forged head`));
      }
      into.set(forged.head.subarray(position, position + into.length));
      return Promise.resolve();
    },
  };
}

/** Writes a forged snapshot as a sparse file: its head, then a hole up to the declared size. */
export async function writeForged(path: string, forged: ForgedSnapshot): Promise<void> {
  const file = await open(path, 'w', 0o600);
  try {
    await file.write(forged.head, 0, forged.head.length, 0);
    await file.truncate(forged.size);
  } finally {
    await file.close();
  }
}

/** The finding's forged files (issue 18, finding 7), each a few KB on disk. */
export const FORGED_CASES: Readonly<Record<string, () => ForgedSnapshot>> = {
  /** One MD5 entry, and three string sections of 3.5 GiB each. */
  'huge-strings': () => {
    const huge = 3.5 * 2 ** 30;
    return forgeSnapshot(exactMeta(1), [
      { kind: KIND.EXACT, algorithm: 0, data: new Uint8Array(16) },
      { kind: KIND.ENTRY_LIST, algorithm: 0, data: new Uint8Array(0) },
      { kind: KIND.ENTRY_ID_OFFSETS, algorithm: 0, data: new Uint8Array(0) },
      { kind: KIND.ENTRY_ID_BYTES, algorithm: 0, length: huge },
      { kind: KIND.ENTRY_LABEL_OFFSETS, algorithm: 0, data: new Uint8Array(0) },
      { kind: KIND.ENTRY_LABEL_BYTES, algorithm: 0, length: huge },
      { kind: KIND.ENTRY_METADATA_OFFSETS, algorithm: 0, data: new Uint8Array(0) },
      { kind: KIND.ENTRY_METADATA_BYTES, algorithm: 0, length: huge },
    ]);
  },
  /** 2^26 PDQ entries declared, their two planes (1 GiB each) there, nothing else. */
  'pdq-2^26-planes': () =>
    forgeSnapshot(perceptualMeta(2 ** 26), [
      { kind: KIND.PLANE_A, algorithm: 0, length: 2 ** 26 * 16 },
      { kind: KIND.PLANE_B, algorithm: 0, length: 2 ** 26 * 16 },
    ]),
  /** 2^26 PDQ entries declared, and only META, in a file large enough for their hashes. */
  'pdq-2^26-gap': () => {
    const forged = forgeSnapshot(perceptualMeta(2 ** 26), []);
    return resized(forged, 2 ** 31 + 4096);
  },
  /** A valid one-entry META, and a 60 GB section of a kind no release defines. */
  'unknown-kind-60GB': () => forgeSnapshot(exactMeta(1), [{ kind: 99, algorithm: NO_ALGORITHM, length: 60e9 }]),
};

/** META of one list and these algorithms, each `[name, bits, count, tier]`. */
export function forgedMeta(...algorithms: [name: string, bits: number, count: number, tier: string][]): unknown {
  return {
    created: '',
    lists: [{ name: 'l', version: 1 }],
    algorithms: algorithms.map(([name, bits, count, tier]) => ({ name, bits, count, search: { tier } })),
  };
}

const exactMeta = (count: number): unknown => forgedMeta(['md5', 128, count, 'exact']);
const perceptualMeta = (count: number): unknown => forgedMeta(['pdq', 256, count, 'linear']);

/** `forged` declaring `size` bytes (a gap after its last section), its header checksum made valid again. */
export function resized(forged: ForgedSnapshot, size: number): ForgedSnapshot {
  const head = Uint8Array.from(forged.head);
  const view = new DataView(head.buffer);
  view.setBigUint64(16, BigInt(size), true);
  view.setBigUint64(HEADER_CHECKSUM_AT, xxh3(head.subarray(0, HEADER_CHECKSUM_AT)), true);
  return { head, size };
}

/** The code `promise` rejects with (`resolved` if it does not): what snapshot tests compare. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `not a HashwardenError: ${String(error)}`;
  }
}
