/**
 * Downloading a snapshot over HTTP(S) for a followed matcher (`follow.ts`): one conditional GET,
 * the body streamed to a new owner-only file, capped in bytes and in time. Every way a fetch can
 * fail (a status other than 200 or 304, the network, the time limit, the size cap) is one
 * `ERR_SOURCE_FETCH`, so a poll reports it and goes on; the snapshot itself is checked afterwards,
 * by the normal snapshot reader.
 */
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { HashwardenError } from '../errors.js';

/** What the server said about the body last served, sent back so that it can answer 304. */
export interface Validators {
  /** The `ETag` header, sent back as `If-None-Match`. */
  readonly etag?: string;
  /** The `Last-Modified` header, sent back as `If-Modified-Since`. */
  readonly lastModified?: string;
}

/** A fetch's outcome: nothing new (304), or a new body written to `file`. */
export type Fetched =
  | { readonly changed: false }
  | {
      readonly changed: true;
      readonly file: string;
      readonly validators: Validators;
      /** SHA-256 of the body, hex: tells a body served again under a new validator from a new one. */
      readonly digest: string;
      readonly bytes: number;
    };

export interface FetchRequest {
  readonly url: URL;
  readonly validators: Validators | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** The file to create (it must not exist) and write the body to, mode 0600. */
  readonly file: string;
  /** Aborts the fetch when the matcher is closed; the error is then the signal's reason. */
  readonly signal: AbortSignal;
}

function fetchError(url: URL, why: string, cause?: unknown): HashwardenError {
  return new HashwardenError('ERR_SOURCE_FETCH', `${displayUrl(url)}: ${why}`, cause === undefined ? {} : { cause });
}

/**
 * The URL as messages show it: without its query and credentials, which for an object store's
 * presigned URL hold the signature that grants access, and messages end up in logs.
 */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * GETs `url` with the validators of the body last served: 304 is `{ changed: false }`, 200 writes
 * the body to `file` and returns it with its validators and digest. The time limit covers the whole
 * exchange, headers and body, so a server that trickles bytes is abandoned too; the size cap is
 * checked against `Content-Length` before the body is read and against the bytes as they arrive
 * (after any `Content-Encoding` is undone, so a compressed body cannot expand past it). On any
 * failure the file is removed.
 */
export async function fetchSnapshot(request: FetchRequest): Promise<Fetched> {
  const { url, timeoutMs, maxBytes, signal } = request;
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), timeoutMs);
  const both = AbortSignal.any([timer.signal, signal]);
  const failed = (error: unknown): never => {
    if (signal.aborted) throw signal.reason;
    if (timer.signal.aborted)
      throw fetchError(url, `no complete answer within ${timeoutMs} ms (timeoutMs): abandoned`, error);
    if (error instanceof HashwardenError) throw error;
    const cause = (error as Error).cause as Error | undefined;
    throw fetchError(url, `${(error as Error).message}${cause?.message ? ` (${cause.message})` : ''}`, error);
  };
  let written = false;
  try {
    const headers: Record<string, string> = { ...request.headers };
    if (request.validators?.etag !== undefined) headers['if-none-match'] = request.validators.etag;
    if (request.validators?.lastModified !== undefined) headers['if-modified-since'] = request.validators.lastModified;
    const response = await fetch(url, { headers, signal: both, redirect: 'follow' }).catch(failed);
    if (response.status === 304) {
      await response.body?.cancel().catch(() => undefined);
      return { changed: false };
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw fetchError(url, `the server answered ${response.status} ${response.statusText}`.trimEnd());
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw fetchError(url, `the snapshot is ${declared} bytes, above maxSnapshotBytes (${maxBytes})`);
    }
    const etag = response.headers.get('etag');
    const lastModified = response.headers.get('last-modified');
    const validators: Validators = {
      ...(etag === null ? {} : { etag }),
      ...(lastModified === null ? {} : { lastModified }),
    };
    const hash = createHash('sha256');
    let bytes = 0;
    // 'wx': a file of that name already there is never written through (nor a link followed).
    const out = await open(request.file, 'wx', 0o600).catch((error: unknown) => {
      throw new HashwardenError('ERR_OUTPUT_WRITE', `Cannot create ${request.file}: ${(error as Error).message}`, {
        cause: error,
      });
    });
    written = true;
    try {
      if (response.body !== null) {
        try {
          for await (const chunk of response.body) {
            bytes += chunk.byteLength;
            if (bytes > maxBytes) {
              timer.abort();
              throw fetchError(url, `the snapshot exceeds maxSnapshotBytes (${maxBytes}): abandoned`);
            }
            hash.update(chunk);
            await out.write(chunk).catch((error: unknown) => {
              throw new HashwardenError(
                'ERR_OUTPUT_WRITE',
                `Cannot write ${request.file}: ${(error as Error).message}`,
                { cause: error },
              );
            });
          }
        } catch (error) {
          // A refusal of ours (size cap, disk) as it is, whatever the abort it caused; else why the body stopped.
          if (error instanceof HashwardenError) throw error;
          failed(error);
        }
      }
    } finally {
      await out.close();
    }
    return { changed: true, file: request.file, validators, digest: hash.digest('hex'), bytes };
  } catch (error) {
    if (written) await rm(request.file, { force: true });
    throw error;
  } finally {
    clearTimeout(timeout);
  }
}
