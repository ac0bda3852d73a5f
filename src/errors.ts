/**
 * Typed errors. Every failure a caller can meet at run time (a bad upload, a bad list row, a
 * broken store) is a {@link HashwardenError} with a stable string `code`; programming errors in
 * arguments are `TypeError` / `RangeError`, as in Node's own APIs.
 */

/** The stable error codes. New codes may be added; existing ones never change meaning. */
export const ERROR_CODES = [
  /**
   * The bytes are not an allowed image format (SVG and PDF are refused by default); for a video
   * (`hashwarden/video`): empty, not a container of the list, no video stream (audio only), or a
   * codec not allowed.
   */
  'ERR_UNSUPPORTED_FORMAT',
  /**
   * The input exceeds the byte limit (a stream: at the chunk that crosses it) or the pixel limit; a
   * video also its duration or frame limit.
   */
  'ERR_IMAGE_TOO_LARGE',
  /** The image decoder (or FFmpeg, for a video) failed: corrupt or truncated data. */
  'ERR_IMAGE_DECODE',
  /**
   * Decoding took longer than the configured timeout, or a streamed input did not end within it
   * (stalled or trickling: the stream was stopped); a video's FFmpeg is stopped and reaped.
   */
  'ERR_IMAGE_TIMEOUT',
  /**
   * The input file could not be read (missing, a directory, no permission); or a streamed input
   * failed (its error is the `cause`), gave a chunk that is not bytes, or cannot be read whole
   * (locked, read from already, ended, destroyed, passed to another call).
   */
  'ERR_INPUT_READ',
  /** A hash value does not parse for its algorithm (bad hex, wrong length), or vPDQ text does not parse. */
  'ERR_HASH_FORMAT',
  /** The algorithm name is not one hashwarden knows. */
  'ERR_UNKNOWN_ALGORITHM',
  /** A hash-list file or row is malformed. */
  'ERR_LIST_FORMAT',
  /** The SQLite store failed or is not a hashwarden store. */
  'ERR_STORE',
  /** An optional module (sharp, better-sqlite3) could not be loaded. */
  'ERR_MODULE_LOAD',
  /**
   * An optional package a feature needs is not installed (better-sqlite3, for the SQLite store), or
   * a program (FFmpeg's `ffmpeg` and `ffprobe`, for `hashwarden/video`) cannot be started; the message
   * names the package and the command that installs it.
   */
  'ERR_MISSING_DEPENDENCY',
  /** A snapshot file is not a snapshot, or its layout is inconsistent. */
  'ERR_SNAPSHOT_FORMAT',
  /** A snapshot of a format version this release does not read. */
  'ERR_SNAPSHOT_VERSION',
  /** A snapshot shorter than its header says. */
  'ERR_SNAPSHOT_TRUNCATED',
  /** A snapshot whose checksums do not match its contents. */
  'ERR_SNAPSHOT_CORRUPT',
  /**
   * A snapshot read with trusted keys that is not signed, is signed by a key not trusted, or was
   * changed since it was signed (any byte of header, section table, signature or a section); or a
   * SQLite store opened with trusted keys (a store carries no signature).
   */
  'ERR_SNAPSHOT_SIGNATURE',
  /**
   * A snapshot older than allowed: its sequence is lower than the one the matcher serves (on
   * reload, unless `allowRollback`) or than `minSequence`. The matcher keeps what it served.
   */
  'ERR_SNAPSHOT_ROLLBACK',
  /** An output file (an exported list) could not be written. */
  'ERR_OUTPUT_WRITE',
  /**
   * A matcher's source holds no entry to match (no list, or every list empty or disabled): it
   * would call every upload clean. Refused unless the caller passes `allowEmpty: true`.
   */
  'ERR_NO_ENTRIES',
  /**
   * The matcher had no room for another upload: `concurrency` uploads in hand and `maxQueued`
   * calls waiting already. The upload was not checked: retry it later or hold it.
   */
  'ERR_BUSY',
  /**
   * A followed matcher could not fetch its source's snapshot: an HTTP status other than 200 or 304,
   * a network error, no complete answer within `timeoutMs`, or a body above `maxSnapshotBytes`.
   * The matcher keeps serving the lists it has and tries again at its next poll.
   */
  'ERR_SOURCE_FETCH',
  /**
   * A hashing thread of the matcher's pool (`hashThreads`), or `hashVideo`'s frame-hashing thread,
   * died while it hashed the upload (out of memory, ended from outside). The upload was not
   * checked: retry it; the pool starts another thread.
   */
  'ERR_HASH_THREAD',
  /**
   * An upload the matcher hashed but could not check against every list it holds (its result has
   * `checked: false`, e.g. a blank image against PDQ-only lists): not an error of `matchImage`, which
   * resolves, but the code the framework adapters answer with and put on the upload's `error`.
   */
  'ERR_NOT_CHECKED',
  /**
   * An HTTP upload a framework adapter refused before checking any file: not `multipart/form-data`,
   * malformed multipart, no file part, or more files, fields or parts than the guard allows.
   */
  'ERR_UPLOAD_REQUEST',
  /**
   * A hash-sharing programme's credentials are missing or unreadable: the environment variable
   * unset, the credentials file absent, unreadable, not JSON, or without a field the programme needs.
   * The message names the variable or file and the field, never a value.
   */
  'ERR_EXCHANGE_CREDENTIALS',
  /**
   * A hash-sharing programme refused the credentials (HTTP 401 or 403: expired, revoked, wrong
   * environment). Not retried; nothing of the refused request was imported.
   */
  'ERR_EXCHANGE_AUTH',
  /**
   * A hash-sharing programme did not answer within `timeoutMs`, on every attempt. The sync kept
   * the pages committed before it; the next sync resumes from the checkpoint.
   */
  'ERR_EXCHANGE_TIMEOUT',
  /**
   * A hash-sharing programme answered with an HTTP status other than success after every retry
   * (429 and 5xx are retried with backoff; other statuses are not), or the connection failed.
   */
  'ERR_EXCHANGE_HTTP',
  /**
   * A hash-sharing programme's answer is malformed: not the XML or JSON its protocol defines, a
   * field of the wrong type, a page above the byte limit. That page's rows are not imported and
   * the checkpoint does not move past it.
   */
  'ERR_EXCHANGE_RESPONSE',
  /**
   * A decision log could not be opened, continued or written (a directory not writable, a disk
   * full, a last record that does not parse), or a file given to `verifyLog` cannot be read. A
   * write failure never fails the matching call: it goes to the log's `onError`.
   */
  'ERR_DECISION_LOG',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The error hashwarden throws for anything that depends on input data rather than on the caller's
 * code. Check `code`, not the message: messages may be reworded.
 *
 * @example
 * ```ts
 * try { await hashImage(upload); }
 * catch (e) { if (e instanceof HashwardenError && e.code === 'ERR_IMAGE_DECODE') reject(); }
 * ```
 */
export class HashwardenError extends Error {
  /** The stable error code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HashwardenError';
    this.code = code;
  }

  /** A plain object for JSON output: `{ code, message }`. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** True when `error` is a {@link HashwardenError}, optionally with the given code. */
export function isHashwardenError(error: unknown, code?: ErrorCode): error is HashwardenError {
  return error instanceof HashwardenError && (code === undefined || error.code === code);
}

/**
 * `ERR_INPUT_READ` for a path that cannot be read (missing, a directory, no permission), with the
 * system's reason: the one shape every reader of files (uploads, list files, snapshots) gives.
 *
 * @internal
 */
export function readError(path: string, error: unknown): HashwardenError {
  return new HashwardenError('ERR_INPUT_READ', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
}

/**
 * Says something that must not stay silent but must not fail the call in hand (a storm with no
 * `onStorm`, a reload that failed, a callback that threw): a process warning of type
 * `HashwardenWarning`, with `code` when it is about an error of that code.
 */
export function emitHashwardenWarning(message: string, code?: ErrorCode): void {
  process.emitWarning(message, { type: 'HashwardenWarning', ...(code === undefined ? {} : { code }) });
}
