/**
 * `verifyLog`: proves a decision log's chain unbroken, or names the first record where it breaks.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { HashwardenError } from '../errors.js';
import { GENESIS, lineHash, logFileSeq, parseRecord } from './format.js';

/** Options of {@link verifyLog}. */
export interface VerifyLogOptions {
  /**
   * The SHA-256 the last record must have (a `DecisionLog`'s `head.hash`, kept apart from the
   * log): without it, records cut from the end of the newest file at a line boundary cannot be told
   * from records never written.
   */
  readonly head?: string;
}

/** What {@link verifyLog} found. */
export type LogVerifyResult =
  | {
      readonly ok: true;
      /** Records checked. */
      readonly records: number;
      /** The files read, in chain order. */
      readonly files: readonly string[];
      /** The first record's sequence number: 1 when the log is whole from its start, more when older files were left out. */
      readonly firstSeq: number;
      /** The last record: its sequence number and the SHA-256 of its line (to keep, for `head`). */
      readonly head: { readonly seq: number; readonly hash: string };
    }
  | {
      readonly ok: false;
      /** Records checked before the break. */
      readonly records: number;
      /** The file and the 1-based line of the first bad record. */
      readonly file: string;
      readonly line: number;
      /** Why it is bad. */
      readonly reason: string;
    };

/** Read in chunks: a file of any size is verified in bounded memory. */
const CHUNK_BYTES = 1024 * 1024;

/** The log files given: files as they are, a directory as its log files in chain order. */
function expand(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    let directory: boolean;
    try {
      directory = statSync(path).isDirectory();
    } catch (error) {
      throw new HashwardenError('ERR_DECISION_LOG', `Cannot read ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!directory) out.push(path);
    else
      out.push(
        ...readdirSync(path)
          .filter((name) => logFileSeq(name) !== undefined)
          .sort()
          .map((name) => join(path, name)),
      );
  }
  return out;
}

/** Each line of `path` (without its newline) and whether the file ended in one. */
function* lines(path: string): Generator<{ line: Buffer; whole: boolean }> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new HashwardenError('ERR_DECISION_LOG', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    let rest = Buffer.alloc(0);
    const chunk = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (n === 0) break;
      let data = Buffer.concat([rest, chunk.subarray(0, n)]);
      let end: number;
      while ((end = data.indexOf(0x0a)) >= 0) {
        yield { line: data.subarray(0, end), whole: true };
        data = data.subarray(end + 1);
      }
      rest = Buffer.from(data);
    }
    if (rest.length > 0) yield { line: rest, whole: false };
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks the chain of a decision log's files, given in chain order (a directory stands for its
 * log files, in order): each record parses, follows the one before by sequence number and by the
 * SHA-256 of its line, each file begins with the record its name promises, and no file ends in a
 * torn line. The first record must have the genesis hash when its sequence is 1; a later first
 * sequence (older files left out) is accepted and reported as `firstSeq`. A changed byte, a
 * removed or reordered record, a removed middle file and a torn or cut tail are each found at the
 * first record they break (a cut at a line boundary of the newest file only with `head`).
 * `ERR_DECISION_LOG` when a file cannot be read; a broken chain is a result, not an error.
 *
 * @example
 * ```ts
 * const r = verifyLog(['/var/log/hashwarden']);
 * if (!r.ok) alert(`${r.file}:${r.line}: ${r.reason}`);
 * ```
 */
export function verifyLog(files: readonly string[], options: VerifyLogOptions = {}): LogVerifyResult {
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string' || f.length === 0))
    throw new TypeError(`Expected array of file paths for files but received ${typeof files}`);
  const paths = expand(files);
  let records = 0;
  let previous: { seq: number; hash: string } | undefined;
  let firstSeq = 0;
  let lastLine = 0;
  for (const file of paths) {
    const promised = logFileSeq(basename(file));
    let number = 0;
    for (const { line, whole } of lines(file)) {
      number++;
      const broken = (reason: string): LogVerifyResult => ({ ok: false, records, file, line: number, reason });
      if (!whole)
        return broken(
          `torn last line (${line.length} bytes without a newline): the file was cut, or a crash interrupted a write`,
        );
      const record = parseRecord(line.toString('utf8'));
      if (typeof record === 'string') return broken(record);
      if (number === 1 && promised !== undefined && record.seq !== promised)
        return broken(`the file's name promises record ${promised} first, but it begins with record ${record.seq}`);
      if (previous === undefined) {
        if (record.seq === 1 && record.prev !== GENESIS)
          return broken('the first record of the log lacks the genesis prev');
        firstSeq = record.seq;
      } else {
        if (record.seq !== previous.seq + 1)
          return broken(`record ${record.seq} follows record ${previous.seq}: records removed, reordered or inserted`);
        if (record.prev !== previous.hash)
          return broken(
            `prev does not match the SHA-256 of the record before it: that record (or this one's prev) was changed`,
          );
      }
      previous = { seq: record.seq, hash: lineHash(line) };
      records++;
      lastLine = number;
    }
  }
  if (previous === undefined) {
    const file = paths[0] ?? '';
    return { ok: false, records, file, line: 0, reason: 'no record: the log is empty' };
  }
  if (options.head !== undefined && options.head.toLowerCase() !== previous.hash) {
    const file = paths[paths.length - 1] as string;
    return {
      ok: false,
      records,
      file,
      line: lastLine,
      reason: `the last record (${previous.seq}) is not the expected head ${options.head}: records were cut from the end, or added`,
    };
  }
  return { ok: true, records, files: paths, firstSeq, head: previous };
}
