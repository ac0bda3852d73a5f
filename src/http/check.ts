/**
 * One file of an upload request as the guard checked it, and the HTTP answer a refusal gets.
 * Imports no framework.
 */
import { HashwardenError, type ErrorCode } from '../errors.js';
import type { ImageMatchResult } from '../matcher/types.js';

/**
 * What the guard made of one file: `'matched'` (an entry of a list matched), `'clean'` (checked
 * against every list, nothing matched) or `'unchecked'` (not checked: see the check's `error`).
 */
export type UploadOutcome = 'clean' | 'matched' | 'unchecked';

/** One file part of an upload request, as the guard checked it. */
export interface UploadCheck {
  /** The form field the file came in. */
  readonly field: string;
  /** The file name the client gave, if any (the client's word: never a path to use as it is). */
  readonly filename: string | undefined;
  /** The media type the client gave (the client's word; the matcher reads the bytes' signature). */
  readonly mimeType: string;
  /** Bytes received. */
  readonly size: number;
  /** The file's bytes, whole (at most `maxBytes`): what a handler stores when it lets the upload through. */
  readonly bytes: Buffer;
  readonly outcome: UploadOutcome;
  /** The full result of `matchImage`, when it resolved (an unchecked one too: `checked: false`). */
  readonly result?: ImageMatchResult;
  /**
   * Why the upload is `'unchecked'`: the `HashwardenError` of `matchImage`, or `ERR_NOT_CHECKED`
   * for a result with `checked: false`. Absent for a clean or matched upload.
   */
  readonly error?: HashwardenError;
}

/** What the guard hands the handler of a request it let through. */
export interface UploadGuardResult {
  /** Each file of the request, in the order received. */
  readonly uploads: readonly UploadCheck[];
  /** The request's text fields: a name sent more than once holds each value, in order. */
  readonly fields: Readonly<Record<string, string | string[]>>;
}

/** A file part's own description, as the multipart parser gives it. */
export interface UploadPart {
  readonly field: string;
  readonly filename: string | undefined;
  readonly mimeType: string;
}

/** The check of a file received whole: what its result or error says of it. */
export function toCheck(part: UploadPart, bytes: Buffer, settled: ImageMatchResult | HashwardenError): UploadCheck {
  const base = { field: part.field, filename: part.filename, mimeType: part.mimeType, size: bytes.length, bytes };
  if (settled instanceof HashwardenError) return { ...base, outcome: 'unchecked', error: settled };
  if (settled.matched) return { ...base, outcome: 'matched', result: settled };
  if (settled.checked) return { ...base, outcome: 'clean', result: settled };
  const unusable = Object.keys(settled.unusable).join(', ') || 'none';
  const error = new HashwardenError(
    'ERR_NOT_CHECKED',
    `The upload could not be checked against every list (unusable hashes: ${unusable})`,
  );
  return { ...base, outcome: 'unchecked', result: settled, error };
}

/** An HTTP answer the guard gives: status, headers, and a body sent as JSON (a string as it is). */
export interface UploadResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: unknown;
}

/**
 * The status each refusal of an upload gets, in the guards and the sidecar alike, so that one file
 * is answered the same way on every path. 422 for a well-formed request whose image could not be
 * checked; 415 for a file that is no image format decoded here (HTTP's "unsupported media type").
 */
const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_UPLOAD_REQUEST: 400,
  ERR_UNSUPPORTED_FORMAT: 415,
  ERR_IMAGE_DECODE: 422,
  ERR_NOT_CHECKED: 422,
  // A file part that failed while it arrived: the client's stream (aborted, malformed multipart).
  ERR_INPUT_READ: 400,
  ERR_IMAGE_TIMEOUT: 408,
  ERR_IMAGE_TOO_LARGE: 413,
  // Not checked for want of room or of a thread: the same upload succeeds when retried.
  ERR_BUSY: 503,
  ERR_HASH_THREAD: 503,
  // The server cannot decode at all (sharp installed but broken): its fault, not the upload's.
  ERR_MODULE_LOAD: 500,
};

/**
 * The status an upload refused with a `HashwardenError` of `code` is answered with, or undefined
 * for a code that is not about an upload (the caller's fallback: 422 in the guards, where every
 * error is an upload's; 500 in the sidecar, where it may be the server's).
 */
export function uploadStatus(code: ErrorCode): number | undefined {
  return STATUS[code];
}

/**
 * The answer to an upload refused with `error`: its status, `{ code }` as body (the code alone:
 * messages may name limits, never the lists), `Retry-After` with a 503, `Connection: close` when
 * the body was not read whole (`close`), so the server reads no more of it.
 */
export function refusal(error: HashwardenError, retryAfterSeconds: number, close: boolean): UploadResponse {
  const status = uploadStatus(error.code) ?? 422;
  const headers: Record<string, string> = {};
  if (status === 503) headers['retry-after'] = String(retryAfterSeconds);
  if (close) headers.connection = 'close';
  return { status, headers, body: { code: error.code } };
}
