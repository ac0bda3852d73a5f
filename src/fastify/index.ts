/**
 * `hashwarden/fastify`: the upload guard as a Fastify `preHandler`, on the `@fastify/multipart`
 * the app registers itself. Imports only fastify's types: the app brings fastify.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { UploadGuardResult } from '../http/check.js';
import { badRequest, UploadGuard, UploadSession, type Refused } from '../http/guard.js';
import { parserLimits, type UploadGuardOptions } from '../http/options.js';
import type { Matcher } from '../matcher/matcher.js';
import { invalid } from '../validate.js';

export type { UploadCheck, UploadGuardResult, UploadOutcome } from '../http/check.js';
export type { UploadGuardOptions, UploadResponse } from '../http/options.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** hashwarden's `uploadGuard`: each file of the request as checked, and its text fields. */
    hashwarden?: UploadGuardResult;
  }
}

/** A part as `@fastify/multipart`'s `request.parts()` yields it: a file with its stream, or a field. */
type Part =
  | {
      readonly type: 'file';
      readonly fieldname: string;
      readonly filename: string;
      readonly mimetype: string;
      readonly file: Readable & { readonly truncated?: boolean };
    }
  | { readonly type: 'field'; readonly fieldname: string; readonly value: unknown; readonly valueTruncated: boolean };

/** `request.parts` of `@fastify/multipart`, as the guard calls it. */
type Parts = (options: {
  limits: { fileSize: number; files: number; fields: number; fieldSize: number; parts: number };
  throwFileSizeLimit: boolean;
}) => AsyncIterable<Part>;

async function parse(session: UploadSession<FastifyRequest>, parts: Parts, guard: UploadGuard<FastifyRequest>) {
  // A file cut at maxBytes is refused by the guard ('limit'), not thrown by the plugin at its end.
  const iterator = parts({ limits: parserLimits(guard.options), throwFileSizeLimit: false })[Symbol.asyncIterator]();
  const failed = session.failed.then(() => undefined);
  for (;;) {
    let step: IteratorResult<Part> | undefined;
    try {
      step = await Promise.race([iterator.next(), failed]);
    } catch (error) {
      // Malformed multipart, or a files, fields or parts limit (@fastify/multipart's FST_* errors).
      session.fail(badRequest(`Malformed or oversized multipart body: ${(error as Error).message}`));
      return;
    }
    if (step === undefined || step.done === true) return;
    const part = step.value;
    if (part.type === 'field') {
      session.field(
        part.fieldname,
        typeof part.value === 'string' ? part.value : JSON.stringify(part.value),
        part.valueTruncated,
      );
      continue;
    }
    part.file.once('limit', () => session.fileTooLarge());
    await session.stream({ field: part.fieldname, filename: part.filename, mimeType: part.mimetype }, part.file);
  }
}

function send(reply: FastifyReply, { response }: Refused): FastifyReply {
  return reply
    .code(response.status)
    .headers(response.headers ?? {})
    .send(response.body);
}

/**
 * A Fastify `preHandler` that checks each uploaded file with `matcher` before the route's handler
 * runs, reading the multipart body through `@fastify/multipart`'s `request.parts()` (the app
 * registers the plugin; without it the hook throws a TypeError), each file streamed into
 * `matchImage`. A blocked upload is answered (403 by default, naming no list); an upload that could
 * not be checked is refused with its code unless `failOpen`; the handler gets
 * `request.hashwarden`: each file's bytes and full result, and the text fields. Statuses and
 * limits: docs/api.md, "Upload guards".
 *
 * @example
 * ```ts
 * await app.register(multipart);
 * app.post('/upload', { preHandler: uploadGuard(matcher, { onMatch: report }) }, async (request) => {
 *   await store(request.hashwarden!.uploads[0]!.bytes);
 *   return { stored: true };
 * });
 * ```
 */
export function uploadGuard(
  matcher: Matcher,
  options?: UploadGuardOptions<FastifyRequest>,
): preHandlerAsyncHookHandler {
  const guard = new UploadGuard<FastifyRequest>(matcher, options);
  return async (request, reply) => {
    const parts = (request as unknown as { parts?: Parts }).parts;
    if (typeof parts !== 'function') invalid('@fastify/multipart registered on the app', 'request.parts', parts);
    const admitted = guard.admit({
      contentType: request.headers['content-type'],
      contentLength: request.headers['content-length'],
    });
    if (!(admitted instanceof UploadSession)) return send(reply, admitted);
    try {
      await parse(admitted, parts.bind(request), guard);
      const decision = await admitted.decide(request);
      if (!decision.pass) return send(reply, decision);
      request.hashwarden = decision.result;
      request.body = decision.result.fields;
    } catch (error) {
      // A body left unread must not be read to its end for the error page.
      if (!request.raw.readableEnded) reply.header('connection', 'close');
      throw error;
    } finally {
      admitted.end();
    }
  };
}
