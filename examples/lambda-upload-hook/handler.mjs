/**
 * An upload hook for AWS Lambda: S3 (or the upload service) says which object was uploaded, the
 * function matches it against hash lists held in a binary snapshot and returns one decision per
 * object — `block` (it is on a list), `reject` (it could not be checked) or `allow`.
 *
 * The matcher is opened when this module loads, i.e. once per execution environment in Lambda's
 * init phase, and every warm invocation reuses it: opening a 1M-entry snapshot costs more than
 * matching one upload (docs/serverless.md). Environment:
 * - `HASHWARDEN_SNAPSHOT`: the snapshot (`hashwarden export --snapshot`), default
 *   `/opt/hashwarden/lists.snap` (a Lambda layer is unpacked under /opt).
 * - `HASHWARDEN_SNAPSHOT_URL`: follow the snapshot at this `https:` URL instead (or a path), where
 *   the publisher uploads each new one: it is fetched at init into /tmp, and a warm environment
 *   asks for a new one at the start of an invocation, at most every `HASHWARDEN_CHECK_SECONDS`
 *   (default 60) seconds (a conditional GET: an unchanged snapshot costs one 304).
 * - `HASHWARDEN_TRUSTED_KEYS`: public keys (PEM files written by `hashwarden keygen`, separated by
 *   commas; two during a rotation) the snapshot must be signed with (`hashwarden export --sign`):
 *   an unsigned, foreign-signed or altered snapshot fails the init, or, fetched later, is refused
 *   and the previous lists keep serving; so is an older one than those served (rollback).
 * - `HASHWARDEN_MIN_SEQUENCE`: the lowest snapshot sequence this function serves (`minSequence`),
 *   a sequence the publisher has already published, raised with each deploy: a cold start has no
 *   served snapshot to compare with, and without a floor takes any validly signed one.
 * - `LOCAL_OBJECT_DIR`: read objects from this directory instead of S3 (`<dir>/<key>`), so the
 *   function runs on a laptop or in tests without AWS. Without it the S3 client of the AWS SDK
 *   for JavaScript v3 is used, which Lambda's Node.js runtimes (18 and later) include: this
 *   example adds no dependency on it.
 *
 * Only the public API is used: `hashwarden` and `hashwarden/image`.
 */
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { relative, resolve, isAbsolute } from 'node:path';
import { HashwardenError, Matcher, isHashwardenError } from 'hashwarden';
// Imported here, not on the first upload, so that sharp and libvips load during init.
import { DEFAULT_MAX_BYTES } from 'hashwarden/image';

/**
 * @typedef {object} UploadedObject
 * @property {string} bucket
 * @property {string} key the object key, decoded (S3 events URL-encode it)
 * @property {number} [size] bytes, when the event says
 */

/**
 * Reads an uploaded object's bytes. It should refuse an object above `maxBytes` with a
 * `HashwardenError` of code `ERR_IMAGE_TOO_LARGE` before reading it; any other failure is thrown
 * as it is and fails the invocation.
 * @typedef {(object: UploadedObject, options: { maxBytes: number }) => Promise<Uint8Array>} ObjectReader
 */

/**
 * What was matched, without the entry's hash: hashes of listed material are themselves sensitive
 * (docs/security.md), and a decision is meant to be logged whole.
 * @typedef {object} DecisionMatch
 * @property {string} list
 * @property {string} entryId
 * @property {string} algorithm
 * @property {number} distance
 * @property {string} [listLabel]
 * @property {number} [listVersion]
 * @property {string} [label]
 * @property {string} [transform]
 * @property {true} [trimmed]
 * @property {number} [frame] the frame of an animated upload that matched, from 0
 */

/**
 * One object's decision. `lists` names every list and version it was checked against, so that an
 * `allow` can be re-examined when a list changes.
 * @typedef {{ action: 'block', bucket: string, key: string, lists: string[], match: DecisionMatch }
 *   | { action: 'allow', bucket: string, key: string, lists: string[], notChecked?: Record<string, string> }
 *   | { action: 'reject', bucket: string, key: string, lists: string[], code: string, reason: string }} Decision
 */

/**
 * Whether an error means the file itself could not be checked (`ERR_UNSUPPORTED_FORMAT`, or any
 * `ERR_IMAGE_…`: too large, undecodable, timed out, and any such code a later release adds, since
 * refusing an unknown kind of unreadable file is the safe side): the upload is rejected. Every
 * other error (the object cannot be fetched, the snapshot is broken, a bug) is thrown, so that
 * Lambda retries an asynchronous event and can then send it to a failure destination; the upload
 * must stay unpublished until a decision exists.
 * @param {unknown} error
 */
function isUncheckable(error) {
  return isHashwardenError(error) && (error.code === 'ERR_UNSUPPORTED_FORMAT' || error.code.startsWith('ERR_IMAGE_'));
}

/**
 * The objects an event names: an S3 event notification (`Records[].s3`, keys URL-encoded with `+`
 * for spaces), or a direct invocation `{ bucket, key, size? }` from an upload service.
 * @param {any} event
 * @returns {UploadedObject[]}
 */
export function uploadedObjects(event) {
  if (event !== null && typeof event === 'object' && Array.isArray(event.Records)) {
    /** @type {any[]} */
    const records = event.Records;
    return records
      .filter((record) => record?.s3?.object?.key !== undefined)
      .map((record) => ({
        bucket: String(record.s3.bucket?.name ?? ''),
        key: decodeURIComponent(String(record.s3.object.key).replace(/\+/g, ' ')),
        ...(typeof record.s3.object.size === 'number' ? { size: record.s3.object.size } : {}),
      }));
  }
  if (
    event !== null &&
    typeof event === 'object' &&
    typeof event.bucket === 'string' &&
    typeof event.key === 'string'
  ) {
    return [{ bucket: event.bucket, key: event.key, ...(typeof event.size === 'number' ? { size: event.size } : {}) }];
  }
  throw new TypeError('Expected an S3 event notification (Records[].s3) or { bucket, key } but received neither');
}

/**
 * The refusal of an object above the byte limit: `reject`, as `matchImage` refuses one.
 * @param {number} size
 * @param {number} maxBytes
 */
function tooLarge(size, maxBytes) {
  return new HashwardenError('ERR_IMAGE_TOO_LARGE', `The object has ${size} bytes, above the limit of ${maxBytes}`);
}

/**
 * Reads objects from a local directory, `<root>/<key>` (the bucket is ignored): for running the
 * function without AWS. A key that leads outside `root` (`../`) is refused: keys come from
 * uploaders.
 * @param {string} root
 * @returns {ObjectReader}
 */
export function localObjectReader(root) {
  const base = resolve(root);
  return async ({ key }, { maxBytes }) => {
    const path = resolve(base, key);
    const inside = relative(base, path);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside))
      throw new Error(`Object key ${JSON.stringify(key)} leads outside ${base}`);
    // The size is checked before reading, as S3's ContentLength is below: a huge object must not
    // be pulled into a function's memory only to be refused.
    const { size } = await stat(path);
    if (size > maxBytes) throw tooLarge(size, maxBytes);
    return readFile(path);
  };
}

/**
 * Reads objects from S3 with the AWS SDK v3 that Lambda's Node.js runtimes include (loaded on first
 * use, so the rest of this file runs without it). Not exercised by this project's tests.
 * @param {{ send(command: unknown): Promise<any> }} [client] an `S3Client`; default: one for the function's region
 * @returns {ObjectReader}
 */
export function s3ObjectReader(client) {
  /** @type {any} */
  let sdk;
  // Named through a variable: the SDK is the Lambda runtime's, not a dependency of this package,
  // so neither TypeScript nor a bundler should look for it here.
  const sdkModule = '@aws-sdk/client-s3';
  return async ({ bucket, key }, { maxBytes }) => {
    sdk ??= await import(sdkModule);
    client ??= new sdk.S3Client({});
    const s3 = client;
    const response = await s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
    if (typeof response.ContentLength === 'number' && response.ContentLength > maxBytes) {
      response.Body?.destroy?.();
      throw tooLarge(response.ContentLength, maxBytes);
    }
    return response.Body.transformToByteArray();
  };
}

/**
 * The match as a decision reports it: no hashes.
 * @param {import('hashwarden').Match} match
 * @returns {DecisionMatch}
 */
function describeMatch(match) {
  const { list, entryId, algorithm, distance, listLabel, listVersion, label, transform, trimmed, frame } = match;
  return {
    list,
    entryId,
    algorithm,
    distance,
    ...(listLabel === undefined ? {} : { listLabel }),
    ...(listVersion === undefined ? {} : { listVersion }),
    ...(label === undefined ? {} : { label }),
    ...(transform === undefined ? {} : { transform }),
    ...(trimmed ? { trimmed } : {}),
    ...(frame === undefined ? {} : { frame }),
  };
}

/**
 * One JSON line per decision on standard output (CloudWatch in Lambda). A decision holds no hash
 * and no image data.
 * @param {Decision} decision
 */
function logDecision(decision) {
  console.log(JSON.stringify({ event: 'hashwarden-decision', ...decision }));
}

/**
 * Makes a handler around a matcher and an object reader; the exported `handler` is this with the
 * snapshot and reader the environment names. Each object of the event is decided in turn (one at
 * a time: a Lambda environment serves one invocation at a time, and memory stays that of one
 * decode).
 *
 * @param {object} options
 * @param {Matcher | Promise<Matcher>} options.matcher opened once, outside the handler
 * @param {ObjectReader} options.readObject
 * @param {number} [options.maxBytes] largest object read, default hashwarden's `DEFAULT_MAX_BYTES` (50 MiB)
 * @param {(decision: Decision) => void} [options.log] default: one JSON line on standard output
 * @param {number} [options.checkEverySeconds] a matcher that follows a source (`Matcher.follow`, with
 *   `intervalMs: 0`): check it for a new snapshot at the start of an invocation when this many
 *   seconds have passed since the last check. A failed check is reported by the matcher's
 *   `onReload` and the invocation goes on with the lists it has. Default: never.
 * @returns {(event: unknown) => Promise<{ decisions: Decision[] }>}
 *
 * @example
 * ```js
 * const handler = createHandler({ matcher: Matcher.openSnapshot('lists.snap'), readObject: localObjectReader('uploads') });
 * await handler({ bucket: 'uploads', key: 'cat.jpg' }); // { decisions: [{ action: 'allow', … }] }
 * ```
 */
export function createHandler({
  matcher,
  readObject,
  maxBytes = DEFAULT_MAX_BYTES,
  log = logDecision,
  checkEverySeconds = undefined,
}) {
  let lastCheck = Date.now();
  return async (event) => {
    const objects = uploadedObjects(event);
    const m = await matcher;
    // At the start of an invocation, not on a timer: a frozen environment runs no timer, and a
    // download started near the end of one invocation would be frozen halfway until the next.
    if (checkEverySeconds !== undefined && Date.now() - lastCheck >= checkEverySeconds * 1000) {
      lastCheck = Date.now();
      await m.reload().catch(() => undefined); // reported through onReload; the old lists serve
    }
    const lists = m.lists.map((l) => (l.version === undefined ? l.name : `${l.name}@${l.version}`));
    const decisions = [];
    for (const object of objects) {
      const decision = await decide(m, readObject, object, maxBytes, lists);
      log(decision);
      decisions.push(decision);
    }
    return { decisions };
  };
}

/**
 * @param {Matcher} matcher
 * @param {ObjectReader} readObject
 * @param {UploadedObject} object
 * @param {number} maxBytes
 * @param {string[]} lists
 * @returns {Promise<Decision>}
 */
async function decide(matcher, readObject, object, maxBytes, lists) {
  const { bucket, key } = object;
  try {
    // The event's size, when given, refuses an oversized object without fetching it at all.
    if (object.size !== undefined && object.size > maxBytes) {
      throw tooLarge(object.size, maxBytes);
    }
    const bytes = await readObject(object, { maxBytes });
    // `first`: a block needs one match, and exact hashes are looked up before any decode.
    const result = await matcher.matchImage(bytes, { first: true });
    const first = result.matches[0];
    if (result.matched && first !== undefined)
      return { action: 'block', bucket, key, lists, match: describeMatch(first) };
    // `result.checked` is false when a hash the matcher refused (a featureless image's PDQ) left
    // the lists of its type unsearched: the image was not checked by them. Allowed here: such
    // a hash is as near to unrelated images as to its source, and blocking every flat or blank
    // upload would block innocent ones. Said, so that the caller can route it to another check.
    /** @type {Record<string, string>} */
    const notChecked = { ...result.unusable };
    // Likewise the frames of an animation beyond those hashed (`maxFrames`, default 32): most long
    // animations are innocent, but a listed image placed late in one is not found.
    const { frameCount } = result.image;
    const checkedFrames = result.frames?.length;
    if (frameCount !== undefined && checkedFrames !== undefined && checkedFrames < frameCount) {
      notChecked.frames = `frames ${checkedFrames}-${frameCount - 1} of ${frameCount} were not hashed`;
    }
    return { action: 'allow', bucket, key, lists, ...(Object.keys(notChecked).length === 0 ? {} : { notChecked }) };
  } catch (error) {
    if (isUncheckable(error))
      return {
        action: 'reject',
        bucket,
        key,
        lists,
        code: /** @type {HashwardenError} */ (error).code,
        reason: /** @type {Error} */ (error).message,
      };
    throw error;
  }
}

/** The snapshot this environment serves when it follows none; fixed for its life (redeploy to update). */
const SNAPSHOT = process.env.HASHWARDEN_SNAPSHOT ?? '/opt/hashwarden/lists.snap';
/** Where the publisher puts each new snapshot, when the function follows one. */
const SNAPSHOT_URL = process.env.HASHWARDEN_SNAPSHOT_URL;
/** At most how often a warm environment asks for a new snapshot. */
const CHECK_SECONDS = Number(process.env.HASHWARDEN_CHECK_SECONDS ?? 60);
// A typo must fail the init, not silently stop the checks (NaN compares false).
if (!(CHECK_SECONDS >= 0))
  throw new RangeError(`Expected seconds ≥ 0 for HASHWARDEN_CHECK_SECONDS but received ${CHECK_SECONDS}`);

/** The snapshot's trusted signers: none (any intact snapshot is served) unless the environment names them. */
const TRUSTED_KEYS = process.env.HASHWARDEN_TRUSTED_KEYS
  ? await Promise.all(process.env.HASHWARDEN_TRUSTED_KEYS.split(',').map((file) => readFile(file.trim(), 'utf8')))
  : undefined;
/** The lowest snapshot sequence served, when the environment sets one. */
const MIN_SEQUENCE =
  process.env.HASHWARDEN_MIN_SEQUENCE === undefined ? undefined : Number(process.env.HASHWARDEN_MIN_SEQUENCE);
// A typo must fail the init, not silently drop the floor.
if (MIN_SEQUENCE !== undefined && !(Number.isSafeInteger(MIN_SEQUENCE) && MIN_SEQUENCE >= 0))
  throw new RangeError(
    `Expected an integer ≥ 0 for HASHWARDEN_MIN_SEQUENCE but received ${process.env.HASHWARDEN_MIN_SEQUENCE}`,
  );
/**
 * Matcher options every way of opening the snapshot shares. No hashing threads (`hashThreads: 0`):
 * an environment handles one upload at a time, so a thread would only add a handoff per upload.
 */
const OPTIONS = {
  hashThreads: 0,
  ...(TRUSTED_KEYS === undefined ? {} : { trustedKeys: TRUSTED_KEYS }),
  ...(MIN_SEQUENCE === undefined ? {} : { minSequence: MIN_SEQUENCE }),
};

/**
 * One JSON line per check of a followed snapshot that swapped or failed: a failure means this
 * environment goes on deciding with its previous lists, which an alarm should catch.
 * @param {import('hashwarden').ReloadEvent} event
 */
function logReload(event) {
  if (event.ok && !event.changed) return;
  const lists = event.ok ? event.lists.map((l) => `${l.name}@${l.version}`) : undefined;
  const line = event.ok
    ? { event: 'hashwarden-lists', source: event.source, lists }
    : { event: 'hashwarden-lists-failed', source: event.source, code: event.code, reason: event.error.message };
  console.log(JSON.stringify(line));
}

/**
 * The Lambda entry point (`handler.handler`). The snapshot is opened (or first fetched) by the
 * top-level `await` below, during init: a snapshot that cannot be opened fails the init, and no
 * upload is ever decided without lists.
 */
export const handler = createHandler({
  matcher: await (SNAPSHOT_URL === undefined
    ? Matcher.openSnapshot(SNAPSHOT, OPTIONS)
    : Matcher.follow(SNAPSHOT_URL, { ...OPTIONS, intervalMs: 0, cacheDir: tmpdir(), onReload: logReload })),
  readObject: process.env.LOCAL_OBJECT_DIR ? localObjectReader(process.env.LOCAL_OBJECT_DIR) : s3ObjectReader(),
  ...(SNAPSHOT_URL === undefined ? {} : { checkEverySeconds: CHECK_SECONDS }),
});
