/**
 * The options of an upload guard (the framework adapters' one policy), resolved once against the
 * matcher they guard. Imports no framework.
 */
import type { Matcher } from '../matcher/matcher.js';
import type { MatchImageOptions } from '../matcher/types.js';
import { DEFAULT_MAX_QUEUED } from '../matcher/types.js';
import { boolean, integerInRange, invalid, optionsObject } from '../validate.js';
import type { UploadCheck, UploadResponse } from './check.js';

export type { UploadResponse } from './check.js';

/**
 * Default file parts a request may carry: 1. An upload route takes one image in the common case,
 * and each file of a request is checked in turn while the request holds its in-flight slot, so a
 * request of many files holds a slot many times as long; a gallery route raises it on purpose.
 */
const DEFAULT_MAX_FILES = 1;
/** Default text fields a request may carry beside its files: 32, ample for a form's caption, tags, ids. */
const DEFAULT_MAX_FIELDS = 32;
/** Default bytes of one text field: 64 KiB, a long caption; busboy's own default (1 MiB) is for forms, not uploads. */
const DEFAULT_MAX_FIELD_BYTES = 64 * 1024;
/**
 * Retry-After of a 503 (in-flight full, `ERR_BUSY`), in seconds: 1. One upload is checked in tens of
 * milliseconds, so a slot is free again well within a second; a longer wait only delays the retry.
 */
const DEFAULT_RETRY_AFTER_SECONDS = 1;
/**
 * Bytes allowed per part beyond its content when a request's Content-Length is checked before its
 * body is read: the boundary line and the part's headers (a name, a long filename, a type). A
 * Content-Length above what the guard's largest valid request could be is refused at once (413).
 */
const PART_OVERHEAD_BYTES = 2048;

/**
 * The default answer to a blocked upload: 403 with a body that names no list, entry or distance.
 * Telling the uploader which list matched is what a trust-and-safety team avoids: it tells them
 * what is listed and how near their edit came.
 */
const BLOCKED: UploadResponse = Object.freeze({ status: 403, body: Object.freeze({ error: 'upload refused' }) });

/**
 * Options of `uploadGuard` (`hashwarden/express`, `hashwarden/fastify`, `hashwarden/web`); `R` is
 * the framework's request, as the hooks receive it. Status codes: docs/api.md, "Upload guards".
 */
export interface UploadGuardOptions<R = unknown> {
  /**
   * Largest file part, in bytes: a larger one is refused with 413 (`ERR_IMAGE_TOO_LARGE`) at the
   * chunk that crosses it. At most the matcher's own `maxBytes`. Default: the matcher's `maxBytes`
   * (its `image.maxBytes`, else 50 MiB).
   */
  readonly maxBytes?: number;
  /** File parts a request may carry, 1–1024; more is refused with 400 (`ERR_UPLOAD_REQUEST`). Default 1. */
  readonly maxFiles?: number;
  /** Text fields a request may carry, 0–1024; more is refused with 400 (`ERR_UPLOAD_REQUEST`). Default 32. */
  readonly maxFields?: number;
  /** Bytes of one text field, 1 B–16 MiB; a longer one is refused with 400 (`ERR_UPLOAD_REQUEST`). Default 64 KiB. */
  readonly maxFieldBytes?: number;
  /**
   * Requests this guard checks at once (from their first byte to the decision); one more is
   * answered 503 with `Retry-After`, its body unread. Default: the matcher's `concurrency` +
   * `maxQueued` (68 at the matcher's defaults; with `maxQueued: Infinity`, `concurrency` + 64): the
   * requests the matcher can hold in hand or in line, so the guard's own load never meets
   * `ERR_BUSY`, and a request the matcher would refuse is refused before its body is read.
   */
  readonly maxInFlight?: number;
  /**
   * Seconds a request's body has to arrive, 1–3600, counted while the guard waits for the client
   * (not while an upload waits for its turn in the matcher or is decoded): past it the request is
   * answered 408 (`ERR_IMAGE_TIMEOUT`) and its connection closed, so a client that stalls cannot
   * hold a slot. Default: the matcher's `timeoutSeconds` (20), the time it gives a streamed upload.
   */
  readonly timeoutSeconds?: number;
  /** `Retry-After` of a 503, in seconds, 1–3600. Default 1. */
  readonly retryAfterSeconds?: number;
  /**
   * What to do with an upload received whole that the matcher could not check (a `HashwardenError`
   * of `matchImage`, such as `ERR_UNSUPPORTED_FORMAT`, `ERR_IMAGE_DECODE`, `ERR_BUSY`, or a result
   * with `checked: false`, `ERR_NOT_CHECKED`). `false` (default): refused, answered with its code.
   * `true`: handed to the handler with `outcome: 'unchecked'`. A body the guard could not receive
   * whole (over `maxBytes`, stalled, malformed) is refused either way: there is no upload to hand over.
   */
  readonly failOpen?: boolean;
  /**
   * The answer to a blocked upload: a response, or a function of the request's checks that returns
   * one. Default: 403 `{ "error": "upload refused" }`, which names no list.
   */
  readonly blockedResponse?: UploadResponse | ((uploads: readonly UploadCheck[], request: R) => UploadResponse);
  /**
   * Called when any upload of a request matched, with every check of the request (their full
   * results) and the request, and awaited before the guard answers or calls the handler: where a
   * service files its report and keeps the evidence. If it throws, the request goes to the
   * framework's error path (500) and the handler is not called.
   */
  readonly onMatch?: (uploads: readonly UploadCheck[], request: R) => void | Promise<void>;
  /**
   * Hand a request with a matched upload to the handler (after `onMatch`) instead of answering it:
   * for a service that answers, holds or reviews matches itself. Default `false`.
   */
  readonly passMatched?: boolean;
  /** Options of each `matchImage` call (`threshold`, `algorithms`, `dihedral`…). Default: the matcher's. */
  readonly match?: MatchImageOptions;
}

/** {@link UploadGuardOptions} resolved once: every default filled in, every value checked. */
export interface ResolvedUploadGuard<R> {
  readonly maxBytes: number;
  readonly maxFiles: number;
  readonly maxFields: number;
  readonly maxFieldBytes: number;
  /** The largest Content-Length a valid request could have. */
  readonly maxBodyBytes: number;
  readonly maxInFlight: number;
  readonly timeoutMs: number;
  readonly retryAfterSeconds: number;
  readonly failOpen: boolean;
  readonly passMatched: boolean;
  readonly blocked: (uploads: readonly UploadCheck[], request: R) => UploadResponse;
  readonly onMatch: ((uploads: readonly UploadCheck[], request: R) => void | Promise<void>) | undefined;
  readonly match: MatchImageOptions;
}

/** Largest `maxFiles`, `maxFields` and `maxInFlight`: far above any upload form, low enough to be a bound. */
const MAX_COUNT = 1024;

function checkResponse(value: unknown, name: string): UploadResponse {
  const r = optionsObject(value as UploadResponse, name);
  integerInRange(r.status, 200, 599, `${name}.status`);
  if (r.headers !== undefined) {
    const headers = optionsObject(r.headers, `${name}.headers`);
    for (const [key, v] of Object.entries(headers))
      if (typeof v !== 'string') invalid('string', `${name}.headers.${key}`, v);
  }
  return Object.freeze({ ...r }) as UploadResponse;
}

/** Checks `options` once against `matcher`'s limits; TypeError/RangeError in the standard shape. */
export function resolveUploadGuard<R>(
  matcher: Matcher,
  options: UploadGuardOptions<R> | undefined,
): ResolvedUploadGuard<R> {
  if (matcher === null || typeof matcher !== 'object' || typeof (matcher as Matcher).matchImage !== 'function')
    invalid('Matcher', 'matcher', matcher);
  const o = optionsObject(options, 'options');
  const limits = matcher.limits;
  const maxBytes =
    o.maxBytes === undefined ? limits.maxBytes : integerInRange(o.maxBytes, 1, limits.maxBytes, 'maxBytes');
  const maxFiles = o.maxFiles === undefined ? DEFAULT_MAX_FILES : integerInRange(o.maxFiles, 1, MAX_COUNT, 'maxFiles');
  const maxFields =
    o.maxFields === undefined ? DEFAULT_MAX_FIELDS : integerInRange(o.maxFields, 0, MAX_COUNT, 'maxFields');
  const maxFieldBytes =
    o.maxFieldBytes === undefined
      ? DEFAULT_MAX_FIELD_BYTES
      : integerInRange(o.maxFieldBytes, 1, 16 * 1024 * 1024, 'maxFieldBytes');
  const matcherRoom =
    limits.concurrency + (limits.maxQueued === Infinity ? DEFAULT_MAX_QUEUED : Math.min(limits.maxQueued, MAX_COUNT));
  let blocked: ResolvedUploadGuard<R>['blocked'] = () => BLOCKED;
  if (typeof o.blockedResponse === 'function') {
    const make = o.blockedResponse;
    blocked = (uploads, request) => checkResponse(make(uploads, request), 'blockedResponse()');
  } else if (o.blockedResponse !== undefined) {
    const fixed = checkResponse(o.blockedResponse, 'blockedResponse');
    blocked = () => fixed;
  }
  if (o.onMatch !== undefined && typeof o.onMatch !== 'function') invalid('function', 'onMatch', o.onMatch);
  return Object.freeze({
    maxBytes,
    maxFiles,
    maxFields,
    maxFieldBytes,
    maxBodyBytes: maxFiles * maxBytes + maxFields * maxFieldBytes + (maxFiles + maxFields + 1) * PART_OVERHEAD_BYTES,
    maxInFlight: o.maxInFlight === undefined ? matcherRoom : integerInRange(o.maxInFlight, 1, MAX_COUNT, 'maxInFlight'),
    timeoutMs:
      (o.timeoutSeconds === undefined
        ? limits.timeoutSeconds
        : integerInRange(o.timeoutSeconds, 1, 3600, 'timeoutSeconds')) * 1000,
    retryAfterSeconds:
      o.retryAfterSeconds === undefined
        ? DEFAULT_RETRY_AFTER_SECONDS
        : integerInRange(o.retryAfterSeconds, 1, 3600, 'retryAfterSeconds'),
    failOpen: o.failOpen === undefined ? false : boolean(o.failOpen, 'failOpen'),
    passMatched: o.passMatched === undefined ? false : boolean(o.passMatched, 'passMatched'),
    blocked,
    onMatch: o.onMatch,
    match: Object.freeze({ ...optionsObject(o.match, 'match') }),
  });
}

/**
 * busboy's limits for a guard (both adapters that stream hand them to busboy): no more files or
 * fields than allowed; a file or field one byte over its limit, and one part over the files and
 * fields together. busboy says a limit is hit once it is reached, not passed, for these three: a
 * file of exactly `maxBytes` (which the matcher takes) would be cut and refused, and a request of
 * exactly `maxFiles` files and `maxFields` fields refused.
 */
export function parserLimits(
  o: Pick<ResolvedUploadGuard<unknown>, 'maxBytes' | 'maxFiles' | 'maxFields' | 'maxFieldBytes'>,
): {
  fileSize: number;
  files: number;
  fields: number;
  fieldSize: number;
  parts: number;
} {
  return {
    fileSize: o.maxBytes + 1,
    files: o.maxFiles,
    fields: o.maxFields,
    fieldSize: o.maxFieldBytes + 1,
    parts: o.maxFiles + o.maxFields + 1,
  };
}
