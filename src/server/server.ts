/**
 * `createServer`: the sidecar as a Fastify instance (not listening), its lists loading in the
 * background. Hooks in request order: the bearer token (one constant-time compare), the bound on
 * requests in hand, the early 413 for an upload declared too large; then the route; then the
 * request counted in the metrics. Every error is answered in HMA's shape, `{ "message": ... }`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DecisionLog, HashwardenError, isHashwardenError, type Matcher, type StormEntry } from '../index.js';
import { errorBody, HttpError, validatorCompiler } from './hma.js';
import type { Metrics } from './metrics.js';
import {
  isLoopback,
  resolveServerOptions,
  type ResolvedServerOptions,
  type ServerOptions,
  type StormRelease,
} from './options.js';
import { matchingRoutes } from './routes.js';
import { Lists, type ListEvents } from './source.js';
import { stormRoutes } from './storms.js';
import { MULTIPART_ALLOWANCE, uploadRoutes, uploadStatus } from './uploads.js';

/**
 * Largest JSON body (`POST /m/compare`): 64 KiB. A comparison is a few pairs of hex hashes, well
 * under a kilobyte each; nothing else the sidecar takes is JSON.
 */
const JSON_BODY_LIMIT = 64 * 1024;

/**
 * Seconds a client told to retry (Retry-After of a 503) waits: 1, the shortest the header can say.
 * A 503 here means the line of uploads is full, and it moves by one upload's hashing, well under a
 * second for a photo: a longer wait would leave the sidecar idle once the burst is over.
 */
const RETRY_AFTER_SECONDS = 1;

/**
 * Milliseconds between two sweeps of idle connections while closing: a keep-alive connection whose
 * request finished after the close began is closed within this, instead of after its keep-alive
 * timeout.
 */
const CLOSE_SWEEP_MS = 50;

/** What a route asks of the hooks (its Fastify `config`). */
export interface RouteConfig {
  /** Answered without the token: the probes, which orchestrators call without credentials. */
  readonly public?: boolean;
  /** Takes an upload: refused early (413) when its declared length is above the byte limit. */
  readonly upload?: boolean;
}

/** A sidecar: the Fastify instance, its lists, and its lifecycle. */
export interface Sidecar {
  /** The Fastify instance, routes registered, not listening: `app.inject` works on it. */
  readonly app: FastifyInstance;
  /** Resolves with the matcher once the lists are loaded; rejects when the first load fails. */
  readonly loaded: Promise<Matcher>;
  /**
   * Listens on `host` (default `127.0.0.1`) and `port` (default 5100, HMA's; 0 for any free port)
   * and resolves to the URL. Refuses (TypeError) a host that is not a loopback address when no
   * token was given, unless `allowUnauthenticated`.
   */
  listen(options?: { readonly host?: string; readonly port?: number }): Promise<string>;
  /**
   * Shuts down gracefully: readiness turns 503 at once (`DRAINING`) and stays so `drainSeconds`
   * while requests are still taken, then new connections are refused, requests in hand finish,
   * the connections close and the matcher the sidecar opened is closed (a caller's
   * matcher is left open). Resolves when done; safe to call more than once.
   */
  close(): Promise<void>;
  /**
   * Releases an entry's storm in this process's matcher (`Matcher.releaseStorm`) and logs it
   * (`event: "storm-released"`): true when the entry was in storm here; false too while the lists
   * load. `POST /storms/release` calls `ServerOptions.releaseStorm`, by default this.
   */
  releaseStorm(target: StormEntry): boolean;
}

/** HMA's port (api.md: `http://localhost:5100`). */
export const DEFAULT_PORT = 5100;

/** The hooks' shared state: requests in hand. */
interface Counters {
  inFlight: number;
}

function logOptions(logger: ResolvedServerOptions['logger']): boolean | Record<string, unknown> {
  // Never the token, even if a header serializer is added later.
  const redact = ['req.headers.authorization'];
  if (logger === false) return false;
  if (logger === true) return { level: 'info', redact };
  return { level: logger.level ?? 'info', ...(logger.stream === undefined ? {} : { stream: logger.stream }), redact };
}

function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
  return reply
    .code(error.status)
    .type('application/json; charset=utf-8')
    .serializer(JSON.stringify)
    .send(errorBody(error));
}

/** Any error a route or Fastify raised, as the HTTP error answered. */
function httpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isHashwardenError(error)) {
    const status = uploadStatus(error.code);
    return new HttpError(status, error.message, {
      code: error.code,
      ...(status === 503 ? { retryAfter: RETRY_AFTER_SECONDS } : {}),
    });
  }
  const e = error as { statusCode?: unknown; message?: unknown; code?: unknown; validation?: unknown };
  // Fastify's own (validation, body too large, bad JSON) and @fastify/multipart's carry a status.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Not multipart at all: HMA's answer for a missing upload (hashing.py).
    if (e.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE')
      return new HttpError(400, 'Missing multipart/form-data file upload');
    return new HttpError(e.statusCode, String(e.message));
  }
  return new HttpError(500, 'Internal Server Error');
}

function authorize(expected: Buffer, request: FastifyRequest, reply: FastifyReply): boolean {
  const given = request.headers.authorization;
  if (given !== undefined && given.length === expected.length) {
    const bytes = Buffer.from(given, 'latin1');
    if (bytes.length === expected.length && timingSafeEqual(bytes, expected)) return true;
  }
  reply.header('www-authenticate', 'Bearer');
  sendError(reply, new HttpError(401, 'Unauthorized: send Authorization: Bearer <token>'));
  return false;
}

function addHooks(app: FastifyInstance, options: ResolvedServerOptions, counters: Counters, metrics: Metrics): void {
  const { authorization, maxInFlight, maxBytes } = options;
  app.addHook('onRequest', (request, reply, done) => {
    const config = request.routeOptions.config as RouteConfig;
    if (config.public === true) return done();
    if (authorization !== undefined && !authorize(authorization, request, reply)) return;
    if (counters.inFlight >= maxInFlight) {
      sendError(
        reply,
        new HttpError(503, 'Too many requests in flight', { code: 'ERR_BUSY', retryAfter: RETRY_AFTER_SECONDS }),
      );
      return;
    }
    counters.inFlight++;
    // 'close' comes once for every response, finished or cut off by the client.
    reply.raw.once('close', () => counters.inFlight--);
    if (config.upload === true && Number(request.headers['content-length']) > maxBytes + MULTIPART_ALLOWANCE) {
      sendError(reply, new HttpError(413, 'Content too large', { code: 'ERR_IMAGE_TOO_LARGE' }));
      return;
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.setErrorHandler((error, request, reply) => {
    const http = httpError(error);
    if (http.status >= 500) request.log.error({ err: error }, 'request failed');
    // An upload refused or not checked, with why: the line an operator looks for.
    else if (http.code !== undefined)
      request.log.info(
        { event: 'refused', route: request.routeOptions.url, status: http.status, code: http.code },
        'request refused',
      );
    return sendError(reply, http);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, new HttpError(404, 'Not Found')));
}

/** The optional peers the sidecar needs, named in the message when one is missing. */
const PEERS = ['fastify', '@fastify/multipart', '@fastify/swagger', 'prom-client'] as const;

/** A module of the optional peers (or one that imports them): `ERR_MISSING_DEPENDENCY` when a peer is not installed. */
async function importPeer<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const missing = PEERS.find((peer) => String((error as Error | null)?.message).includes(`'${peer}'`));
    if ((error as { code?: unknown } | null)?.code === 'ERR_MODULE_NOT_FOUND' && missing !== undefined)
      throw new HashwardenError(
        'ERR_MISSING_DEPENDENCY',
        `${missing} is not installed: run \`npm install ${PEERS.join(' ')}\`. They are needed by the sidecar (hashwarden/server, hashwarden serve) only.`,
        { cause: error },
      );
    throw error;
  }
}

/** Each check of the source after the first load and each storm raised, counted and logged. */
function recordEvents(app: FastifyInstance, metrics: Metrics): ListEvents {
  return {
    check(result) {
      if (result.ok) {
        metrics.check(result.changed ? 'changed' : 'unchanged');
        if (result.changed) app.log.info({ event: 'lists-reloaded' }, 'new lists swapped in');
      } else {
        metrics.check('failed');
        app.log.warn({ event: 'source-check-failed', code: result.code, err: result.error }, 'source check failed');
      }
    },
    storm(e) {
      metrics.storm();
      const { list, algorithm, entryId, count, threshold, window, since, at, held } = e;
      app.log.warn(
        { event: 'storm', list, algorithm, entryId, count, threshold, window, since, at, held },
        'match storm',
      );
    },
  };
}

/** The decision log the sidecar writes in: the one given, or the directory given opened (its own, to close). */
async function openDecisionLog(
  given: ResolvedServerOptions['decisionLog'],
  onError: (error: HashwardenError) => void,
): Promise<{ log: DecisionLog | undefined; own: boolean }> {
  if (given === undefined || given instanceof DecisionLog) return { log: given, own: false };
  return { log: await DecisionLog.open(given, { onError }), own: true };
}

/**
 * Makes a sidecar: a Fastify instance with HMA's matching and hashing routes, probes, metrics and
 * an OpenAPI document, not listening yet; its lists start loading at once (`loaded`).
 *
 * @example
 * ```ts
 * const sidecar = await createServer({ snapshot: 'lists.snap', token: process.env.HASHWARDEN_TOKEN });
 * await sidecar.listen({ host: '127.0.0.1', port: 5100 });
 * process.once('SIGTERM', () => sidecar.close());
 * ```
 */
export async function createServer(options: ServerOptions): Promise<Sidecar> {
  const resolved = resolveServerOptions(options);
  // Told to the logger and the metrics once they exist: nothing happens before a request but a failed check.
  let events: ListEvents | undefined;
  let onLogError = (error: HashwardenError) => process.emitWarning(error);
  const decisions = await openDecisionLog(resolved.decisionLog, (error) => onLogError(error));
  // The lists start loading first: reading a snapshot goes on while the server's modules load.
  const lists = new Lists(
    resolved,
    { check: (result) => events?.check(result), storm: (event) => events?.storm(event) },
    decisions.log,
  );
  const closeLists = async () => {
    await lists.close();
    if (decisions.own) await decisions.log?.close();
  };
  const [{ default: Fastify, LogController }, { default: fastifySwagger }, { default: fastifyMultipart }, { Metrics }] =
    await Promise.all([
      importPeer(() => import('fastify')),
      importPeer(() => import('@fastify/swagger')),
      importPeer(() => import('@fastify/multipart')),
      importPeer(() => import('./metrics.js')),
    ]).catch(async (error: unknown) => {
      // The lists loading meanwhile are let go: no sidecar will serve them.
      await closeLists();
      throw error;
    });
  const app = Fastify({
    logger: logOptions(resolved.logger),
    // One line a request at 20,000 a second is a log system's whole budget: uploads and failures
    // are logged by the routes and the error handler; every request is counted in the metrics.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: JSON_BODY_LIMIT,
    requestTimeout: resolved.requestTimeoutMs,
    // A client that opens a connection and sends nothing gives up its slot with the request timeout.
    connectionTimeout: resolved.requestTimeoutMs,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  const counters: Counters = { inFlight: 0 };
  const metrics = new Metrics(lists, () => counters.inFlight);
  events = recordEvents(app, metrics);
  onLogError = (error) => {
    metrics.logError();
    app.log.error({ event: 'decision-log-error', code: error.code, err: error }, 'a decision record was lost');
  };
  addHooks(app, resolved, counters, metrics);
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'hashwarden sidecar',
        description: "HMA 2's matching and hashing API (a subset) answered from hashwarden's lists",
        version: '1',
      },
      ...(resolved.authorization === undefined
        ? {}
        : {
            components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
            security: [{ bearer: [] }],
          }),
    },
  });
  await app.register(fastifyMultipart);
  matchingRoutes(app, lists, metrics, resolved);
  uploadRoutes(app, lists, metrics, resolved);
  const releaseStorm = (target: StormEntry): boolean => {
    const released = lists.matcher?.releaseStorm(target) ?? false;
    if (released) app.log.info({ event: 'storm-released', ...target }, 'match storm released');
    return released;
  };
  stormRoutes(
    app,
    lists,
    resolved.worker,
    resolved.releaseStorm ??
      ((target): Promise<StormRelease> => Promise.resolve({ processes: 1, released: releaseStorm(target) ? 1 : 0 })),
  );
  let closing: Promise<void> | undefined;
  return {
    app,
    loaded: lists.loaded,
    releaseStorm,
    async listen(at = {}) {
      const host = at.host ?? '127.0.0.1';
      if (resolved.authorization === undefined && !resolved.allowUnauthenticated && !isLoopback(host))
        throw new TypeError(
          `Expected a token (or allowUnauthenticated) to listen on a non-loopback host but received ${JSON.stringify(host)} with none`,
        );
      // Fastify writes a line of its own per address; the sidecar's one line carries the URL as a field.
      const level = app.log.level;
      app.log.level = 'warn';
      let address: string;
      try {
        address = await app.listen({ host, port: at.port ?? DEFAULT_PORT });
      } finally {
        app.log.level = level;
      }
      app.log.info({ event: 'listening', url: address }, 'listening');
      return address;
    },
    close() {
      closing ??= (async () => {
        lists.drain();
        // Readiness answers 503 DRAINING meanwhile, so that load balancers stop sending first.
        if (resolved.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, resolved.drainMs));
        const sweep = setInterval(() => app.server.closeIdleConnections(), CLOSE_SWEEP_MS);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
        }
        // The matcher first: no decision is appended after the log is synced and closed.
        await closeLists();
      })();
      return closing;
    },
  };
}
