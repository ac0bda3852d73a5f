/**
 * The decision log's file format, known to this room alone: NDJSON, one record a line, each
 * record's `prev` the SHA-256 (lower-case hex) of the exact bytes of the line before it (without
 * its newline), across rotated files; the first record of a log has `prev` {@link GENESIS}.
 * Files are named by the sequence number of their first record, zero-padded so that their names
 * sort in chain order.
 */
import { createHash } from 'node:crypto';

/** The record format's version, the `v` of every record. */
export const LOG_RECORD_VERSION = 1;

/** The `prev` of a log's first record: no record came before it. */
export const GENESIS = '0'.repeat(64);

/** Digits of a file's sequence number: 16 outlasts any log (10^16 records at 1 µs each is 300 years). */
const SEQ_DIGITS = 16;

const FILE_PATTERN = /^decisions-(\d{16})\.ndjson$/;

/** The name of the file whose first record is `seq`. */
export function logFileName(seq: number): string {
  return `decisions-${String(seq).padStart(SEQ_DIGITS, '0')}.ndjson`;
}

/** The first sequence number a file's name promises, or undefined for a name not a log file's. */
export function logFileSeq(name: string): number | undefined {
  const m = FILE_PATTERN.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** The SHA-256 of one record's line, the `prev` of the record after it. */
export function lineHash(line: Uint8Array | string): string {
  return createHash('sha256').update(line).digest('hex');
}

/** The fields every record begins with, in this order. */
export interface RecordHead {
  readonly v: number;
  readonly seq: number;
  readonly prev: string;
}

/** `line`'s head, when it parses as a record; the reason it does not otherwise. */
export function parseRecord(line: string): RecordHead | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not a JSON record (changed or cut)';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const { v, seq, prev } = value as Record<string, unknown>;
  if (v !== LOG_RECORD_VERSION) return `record version ${JSON.stringify(v)}, not ${LOG_RECORD_VERSION}`;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return 'no valid seq';
  if (typeof prev !== 'string' || !/^[0-9a-f]{64}$/.test(prev)) return 'no valid prev hash';
  return { v, seq, prev };
}
