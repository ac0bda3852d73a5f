/**
 * `hashwarden/web`: the upload guard for a web `Request` (Next.js App Router route handlers, any
 * fetch-style runtime on Node). The body is read within a byte limit and the guard's deadline, then
 * parsed by the runtime's own `FormData`; each `File` goes to `matchImage` as a `Blob`.
 */
import { HashwardenError } from '../errors.js';
import type { UploadCheck, UploadGuardResult } from '../http/check.js';
import { badRequest, bodyText, UploadGuard, UploadSession, type Refused } from '../http/guard.js';
import type { ResolvedUploadGuard, UploadGuardOptions } from '../http/options.js';
import type { Matcher } from '../matcher/matcher.js';

export type { UploadCheck, UploadGuardResult, UploadOutcome } from '../http/check.js';
export type { UploadGuardOptions, UploadResponse } from '../http/options.js';

/**
 * What the web guard made of a request: a `response` to return when it refused the request
 * (blocked, not checked, too large, busy…), absent when the handler goes on with `uploads` and
 * `fields`.
 */
export interface WebUploadResult extends UploadGuardResult {
  readonly response?: Response;
}

/** `body` through a byte limit: past `limit` bytes the request fails (`ERR_IMAGE_TOO_LARGE`), its body cancelled. */
function bounded(body: ReadableStream<Uint8Array>, limit: number, session: UploadSession<Request>) {
  const reader = body.getReader();
  let total = 0;
  // The deadline or a limit ends the request: stop reading the client.
  session.failed.then(() => reader.cancel().catch(() => {}));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      total += value.byteLength;
      if (total > limit) {
        const error = new HashwardenError('ERR_IMAGE_TOO_LARGE', `The request body is larger than ${limit} bytes`);
        session.fail(error);
        controller.error(error);
        return;
      }
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** The request's form, read within the limits, or undefined when the session failed meanwhile. */
async function readForm(
  session: UploadSession<Request>,
  request: Request,
  o: ResolvedUploadGuard<Request>,
): Promise<FormData | undefined> {
  if (request.body === null) {
    session.fail(badRequest('The request has no body'));
    return undefined;
  }
  const headers = { 'content-type': request.headers.get('content-type') ?? '' };
  const parsing = new Response(bounded(request.body, o.maxBodyBytes, session), { headers }).formData();
  try {
    const form = await Promise.race([parsing, session.failed.then(() => undefined)]);
    return session.failure === undefined ? form : undefined;
  } catch (error) {
    session.fail(badRequest(`Malformed multipart body: ${(error as Error).message}`));
    return undefined;
  } finally {
    parsing.catch(() => {});
  }
}

/** Each field of `form` kept, each file checked in order, within `maxFiles`, `maxFields` and their sizes. */
async function checkForm(session: UploadSession<Request>, form: FormData, o: ResolvedUploadGuard<Request>) {
  const entries = [...form];
  const files = entries.filter(([, value]) => typeof value !== 'string').length;
  // Counted before any file is checked, as busboy refuses them while it parses.
  if (files > o.maxFiles) return session.tooManyFiles();
  if (entries.length - files > o.maxFields)
    return session.fail(badRequest(`The request carries more than ${o.maxFields} fields`));
  for (const [name, value] of entries) {
    if (session.failure !== undefined) return;
    if (typeof value === 'string') {
      session.field(name, value);
      continue;
    }
    if (value.size > o.maxBytes) return session.fileTooLarge();
    const part = { field: name, filename: value.name, mimeType: value.type };
    await session.bytes(part, Buffer.from(await value.arrayBuffer()), value);
  }
}

function toResponse({ response }: Refused): Response {
  const { status, headers, body } = response;
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
  return new Response(bodyText(body), { status, headers: { 'content-type': type, ...headers } });
}

/**
 * An upload guard for web `Request`s: returns a function that checks each file of a
 * `multipart/form-data` request with `matcher`, reading the body within the guard's byte limit and
 * deadline. Its result holds a `response` to return when the request was refused (a blocked
 * upload: 403 by default, naming no list; one that could not be checked: its code, unless
 * `failOpen`; too large, stalled, busy), else the checked `uploads` (bytes and full results) and
 * the text `fields` for the handler. Made once per route: its options are resolved once and its
 * in-flight bound covers every request. Statuses and limits: docs/api.md, "Upload guards".
 *
 * @example
 * ```ts
 * const guard = uploadGuard(matcher, { onMatch: report });
 * export async function POST(request: Request) {
 *   const { response, uploads } = await guard(request);
 *   if (response) return response;
 *   await store(uploads[0]!.bytes);
 *   return Response.json({ stored: true }, { status: 201 });
 * }
 * ```
 */
export function uploadGuard(
  matcher: Matcher,
  options?: UploadGuardOptions<Request>,
): (request: Request) => Promise<WebUploadResult> {
  const guard = new UploadGuard<Request>(matcher, options);
  const o = guard.options;
  return async (request) => {
    const admitted = guard.admit({
      contentType: request.headers.get('content-type') ?? undefined,
      contentLength: request.headers.get('content-length') ?? undefined,
    });
    if (!(admitted instanceof UploadSession)) return { response: toResponse(admitted), uploads: [], fields: {} };
    try {
      const form = await readForm(admitted, request, o);
      if (form !== undefined) await checkForm(admitted, form, o);
      const decision = await admitted.decide(request);
      if (decision.pass) return decision.result;
      const uploads: readonly UploadCheck[] = admitted.uploads;
      return { response: toResponse(decision), uploads, fields: admitted.fields };
    } finally {
      admitted.end();
    }
  };
}
