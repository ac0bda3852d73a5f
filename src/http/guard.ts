/**
 * The upload guard every framework adapter runs: a request admitted or refused before its body is
 * read (in-flight bound, Content-Length, media type), each file checked as it arrives (a stream
 * straight into `matchImage`, its bytes kept for the handler within `maxBytes`), the body's
 * deadline, and the decision. Imports no framework: an adapter feeds it parts and sends its answer.
 */
import type { Readable } from 'node:stream';
import { HashwardenError } from '../errors.js';
import type { Matcher } from '../matcher/matcher.js';
import type { ImageMatchResult } from '../matcher/types.js';
import { refusal, toCheck, type UploadCheck, type UploadGuardResult, type UploadPart } from './check.js';
import {
  resolveUploadGuard,
  type ResolvedUploadGuard,
  type UploadGuardOptions,
  type UploadResponse,
} from './options.js';

/** What the adapter does with a request: hand it to the handler, or send `response` (closing when `close`). */
export type Decision =
  | { readonly pass: true; readonly result: UploadGuardResult }
  | { readonly pass: false; readonly response: UploadResponse; readonly close: boolean };

/** A decision to answer the request. */
export type Refused = Extract<Decision, { pass: false }>;

/** The request's head, as much of it as the guard reads before the body. */
export interface RequestHead {
  readonly contentType: string | undefined;
  readonly contentLength: string | undefined;
}

function tooLarge(maxBytes: number): HashwardenError {
  return new HashwardenError('ERR_IMAGE_TOO_LARGE', `A file part is larger than the limit of ${maxBytes} bytes`);
}

/** `ERR_UPLOAD_REQUEST` with `message`. */
export function badRequest(message: string): HashwardenError {
  return new HashwardenError('ERR_UPLOAD_REQUEST', message);
}

/** True for a `multipart/form-data` media type, whatever its parameters and case. */
export function isMultipart(contentType: string | undefined): boolean {
  return /^multipart\/form-data\s*(;|$)/i.test(contentType ?? '');
}

/**
 * A deadline that runs only while the guard waits for the client: paused while an upload waits for
 * its turn in the matcher or is decoded, so a busy matcher never times a well-behaved client out.
 */
class ClientClock {
  #remaining: number;
  #since = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #expire: () => void;

  constructor(ms: number, expire: () => void) {
    this.#remaining = ms;
    this.#expire = expire;
  }

  resume(): void {
    if (this.#timer !== undefined || this.#remaining <= 0) return;
    this.#since = Date.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#remaining = 0;
      this.#expire();
    }, this.#remaining);
  }

  pause(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#remaining -= Date.now() - this.#since;
  }
}

/** One admitted request: its checks, its fields, its deadline and its slot. */
export class UploadSession<R> {
  readonly uploads: UploadCheck[] = [];
  readonly fields: Record<string, string | string[]> = {};
  readonly #guard: UploadGuard<R>;
  readonly #clock: ClientClock;
  #failure: HashwardenError | undefined;
  #current: Readable | undefined;
  #ended = false;
  #fieldCount = 0;
  /** True when the guard reads the body itself: a failure leaves it unread, and the connection is closed. */
  readonly #streamed: boolean;
  #failed!: (error: HashwardenError) => void;
  /** Settles with the first failure that ends the request early (the deadline, a limit): it never rejects. */
  readonly failed: Promise<HashwardenError> = new Promise((resolve) => {
    this.#failed = resolve;
  });

  constructor(guard: UploadGuard<R>, streamed: boolean) {
    this.#guard = guard;
    this.#clock = new ClientClock(guard.options.timeoutMs, () =>
      this.fail(
        new HashwardenError(
          'ERR_IMAGE_TIMEOUT',
          `The request body did not arrive within ${guard.options.timeoutMs / 1000} s: it was refused`,
        ),
      ),
    );
    this.#streamed = streamed;
    if (streamed) this.#clock.resume();
  }

  /** The failure that ended the request early, if any. */
  get failure(): HashwardenError | undefined {
    return this.#failure;
  }

  /**
   * Ends the request early with `error` (a limit, a malformed body, the deadline): the file being
   * read is destroyed, so nothing more of it is read. The first failure wins.
   */
  fail(error: HashwardenError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#clock.pause();
    this.#current?.destroy(error);
    this.#failed(error);
  }

  /**
   * Keeps a text field; `ERR_UPLOAD_REQUEST` for one longer than `maxFieldBytes` (or that the
   * parser cut short, `truncated`) or beyond `maxFields`.
   */
  field(name: string, value: string, truncated = false): void {
    const { maxFields, maxFieldBytes } = this.#guard.options;
    if (truncated || Buffer.byteLength(value) > maxFieldBytes) {
      this.fail(badRequest(`Field ${JSON.stringify(name.slice(0, 64))} is longer than ${maxFieldBytes} bytes`));
      return;
    }
    if (++this.#fieldCount > maxFields) {
      this.fail(badRequest(`The request carries more than ${maxFields} fields`));
      return;
    }
    const seen = this.fields[name];
    this.fields[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }

  /** The parser cut a file part at `maxBytes`: the request is refused now, the rest of the part unread. */
  fileTooLarge(): void {
    this.fail(tooLarge(this.#guard.options.maxBytes));
  }

  /** A file beyond `maxFiles`: the request is refused. */
  tooManyFiles(): void {
    this.fail(badRequest(`The request carries more than ${this.#guard.options.maxFiles} files`));
  }

  /**
   * Checks a file part as it arrives: its stream goes straight into `matchImage` (read in the
   * upload's turn, so a request waiting in the matcher's line holds no more than the socket's
   * buffers), its chunks kept for the handler, `ERR_IMAGE_TOO_LARGE` at the chunk past `maxBytes`
   * or when the parser says it cut the part (`truncated`). A file the matcher refused unread
   * (`ERR_BUSY`) is read here, so `failOpen` can hand it over whole.
   */
  async stream(part: UploadPart, file: Readable & { readonly truncated?: boolean }): Promise<void> {
    if (this.#failure !== undefined) {
      file.resume();
      return;
    }
    const { maxBytes } = this.#guard.options;
    const kept = { chunks: [] as Buffer[], size: 0, started: false, ended: false };
    const clock = this.#clock;
    this.#current = file;
    const fail = (error: HashwardenError): never => {
      this.fail(error);
      throw error;
    };
    async function* chunks(): AsyncGenerator<Uint8Array> {
      kept.started = true;
      clock.resume();
      try {
        for await (const chunk of file as AsyncIterable<Buffer>) {
          kept.size += chunk.length;
          if (kept.size > maxBytes || file.truncated === true) fail(tooLarge(maxBytes));
          kept.chunks.push(chunk);
          yield chunk;
        }
        if (file.truncated === true) fail(tooLarge(maxBytes));
        kept.ended = true;
      } finally {
        clock.pause();
      }
    }
    const source = chunks();
    let settled: ImageMatchResult | HashwardenError;
    // In the matcher's line: not the client's time.
    clock.pause();
    try {
      settled = await this.#guard.matcher.matchImage(source, this.#guard.options.match);
    } catch (error) {
      if (!(error instanceof HashwardenError)) throw error;
      settled = error;
      if (!kept.started) {
        try {
          for await (const _ of source);
        } catch {
          // The failure is recorded: the request is refused below.
        }
      }
    } finally {
      if (this.#failure === undefined) clock.resume();
    }
    // Not received whole (the matcher stopped it: its own deadline, a failed stream): refused, never
    // handed over, and the rest of the part left unread (the file is destroyed).
    if (this.#failure === undefined && !kept.ended)
      this.fail(settled instanceof HashwardenError ? settled : badRequest('A file part ended early'));
    this.#current = undefined;
    if (this.#failure !== undefined) return;
    this.uploads.push(toCheck(part, Buffer.concat(kept.chunks, kept.size), settled));
  }

  /** Checks a file received already (multer's buffer or file, a web `File`), `ERR_IMAGE_TOO_LARGE` above `maxBytes`. */
  async bytes(part: UploadPart, bytes: Buffer, input: Uint8Array | Blob = bytes): Promise<void> {
    if (this.#failure !== undefined) return;
    // The body is read: the client's time is over.
    this.#clock.pause();
    const { maxBytes } = this.#guard.options;
    if (bytes.length > maxBytes) {
      this.fail(tooLarge(maxBytes));
      return;
    }
    let settled: ImageMatchResult | HashwardenError;
    try {
      settled = await this.#guard.matcher.matchImage(input, this.#guard.options.match);
    } catch (error) {
      if (!(error instanceof HashwardenError)) throw error;
      settled = error;
    }
    this.uploads.push(toCheck(part, bytes, settled));
  }

  /**
   * The decision, once the body has been read (or has failed): a failure's refusal (closing the
   * connection when the guard was reading the body: the rest is unread); no file → 400; a match →
   * `onMatch` awaited, then the blocked response (or the handler, with `passMatched`); an unchecked
   * upload → its refusal, unless `failOpen`; else the handler.
   */
  async decide(request: R): Promise<Decision> {
    const o = this.#guard.options;
    this.#clock.pause();
    if (this.#failure !== undefined) {
      const close = this.#streamed;
      return { pass: false, response: refusal(this.#failure, o.retryAfterSeconds, close), close };
    }
    if (this.uploads.length === 0)
      return {
        pass: false,
        response: refusal(badRequest('The request carries no file'), o.retryAfterSeconds, false),
        close: false,
      };
    const result: UploadGuardResult = { uploads: this.uploads, fields: this.fields };
    if (this.uploads.some((u) => u.outcome === 'matched')) {
      await o.onMatch?.(this.uploads, request);
      return o.passMatched
        ? { pass: true, result }
        : { pass: false, response: o.blocked(this.uploads, request), close: false };
    }
    const unchecked = this.uploads.find((u) => u.outcome === 'unchecked');
    if (unchecked?.error !== undefined && !o.failOpen)
      return { pass: false, response: refusal(unchecked.error, o.retryAfterSeconds, false), close: false };
    return { pass: true, result };
  }

  /** Frees the request's slot and stops its deadline; once, however the request ended. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#clock.pause();
    this.#guard.release();
  }
}

/**
 * A guard over one matcher with options resolved once: admits requests within `maxInFlight`, each
 * an {@link UploadSession}.
 */
export class UploadGuard<R> {
  readonly matcher: Matcher;
  readonly options: ResolvedUploadGuard<R>;
  #inFlight = 0;

  constructor(matcher: Matcher, options: UploadGuardOptions<R> | undefined) {
    this.options = resolveUploadGuard(matcher, options);
    this.matcher = matcher;
  }

  /** Requests admitted and not yet decided. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Admits a request, or refuses it before a byte of its body is read: a body to parse (`head`)
   * that is not multipart (400) or whose Content-Length exceeds what `maxFiles` files and
   * `maxFields` fields could be (413); `maxInFlight` requests in hand already (503). Each closes
   * the connection (its body unread). Without `head`, the body was read already (multer): only the
   * bound applies.
   */
  admit(head?: RequestHead): UploadSession<R> | Refused {
    const o = this.options;
    if (head !== undefined) {
      if (!isMultipart(head.contentType))
        return this.#refuse(badRequest('The request is not multipart/form-data'), true);
      const length = Number(head.contentLength);
      if (head.contentLength !== undefined && length > o.maxBodyBytes)
        return this.#refuse(
          new HashwardenError(
            'ERR_IMAGE_TOO_LARGE',
            `The request body has ${length} bytes, above the ${o.maxBodyBytes} that ${o.maxFiles} files could take`,
          ),
          true,
        );
    }
    if (this.#inFlight >= o.maxInFlight)
      return this.#refuse(
        new HashwardenError('ERR_BUSY', `${this.#inFlight} uploads are being checked already: retry it`),
        head !== undefined,
      );
    this.#inFlight++;
    return new UploadSession(this, head !== undefined);
  }

  /** @internal The session's slot, freed. */
  release(): void {
    this.#inFlight--;
  }

  #refuse(error: HashwardenError, close: boolean): Refused {
    return { pass: false, response: refusal(error, this.options.retryAfterSeconds, close), close };
  }
}

/** A JSON body as text (a string body as it is). */
export function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body);
}
