/**
 * `DecisionLog`: the append-only, hash-chained log of a matcher's decisions, in a directory of
 * NDJSON files rotated by size (format.ts).
 */
import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  fstatSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { HashwardenError } from '../errors.js';
import { fileMode, integerInRange, nonEmptyString, optionsObject } from '../validate.js';
import { GENESIS, LOG_RECORD_VERSION, lineHash, logFileName, logFileSeq, parseRecord } from './format.js';
import {
  decisionBody,
  notCheckedBody,
  stormBody,
  type DecisionContext,
  type LoggedResult,
  type LoggedStorm,
  type StormAction,
} from './record.js';

/**
 * Default size at which a log file is closed and the next begun: 64 MiB. A decision record is
 * about 0.5–2 KB (more for an animation's frames), so a file holds some 50,000 decisions, about
 * ten minutes of a service at 100 uploads a second: small enough to ship, archive and
 * `log verify` (it hashes about 500 MB/s) one file at a time, and to lose little with one
 * damaged file; large enough that a busy service does not make thousands of files a day.
 */
export const DEFAULT_LOG_FILE_BYTES = 64 * 1024 * 1024;

/** Smallest `maxFileBytes`: below one record's size every record would begin a file. */
const MIN_LOG_FILE_BYTES = 64 * 1024;

/**
 * Default time between syncs of the written records to the disk: 1 s. Every record is handed to
 * the kernel at once, in one `write` (a crash of the process loses none); a sync each record
 * would cost a disk flush, milliseconds, per upload, more than the 3% a log may cost. A crash of
 * the machine loses at most the last second's records, and the last line torn is repaired at
 * the next `open`.
 */
export const DEFAULT_LOG_SYNC_MS = 1000;

/** Longest sync interval: a minute of decisions is the most a machine crash should lose. */
const MAX_LOG_SYNC_MS = 60_000;

/** Largest tail read back at `open` looking for the last record: a record this long is not one the log wrote. */
const MAX_TAIL_BYTES = 16 * 1024 * 1024;

/** Options of {@link DecisionLog.open}. */
export interface DecisionLogOptions {
  /** Size in bytes at which a file is closed and the next one begun. Default {@link DEFAULT_LOG_FILE_BYTES}. */
  readonly maxFileBytes?: number;
  /**
   * Milliseconds between syncs to the disk of the records written (`fdatasync`), 0–60,000; 0 syncs
   * each record before `append` returns. Default {@link DEFAULT_LOG_SYNC_MS}.
   */
  readonly syncMs?: number;
  /**
   * Called with an `ERR_DECISION_LOG` error when a record cannot be written (disk full, file
   * removed, I/O error). Writing never throws into the matching call: the decision stands and is
   * returned, and the record is lost (the log's chain stays whole: the file is cut back to its last
   * whole record). Default: the error is emitted as a process warning.
   */
  readonly onError?: (error: HashwardenError) => void;
  /** Permission bits of the files created. Default `0o600`: decisions name content and lists. */
  readonly mode?: number;
}

/** The last record of a log: its sequence number and the SHA-256 of its line (`GENESIS` before any). */
export interface LogHead {
  readonly seq: number;
  readonly hash: string;
}

interface Resolved {
  readonly maxFileBytes: number;
  readonly syncMs: number;
  readonly onError: (error: HashwardenError) => void;
  readonly mode: number;
}

function resolve(options: DecisionLogOptions | undefined): Resolved {
  const o = optionsObject(options, 'options');
  if (o.onError !== undefined && typeof o.onError !== 'function')
    throw new TypeError(`Expected function for options.onError but received ${typeof o.onError}`);
  return Object.freeze({
    maxFileBytes:
      o.maxFileBytes === undefined
        ? DEFAULT_LOG_FILE_BYTES
        : integerInRange(o.maxFileBytes, MIN_LOG_FILE_BYTES, Number.MAX_SAFE_INTEGER, 'options.maxFileBytes'),
    syncMs:
      o.syncMs === undefined ? DEFAULT_LOG_SYNC_MS : integerInRange(o.syncMs, 0, MAX_LOG_SYNC_MS, 'options.syncMs'),
    onError: o.onError ?? ((error: HashwardenError) => process.emitWarning(error)),
    mode: fileMode(o.mode, 'options.mode'),
  });
}

function logError(what: string, error: unknown): HashwardenError {
  return new HashwardenError('ERR_DECISION_LOG', `${what}: ${(error as Error).message ?? String(error)}`, {
    cause: error,
  });
}

/** A file's last whole line (bytes before its final newline), and how many bytes follow that newline. */
function readTail(fd: number, size: number): { last: Buffer | undefined; wholeBytes: number } {
  let length = Math.min(size, 64 * 1024);
  for (;;) {
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const end = buffer.lastIndexOf(0x0a);
    if (end < 0 && length === size) return { last: undefined, wholeBytes: 0 };
    if (end >= 0) {
      const start = buffer.lastIndexOf(0x0a, end - 1) + 1;
      if (start > 0 || length === size)
        return { last: buffer.subarray(start, end), wholeBytes: size - length + end + 1 };
    }
    if (length >= MAX_TAIL_BYTES) throw new Error(`no record in the last ${MAX_TAIL_BYTES} bytes`);
    length = Math.min(size, length * 2);
  }
}

/**
 * An append-only log of decisions: one NDJSON record a decision, each carrying the SHA-256 of the
 * record before it, in files of at most `maxFileBytes` named `decisions-<first seq>.ndjson`.
 * Give it to a matcher (`MatcherOptions.decisionLog`) to record every `matchImage` and
 * `matchImages` decision; `verifyLog` (or `hashwarden log verify`) proves the chain unbroken.
 * Synchronous appends, from one process: two processes must not share a directory.
 *
 * @example
 * ```ts
 * const log = await DecisionLog.open('/var/log/hashwarden', { onError: (e) => metrics.count(e.code) });
 * const matcher = await Matcher.open('lists.snap', { decisionLog: log });
 * await matcher.matchImage(upload, { contentId: 'upload-8812' });
 * ```
 */
export class DecisionLog {
  readonly #dir: string;
  readonly #options: Resolved;
  #fd: number | undefined;
  #size = 0;
  #head: LogHead;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(dir: string, options: Resolved, head: LogHead, fd: number | undefined, size: number) {
    this.#dir = dir;
    this.#options = options;
    this.#head = head;
    this.#fd = fd;
    this.#size = size;
  }

  /**
   * Opens the log in `dir` (created when absent) and continues its chain from its last record.
   * A last line torn by a crash (bytes after the last newline) is cut off, and a `recovered`
   * record naming how many bytes were cut and their SHA-256 is appended first, so the loss is
   * itself in the chain. `ERR_DECISION_LOG` when the directory or its last file cannot be read,
   * or its last record does not parse (run `hashwarden log verify` on it).
   */
  static async open(dir: string, options?: DecisionLogOptions): Promise<DecisionLog> {
    nonEmptyString(dir, 'dir', 4096);
    const resolved = resolve(options);
    let files: string[];
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      files = readdirSync(dir)
        .filter((name) => logFileSeq(name) !== undefined)
        .sort();
    } catch (error) {
      throw logError(`Cannot open the decision log ${dir}`, error);
    }
    let head: LogHead = { seq: 0, hash: GENESIS };
    let torn: { bytes: number; hash: string } | undefined;
    let fd: number | undefined;
    let size = 0;
    // From the newest file back: a file whose only line was torn holds no record to continue from.
    for (let i = files.length - 1; i >= 0 && head.seq === 0; i--) {
      const path = join(dir, files[i] as string);
      let file: number | undefined;
      try {
        file = openSync(path, 'r');
        const total = fstatSync(file).size;
        const { last, wholeBytes } = readTail(file, total);
        if (wholeBytes < total) {
          if (i !== files.length - 1) throw new Error('it ends in a torn line, and it is not the newest file');
          const cut = Buffer.alloc(total - wholeBytes);
          readSync(file, cut, 0, cut.length, wholeBytes);
          torn = { bytes: cut.length, hash: lineHash(cut) };
          truncateSync(path, wholeBytes);
        }
        if (last !== undefined) {
          const record = parseRecord(last.toString('utf8'));
          if (typeof record === 'string') throw new Error(`its last record is ${record}`);
          head = { seq: record.seq, hash: lineHash(last) };
        }
        // Appended to from here on: 'a' writes at the end whatever was read.
        if (i === files.length - 1) [fd, size] = [openSync(path, 'a', resolved.mode), wholeBytes];
      } catch (error) {
        throw logError(`Cannot continue the decision log ${path}`, error);
      } finally {
        if (file !== undefined) closeSync(file);
      }
    }
    const log = new DecisionLog(dir, resolved, head, fd, size);
    if (torn !== undefined) log.#append({ kind: 'recovered', tornBytes: torn.bytes, tornSha256: torn.hash }, true);
    return log;
  }

  /** The last record written: its sequence number (0 before any) and the SHA-256 of its line. */
  get head(): LogHead {
    return this.#head;
  }

  /** The directory the log writes in. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Appends the record of a decision: everything `result` says (matches with the `threshold`
   * they were found within when `context.threshold` gives it), the content id and batch item.
   * Returns false when the record could not be written (reported to `onError`); never throws.
   */
  logResult(result: LoggedResult, context: DecisionContext = {}): boolean {
    return this.#append(decisionBody(result, context));
  }

  /** Appends the record of an upload that was not checked, with its error's code. Never throws. */
  logNotChecked(error: unknown, context: DecisionContext = {}): boolean {
    return this.#append(notCheckedBody(error, context));
  }

  /**
   * Appends the record of a storm of the match-rate alarm (`kind: 'storm'`), raised or released:
   * a matcher given this log records its own. Never throws.
   */
  logStorm(action: StormAction, storm: LoggedStorm): boolean {
    return this.#append(stormBody(action, storm));
  }

  #append(body: Record<string, unknown>, throwing = false): boolean {
    try {
      if (this.#closed) throw new Error('the log is closed');
      const seq = this.#head.seq + 1;
      const line = JSON.stringify({
        v: LOG_RECORD_VERSION,
        seq,
        prev: this.#head.hash,
        time: new Date().toISOString(),
        ...body,
      });
      const bytes = Buffer.from(`${line}\n`, 'utf8');
      if (this.#fd !== undefined && this.#size > 0 && this.#size + bytes.length > this.#options.maxFileBytes)
        this.#rotate();
      if (this.#fd === undefined) {
        this.#fd = openSync(join(this.#dir, logFileName(seq)), 'a', this.#options.mode);
        this.#size = 0;
      }
      this.#write(bytes);
      this.#head = { seq, hash: lineHash(bytes.subarray(0, bytes.length - 1)) };
      if (this.#options.syncMs === 0) fdatasyncSync(this.#fd);
      else this.#timer ??= setTimeout(() => this.#sync(), this.#options.syncMs).unref();
      return true;
    } catch (error) {
      const failure = logError(`Cannot write to the decision log ${this.#dir}`, error);
      if (throwing) throw failure;
      this.#options.onError(failure);
      return false;
    }
  }

  /** Writes a whole line, or cuts the file back to its last whole record and throws. */
  #write(bytes: Buffer): void {
    const fd = this.#fd as number;
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      this.#size += bytes.length;
    } catch (error) {
      if (written > 0) {
        try {
          ftruncateSync(fd, this.#size);
        } catch {
          // The next open cuts the torn line and records it.
        }
      }
      throw error;
    }
  }

  #rotate(): void {
    const fd = this.#fd as number;
    this.#fd = undefined;
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  #sync(): void {
    this.#timer = undefined;
    if (this.#fd === undefined) return;
    try {
      fdatasyncSync(this.#fd);
    } catch (error) {
      this.#options.onError(logError(`Cannot sync the decision log ${this.#dir}`, error));
    }
  }

  /** Syncs what was written to the disk and closes the file; later appends fail (`onError`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      fdatasyncSync(fd);
    } catch (error) {
      throw logError(`Cannot sync the decision log ${this.#dir}`, error);
    } finally {
      closeSync(fd);
    }
  }
}
