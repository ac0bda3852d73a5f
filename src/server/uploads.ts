/**
 * The sidecar's routes that take an upload: `POST /m/lookup` and `POST /h/hash` (multipart, one
 * file in the field named for its content type, `photo`), `GET /h/hash?url=` and the `url` form of
 * `GET /m/lookup`. An upload is streamed into `matcher.matchImage` (the matcher's byte limit, time
 * limit and line of uploads in hand apply) and never buffered here. Fail closed: an upload that
 * could not be checked is never answered as "no match" — a `HashwardenError` is answered with its
 * code and a 4xx/5xx status, and a result that was not checked (`checked: false`, e.g. a PDQ
 * quality below 50 against PDQ lists) with 422 `ERR_NOT_CHECKED` and why.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ALGORITHM_NAMES, canonicalAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { ImageInput } from '../image/index.js';
import { isHashwardenError, type ErrorCode, type ImageMatchResult, type Match, type Matcher } from '../index.js';
import {
  banksParameter,
  BY_TYPE_SCHEMA,
  byBank,
  errors,
  HASHES_SCHEMA,
  HttpError,
  querySchema,
  type MatchesByBank,
} from './hma.js';
import { uploadStatus as guardStatus } from '../http/check.js';
import type { Metrics } from './metrics.js';
import type { ResolvedServerOptions } from './options.js';
import type { Lists } from './source.js';
import { fetchUpload } from './url-fetch.js';

/**
 * Bytes a multipart body may hold beyond its file before it is refused from its declared length:
 * 64 KiB for the boundaries, the part headers and a few small fields. The file itself is held to
 * `maxBytes` exactly, while it is read.
 */
export const MULTIPART_ALLOWANCE = 64 * 1024;

/**
 * Limits on a multipart body beside its file: two files at most (the second is refused by name,
 * "Only one file allowed per request", as HMA does), a few small fields (HMA takes none here).
 */
const MULTIPART_LIMITS = { files: 2, fields: 8, parts: 16, fieldSize: 1024, headerPairs: 32 } as const;

/**
 * The status an upload's `HashwardenError` of `code` is answered with: the upload guards' own
 * (src/http), so a file gets the same answer on every path; 500 for a code that is not an upload's.
 */
export function uploadStatus(code: ErrorCode): number {
  return guardStatus(code) ?? 500;
}

/** An upload over the sidecar's byte limit, whatever the matcher's own limit is. */
const tooLarge = (): HttpError => new HttpError(413, 'Content too large', { code: 'ERR_IMAGE_TOO_LARGE' });

/**
 * `source` within `maxBytes`: the matcher reads it through this, so that the sidecar's limit holds
 * even for a matcher of a larger one (a caller's), and a multipart file cut at the limit is refused,
 * never hashed as if whole.
 */
async function* limited(source: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge();
    yield chunk;
  }
}

/** The error an upload's failure is answered with: the sidecar's own when it stopped the stream. */
export function uploadError(error: unknown): unknown {
  return isHashwardenError(error) && error.cause instanceof HttpError ? error.cause : error;
}

/** HMA's `types` parameter (comma-separated signal types to hash; hashing.py `_parse_request_signal_type`). */
function typesParameter(value: string | undefined): AlgorithmName[] | undefined {
  if (value === undefined) return undefined;
  const out: AlgorithmName[] = [];
  for (const name of value.split(',').map((s) => s.trim())) {
    if (name === '') continue;
    const algorithm = canonicalAlgorithm(name);
    if (algorithm === undefined) throw new HttpError(400, `signal type '${name}' doesn't exist or is disabled`);
    out.push(algorithm.name);
  }
  if (out.length === 0) throw new HttpError(400, 'empty signal type selection');
  return out;
}

/**
 * Reads a multipart body's one file, handing its stream to `use` as it arrives (HMA: hashing.py
 * `hash_media_from_form_data`): the field name is the content type (`photo`), one file only.
 */
async function multipartFile<T>(
  request: FastifyRequest,
  maxBytes: number,
  use: (file: AsyncIterable<Uint8Array>) => Promise<T>,
): Promise<T> {
  if (!request.isMultipart()) throw new HttpError(400, 'Missing multipart/form-data file upload');
  // busboy cuts a file one byte past the limit, and `limited` refuses that byte (413): a file cut
  // at the limit is never hashed as if whole. throwFileSizeLimit is read by parts() too, though
  // its types list only busboy's options.
  const parts = request.parts({
    limits: { ...MULTIPART_LIMITS, fileSize: maxBytes + 1 },
    throwFileSizeLimit: false,
  } as Parameters<FastifyRequest['parts']>[0]);
  let result: { value: T } | undefined;
  for await (const part of parts) {
    if (part.type !== 'file') continue;
    if (result !== undefined) throw new HttpError(400, 'Only one file allowed per request');
    if (part.fieldname !== 'photo') throw new HttpError(400, `no such content_type: '${part.fieldname}'`);
    result = { value: await use(limited(part.file, maxBytes)) };
  }
  if (result === undefined) throw new HttpError(400, 'Missing multipart/form-data file upload');
  return result.value;
}

/**
 * An upload hashed (its hashes of the types asked, all by default), through the matcher so that its
 * limits and its line of uploads in hand apply. Its turns and the inside of a border are not
 * hashed: HMA's hashes are of the image as it is.
 */
function hashUpload(
  matcher: Matcher,
  input: ImageInput,
  types: AlgorithmName[] | undefined,
): Promise<ImageMatchResult> {
  // Hashes only: the client looks them up next (`/m/raw_lookup`), and that lookup is the decision.
  return matcher.matchImage(input, {
    algorithms: types ?? ALGORITHM_NAMES,
    dihedral: false,
    trim: false,
    decision: false,
  });
}

/** Headers that make what HMA's shapes cannot hold visible: PDQ quality, hashes refused, whether checked. */
function qualityHeaders(reply: FastifyReply, result: ImageMatchResult, checked: boolean | undefined): void {
  const quality = Object.entries(result.quality).map(([name, q]) => `${name}=${q}`);
  if (quality.length > 0) reply.header('x-hashwarden-quality', quality.join(','));
  const unusable = Object.keys(result.unusable);
  if (unusable.length > 0) reply.header('x-hashwarden-unusable', unusable.join(','));
  if (checked !== undefined) reply.header('x-hashwarden-checked', String(checked));
}

/**
 * An upload matched: `{ "pdq": { "BANK": [{ "bank_content_id": 1, "distance": "0" }] } }` for each
 * signal type searched (matching.py `lookup_post`); 422 `ERR_NOT_CHECKED` when it was not checked.
 */
function lookupAnswer(
  reply: FastifyReply,
  result: ImageMatchResult,
  banks: ReadonlySet<string> | undefined,
  metrics: Metrics,
): Record<string, MatchesByBank> {
  qualityHeaders(reply, result, result.checked);
  // Counted as unchecked by `counted`, with the code.
  if (!result.matched && !result.checked) {
    throw new HttpError(422, 'The upload could not be checked against every list: not clean, not matched', {
      code: 'ERR_NOT_CHECKED',
      extra: { unusable: result.unusable, quality: result.quality },
    });
  }
  metrics.upload(result.matched ? 'matched' : 'clean');
  const byAlgorithm = new Map<string, Match[]>();
  for (const m of result.matches) {
    const list = byAlgorithm.get(m.algorithm);
    if (list === undefined) byAlgorithm.set(m.algorithm, [m]);
    else list.push(m);
  }
  const out: Record<string, MatchesByBank> = {};
  for (const name of Object.keys(result.hashes)) out[name] = byBank(byAlgorithm.get(name) ?? [], banks);
  return out;
}

/** Runs an upload's match, counting what could not be checked by its code. */
async function counted<T>(metrics: Metrics, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const cause = uploadError(error);
    if (isHashwardenError(cause)) metrics.upload('unchecked', cause.code);
    else if (cause instanceof HttpError && cause.code !== undefined) metrics.upload('unchecked', cause.code);
    throw cause;
  }
}

/** A fetched URL's body handed to `use`, the fetch stopped when it is done. */
async function fromUrl<T>(
  request: FastifyRequest,
  options: ResolvedServerOptions,
  query: { url?: string; content_type?: string },
  use: (body: AsyncIterable<Uint8Array>) => Promise<T>,
): Promise<T> {
  const fetched = await fetchUpload(String(query.url), query.content_type, options);
  request.log.info({ event: 'url-fetch', host: new URL(String(query.url)).hostname }, 'fetching an upload');
  try {
    return await use(limited(fetched.body, options.maxBytes));
  } finally {
    fetched.abort();
  }
}

/**
 * `GET /m/lookup?url=`: the content fetched and matched; by signal type, or only the one
 * `signal_type` names (matching.py `lookup_get`: "If Signal Type is given, the outer JSON object is elided").
 */
export async function urlLookup(
  request: FastifyRequest,
  reply: FastifyReply,
  lists: Lists,
  metrics: Metrics,
  query: { url?: string; content_type?: string; types?: string; signal_type?: string; banks?: string },
  options: ResolvedServerOptions,
): Promise<unknown> {
  const matcher = lists.served();
  const types = typesParameter(query.types);
  const banks = banksParameter(query.banks);
  const answer = await counted(metrics, () =>
    fromUrl(request, options, query, async (body) =>
      lookupAnswer(
        reply,
        await matcher.matchImage(body, types === undefined ? {} : { algorithms: types }),
        banks,
        metrics,
      ),
    ),
  );
  request.log.info({ event: 'upload', route: '/m/lookup', url: true }, 'upload checked');
  // Two shapes for one route: the compiled serializer is the by-bank one, for lookups by hash.
  reply.serializer(JSON.stringify);
  return query.signal_type === undefined ? answer : (answer[query.signal_type] ?? {});
}

/** Registers the upload routes. */
export function uploadRoutes(
  app: FastifyInstance,
  lists: Lists,
  metrics: Metrics,
  options: ResolvedServerOptions,
): void {
  const upload = { upload: true };
  const multipart = { description: 'multipart/form-data with one file in the field `photo`' };
  app.post(
    '/m/lookup',
    {
      config: upload,
      schema: {
        summary: 'Hash an uploaded image and look it up',
        ...multipart,
        querystring: querySchema(['banks', 'seed', 'bypass_coinflip']),
        response: { 200: BY_TYPE_SCHEMA, ...errors(400, 408, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const matcher = lists.served();
      const banks = banksParameter((request.query as { banks?: string }).banks);
      const started = Date.now();
      const answer = await counted(metrics, () =>
        multipartFile(request, options.maxBytes, async (file) =>
          lookupAnswer(reply, await matcher.matchImage(file), banks, metrics),
        ),
      );
      request.log.info({ event: 'upload', route: '/m/lookup', ms: Date.now() - started }, 'upload checked');
      return answer;
    },
  );
  const hashSchema = (summary: string, query: string[], more: object = {}) => ({
    summary,
    ...more,
    querystring: querySchema(query),
    response: { 200: HASHES_SCHEMA, ...errors(400, 403, 408, 413, 415, 422, 503) },
  });
  app.post(
    '/h/hash',
    { config: upload, schema: hashSchema('Hash an uploaded image', ['types'], multipart) },
    async (request, reply) => {
      const matcher = lists.served();
      const types = typesParameter((request.query as { types?: string }).types);
      const result = await multipartFile(request, options.maxBytes, (file) => hashUpload(matcher, file, types)).catch(
        (error: unknown) => Promise.reject(uploadError(error)),
      );
      qualityHeaders(reply, result, undefined);
      return result.hashes;
    },
  );
  app.get(
    '/h/hash',
    { schema: hashSchema('Hash the image at an allowed url', ['url', 'content_type', 'types']) },
    async (request, reply) => {
      const query = request.query as { url?: string; content_type?: string; types?: string };
      if (query.url === undefined) throw new HttpError(400, 'url is required');
      const matcher = lists.served();
      const types = typesParameter(query.types);
      const result = await fromUrl(request, options, query, (body) => hashUpload(matcher, body, types)).catch(
        (error: unknown) => Promise.reject(uploadError(error)),
      );
      qualityHeaders(reply, result, undefined);
      return result.hashes;
    },
  );
}
