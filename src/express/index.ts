/**
 * `hashwarden/express`: the upload guard as Express middleware. The only importer of express's
 * types and of busboy (which multer depends on, so an app using multer has it; loaded on the first
 * request that needs it, so importing this entry loads neither). After multer it
 * checks multer's files; without multer it parses the multipart body itself with busboy, each file
 * streamed straight into `matchImage`.
 */
import { stat, readFile } from 'node:fs/promises';
import type busboy from 'busboy';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HashwardenError, readError } from '../errors.js';
import type { UploadGuardResult } from '../http/check.js';
import { badRequest, bodyText, UploadGuard, UploadSession, type Decision, type Refused } from '../http/guard.js';
import { parserLimits, type ResolvedUploadGuard, type UploadGuardOptions } from '../http/options.js';
import type { Matcher } from '../matcher/matcher.js';

export type { UploadCheck, UploadGuardResult, UploadOutcome } from '../http/check.js';
export type { UploadGuardOptions, UploadResponse } from '../http/options.js';

declare global {
  namespace Express {
    interface Request {
      /** hashwarden's `uploadGuard`: each file of the request as checked, and its text fields. */
      hashwarden?: UploadGuardResult;
    }
  }
}

/** A file as multer describes it (memory storage: `buffer`; disk storage: `path`). */
interface MulterFile {
  readonly fieldname: string;
  readonly originalname: string;
  readonly mimetype: string;
  readonly size: number;
  readonly buffer?: Buffer;
  readonly path?: string;
}

/** Multer's files of a request (`single`, `array`, `fields`, `any`), or undefined when multer did not run. */
function multerFiles(req: Request): MulterFile[] | undefined {
  const { file, files } = req as unknown as { file?: MulterFile; files?: MulterFile[] | Record<string, MulterFile[]> };
  if (file !== undefined) return [file];
  if (Array.isArray(files)) return files;
  if (files !== undefined && files !== null) return Object.values(files).flat();
  // A body read by someone else (multer with no file in it): nothing left for busboy to parse.
  return req.readableEnded ? [] : undefined;
}

async function checkMulter(
  session: UploadSession<Request>,
  req: Request,
  files: MulterFile[],
  { maxFiles, maxBytes }: ResolvedUploadGuard<Request>,
): Promise<void> {
  if (files.length > maxFiles) return session.tooManyFiles();
  for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>))
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') session.field(name, v);
  for (const file of files) {
    const part = { field: file.fieldname, filename: file.originalname, mimeType: file.mimetype };
    if (file.buffer !== undefined) {
      await session.bytes(part, file.buffer);
      continue;
    }
    const path = file.path as string;
    try {
      // The size first: a file above the limit is refused without being read.
      if ((await stat(path)).size > maxBytes) {
        session.fileTooLarge();
        return;
      }
      await session.bytes(part, await readFile(path));
    } catch (error) {
      session.fail(readError(path, error));
    }
  }
}

/** busboy, once loaded; a failed load is not kept, so installing it fixes the next request. */
let parserModule: Promise<typeof busboy> | undefined;

/**
 * busboy, imported on the first request that needs it (an app whose uploads all come through
 * multer never does): `ERR_MISSING_DEPENDENCY` with the install command when it is not installed,
 * so that the request fails closed (500) with a message that says what to do.
 */
function loadBusboy(): Promise<typeof busboy> {
  parserModule ??= import('busboy').then(
    (module) => module.default,
    (error: unknown) => {
      parserModule = undefined;
      if ((error as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new HashwardenError(
        'ERR_MISSING_DEPENDENCY',
        'busboy is not installed: run `npm install busboy`. hashwarden/express parses multipart bodies with it when multer has not run before the guard.',
        { cause: error },
      );
    },
  );
  return parserModule;
}

/** Parses the body with busboy within the guard's limits, each file checked as it arrives. */
async function parse(session: UploadSession<Request>, req: Request, guard: UploadGuard<Request>): Promise<void> {
  const o = guard.options;
  const busboy = await loadBusboy();
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: parserLimits(o) });
  } catch (error) {
    // No boundary, an unknown charset: busboy refuses the head.
    session.fail(badRequest(`Malformed multipart request: ${(error as Error).message}`));
    return;
  }
  // Each file in turn: busboy hands over the next part only once this one is read.
  let files = Promise.resolve();
  const parsed = new Promise<void>((resolve) => {
    parser.on('file', (field, file, info) => {
      file.once('limit', () => session.fileTooLarge());
      const part = { field, filename: info.filename, mimeType: info.mimeType };
      files = files.then(() => session.stream(part, file));
    });
    parser.on('field', (name, value, info) => session.field(name, value, info.valueTruncated));
    parser.on('filesLimit', () => session.tooManyFiles());
    parser.on('fieldsLimit', () => session.fail(badRequest(`The request carries more than ${o.maxFields} fields`)));
    parser.on('partsLimit', () => session.fail(badRequest('The request carries more parts than its files and fields')));
    parser.on('error', (error) => session.fail(badRequest(`Malformed multipart body: ${(error as Error).message}`)));
    parser.on('close', resolve);
  });
  req.on('close', () => {
    if (!req.complete) session.fail(badRequest('The client closed the request before its body ended'));
  });
  req.pipe(parser);
  const failed = session.failed.then(() => {
    req.unpipe(parser);
    // A file check still running settles on its own (its stream is destroyed); an error it throws
    // is not this request's answer.
    files.catch(() => {});
  });
  await Promise.race([parsed.then(() => files), failed]);
}

function send(res: Response, decision: Refused): void {
  const { status, headers, body } = decision.response;
  res.status(status).set(headers ?? {});
  if (typeof body === 'string') res.send(body);
  else res.type('application/json').send(bodyText(body));
}

async function guardRequest(guard: UploadGuard<Request>, req: Request, res: Response, next: NextFunction) {
  const files = multerFiles(req);
  const admitted = guard.admit(
    files === undefined
      ? { contentType: req.headers['content-type'], contentLength: req.headers['content-length'] }
      : undefined,
  );
  if (!(admitted instanceof UploadSession)) return send(res, admitted);
  let decision: Decision;
  try {
    if (files === undefined) await parse(admitted, req, guard);
    else await checkMulter(admitted, req, files, guard.options);
    decision = await admitted.decide(req);
  } finally {
    admitted.end();
  }
  if (!decision.pass) return send(res, decision);
  req.hashwarden = decision.result;
  if (files === undefined) req.body = decision.result.fields;
  next();
}

/**
 * Express middleware that checks each uploaded file with `matcher` before the route's handler
 * runs. Put it after multer (any storage: it checks `req.file`/`req.files`) or on its own (it
 * parses `multipart/form-data` with busboy, streaming each file into `matchImage`, and puts the
 * text fields on `req.body`). A blocked upload is answered (403 by default, naming no list) and
 * the handler is not called; an upload that could not be checked is refused with its code (422,
 * 415, 413, 408, 503…) unless `failOpen`; the handler gets `req.hashwarden`: each file's bytes and full
 * result. Statuses and limits: docs/api.md, "Upload guards".
 *
 * @example
 * ```ts
 * app.post('/upload', uploadGuard(matcher, { onMatch: report }), (req, res) => {
 *   store(req.hashwarden!.uploads[0]!.bytes);
 *   res.sendStatus(201);
 * });
 * ```
 */
export function uploadGuard(matcher: Matcher, options?: UploadGuardOptions<Request>): RequestHandler {
  const guard = new UploadGuard<Request>(matcher, options);
  return (req, res, next) => {
    guardRequest(guard, req, res, next).catch((error: unknown) => {
      // A body left unread must not be read to its end for the error page.
      if (!req.readableEnded && !res.headersSent) res.set('connection', 'close');
      next(error);
    });
  };
}
