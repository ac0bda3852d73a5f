/**
 * A snapshot's layout (docs/snapshot-format.md) taken apart into its sections and put back together
 * as writeSnapshot lays it out, with the checksums a reader checks first made valid: for tests and
 * corpora that damage a snapshot knowingly. Checksums come from the JavaScript XXH3, the reference
 * the WebAssembly one is tested against, not from the code under test.
 */
import { SNAPSHOT_MAGIC, SNAPSHOT_VERSION } from '../snapshot/format.js';
import { xxh3 } from '../snapshot/xxh3.js';

/** A section of a snapshot: its bytes, or (`declared`) only the length its table row declares. */
export interface LaidSection {
  readonly kind: number;
  readonly algorithm: number;
  readonly part: number;
  readonly data: Uint8Array;
  /** The length the table declares when not `data.length`: the bytes are left to a sparse file. */
  readonly declared?: number;
}

/** A DataView over exactly `bytes`. */
export const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** The sections of a well-formed snapshot, in table order. */
export function disassemble(bytes: Uint8Array): LaidSection[] {
  const view = viewOf(bytes);
  return Array.from({ length: view.getUint32(12, true) }, (_, i) => {
    const at = 64 + i * 32;
    const offset = Number(view.getBigUint64(at + 16, true));
    const length = Number(view.getBigUint64(at + 24, true));
    return {
      kind: view.getUint16(at, true),
      algorithm: view.getUint16(at + 2, true),
      part: view.getUint32(at + 4, true),
      data: bytes.slice(offset, offset + length),
    };
  });
}

/** Makes the header's checksum, and the table's (when the table fits in the file), valid again. */
export function reseal(bytes: Uint8Array): Uint8Array {
  const view = viewOf(bytes);
  const tableEnd = 64 + view.getUint32(12, true) * 32;
  if (tableEnd <= bytes.length) view.setBigUint64(24, xxh3(bytes.subarray(64, tableEnd)), true);
  view.setBigUint64(56, xxh3(bytes.subarray(0, 56)), true);
  return bytes;
}

/**
 * The sections laid out as writeSnapshot lays them out, every checksum valid except those of
 * declared-only sections: the bytes to write, and the file's size (`size` to extend a sparse file
 * to, at least the layout's end). With a declared-only section the bytes stop at the last real
 * byte, the rest left to holes.
 */
export function assemble(sections: readonly LaidSection[], size = 0): { bytes: Uint8Array; size: number } {
  let end = align64(64 + sections.length * 32);
  let written = end;
  const offsets = sections.map((s) => {
    const at = end;
    end = align64(at + (s.declared ?? s.data.length));
    if (s.declared === undefined) written = at + s.data.length;
    return at;
  });
  const total = Math.max(end, size);
  const out = new Uint8Array(sections.some((s) => s.declared !== undefined) ? written : total);
  const view = viewOf(out);
  out.set(SNAPSHOT_MAGIC, 0);
  view.setUint32(8, SNAPSHOT_VERSION, true);
  view.setUint32(12, sections.length, true);
  view.setBigUint64(16, BigInt(total), true);
  sections.forEach((s, i) => {
    const at = 64 + i * 32;
    view.setUint16(at, s.kind, true);
    view.setUint16(at + 2, s.algorithm, true);
    view.setUint32(at + 4, s.part, true);
    view.setBigUint64(at + 8, s.declared === undefined ? xxh3(s.data) : 0n, true);
    view.setBigUint64(at + 16, BigInt(offsets[i] as number), true);
    view.setBigUint64(at + 24, BigInt(s.declared ?? s.data.length), true);
    if (s.declared === undefined) out.set(s.data, offsets[i]);
  });
  return { bytes: reseal(out), size: total };
}
