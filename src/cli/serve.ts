/**
 * `hashwarden serve`: the HMA-compatible sidecar (`hashwarden/server`) on a port, until SIGTERM or
 * SIGINT, then a graceful shutdown and exit 0. The server entry (Fastify, prom-client) is loaded
 * only when this command runs, and sharp only with the first upload hashed. Logs are JSON lines
 * on standard output; the first says where it listens: `{"msg":"listening","url":"http://…"}`.
 */
import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { StormOptions } from '../index.js';
import { integerInRange } from '../validate.js';
import { EXIT, integerArgument, usage, UsageError, type CliIo, type Command } from './command.js';
import { readKeyFile } from './keygen.js';
import { applyStormReleases, forwardStormReleases, runWorkers, WORKER_ENV } from './serve-workers.js';

/** The environment variable the token is read from when no --token-file is given. */
export const TOKEN_ENV = 'HASHWARDEN_TOKEN';

/** A whole-number option in range, its usage error naming the flag. */
function whole(value: unknown, min: number, max: number, flag: string): number | undefined {
  return value === undefined
    ? undefined
    : usage(() => integerInRange(integerArgument(value as string), min, max, flag));
}

/** The token from --token-file (its first line) or the environment; undefined when neither. */
async function readToken(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return process.env[TOKEN_ENV] || undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read --token-file ${file}: ${(error as Error).message}`);
  }
  const token = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (token === '') throw new UsageError(`--token-file ${file} holds no token`);
  return token;
}

/** The alarm's options from --storm-threshold, --storm-window, --storm-hold and --no-storm (false: off). */
function stormOptions(values: Record<string, unknown>): StormOptions | false | undefined {
  const given = ['storm-threshold', 'storm-window', 'storm-hold'].filter((flag) => values[flag] !== undefined);
  if (values['no-storm'] === true) {
    if (given.length > 0) throw new UsageError(`--no-storm turns the alarm off: not with --${given[0]}`);
    return false;
  }
  if (given.length === 0) return undefined;
  // The matcher's own bounds: 1 s to a week (StormOptions.window, in milliseconds).
  const window = whole(values['storm-window'], 1, 7 * 86_400, '--storm-window');
  const threshold = whole(values['storm-threshold'], 1, Number.MAX_SAFE_INTEGER, '--storm-threshold');
  return {
    ...(window === undefined ? {} : { window: window * 1000 }),
    ...(threshold === undefined ? {} : { threshold }),
    ...(values['storm-hold'] === true ? { hold: true } : {}),
  };
}

/** Waits for SIGTERM or SIGINT, or for the first load to fail; resolves to the exit status. */
function untilStopped(sidecar: { close(): Promise<void>; loaded: Promise<unknown> }, log: (event: object) => void) {
  return new Promise<number>((resolve) => {
    let status: number = EXIT.ok;
    let stopping = false;
    const stop = (reason: string) => {
      // A worker of --workers gets the terminal's SIGINT and its primary's SIGTERM: one shutdown.
      if (stopping) return;
      stopping = true;
      // Alone, a second signal is the default's: it ends the process at once.
      if (!cluster.isWorker) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
      log({ event: 'shutdown', reason });
      sidecar.close().then(
        () => resolve(status),
        () => resolve(EXIT.error),
      );
    };
    const onSignal = (signal: NodeJS.Signals) => stop(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    sidecar.loaded.catch(() => {
      status = EXIT.error;
      stop('the lists could not be loaded');
    });
  });
}

export const serveCommand: Command = {
  name: 'serve',
  usage:
    '(--snapshot PATH|URL | --db PATH [--list NAME]...) [--host H] [--port N] [--token-file F] [--interval S] [--max-stale S] [--allow-url-host H]... [--max-bytes N] [--max-in-flight N] [--trust KEYFILE.pub]... [--min-sequence N] [--log DIR] [--storm-threshold N] [--storm-window S] [--storm-hold | --no-storm]',
  summary: "Serve the lists over HTTP with HMA 2's matching and hashing API (a sidecar).",
  help: `
Options:
  --snapshot PATH|URL   a snapshot (\`hashwarden export\`) to serve, followed: checked every
                        --interval seconds and swapped in whole when it changes
  --db PATH             a SQLite store to serve instead, re-read every --interval seconds
  --list NAME           with --db: only this list (repeatable); default every enabled list
  --host H              address to listen on (default 127.0.0.1); any other than a loopback
                        address needs a token, or --allow-unauthenticated
  --port N              port (default 5100, HMA's; 0 for any free port)
  --token-file F        bearer token every request but the probes must send
                        (Authorization: Bearer TOKEN), the file's first line; default the
                        ${TOKEN_ENV} environment variable; none: no auth
  --allow-unauthenticated  listen on a non-loopback host without a token
  --interval S          seconds between checks of the source (default 60)
  --max-stale S         readiness (/readyz) turns 503 when no check succeeded for S seconds
                        (default 3 intervals; 0: never)
  --allow-url-host H    let ?url= fetch from host H (repeatable; default none: URL fetching off)
  --max-bytes N         largest upload in bytes (default 52428800, 50 MiB)
  --max-in-flight N     requests in hand at once; beyond, 503 with Retry-After (default 256)
  --workers N           processes sharing the port, each with the lists (default 1): lookups
                        use N cores; each listens once its lists are loaded, and has its
                        own /readyz and /metrics
  --hash-threads N      threads that decode and hash uploads, per worker (default: the cores
                        a worker has less one)
  --drain S             on SIGTERM, seconds to keep serving with readiness 503 before
                        closing (default 0)
  --trust KEYFILE.pub   serve the snapshot only if signed by this key (repeatable)
  --min-sequence N      serve the snapshot only if its sequence is at least N
  --log DIR             append every upload checked (and every storm raised and released) to
                        the hash-chained decision log in DIR; with --workers, each worker
                        writes its own chain in DIR/worker-<n>. Check with
                        \`hashwarden log verify DIR\` (each DIR/worker-<n>)
  --storm-threshold N   matches of one entry within the window that make a storm (default 100)
  --storm-window S      the storm window in seconds, 1 to 604800 (default 600)
  --storm-hold          hold the matches of an entry in storm for review until released
                        (POST /storms/release) instead of blocking on them
  --no-storm            do not count matches: no storms, no /storms entries
  --log-level L         fatal, error, warn, info (default), debug
  -h, --help            this text

Routes: HMA's GET /status, GET /m/lookup (signal_type and signal, or url), POST /m/lookup
(multipart, the image in the field "photo"), GET /m/raw_lookup, POST /m/compare,
GET /m/index/status, GET|POST /h/hash, GET /c/banks, GET /c/bank/NAME, GET /c/signal_type,
GET /c/signal_type/index, GET /c/content_type, GET /site-map; and GET /healthz (liveness),
GET /readyz (readiness), GET /metrics (Prometheus), GET /openapi.json, GET /storms (the
entries in a match storm in the process that answered), POST /storms/release (JSON
{"list","algorithm","entryId"}: the entry is right, its matches block again, in every worker).
A storm is logged as one line with "event":"storm". docs/integration.md, docs/production.md.

Logs are JSON lines on standard output. Exit status: 0 after a graceful shutdown (SIGTERM,
SIGINT); 2 when the lists cannot be loaded at start or an option is wrong.`,
  options: {
    snapshot: { type: 'string' },
    db: { type: 'string' },
    list: { type: 'string', multiple: true },
    host: { type: 'string' },
    port: { type: 'string' },
    'token-file': { type: 'string' },
    'allow-unauthenticated': { type: 'boolean' },
    interval: { type: 'string' },
    'max-stale': { type: 'string' },
    'allow-url-host': { type: 'string', multiple: true },
    'max-bytes': { type: 'string' },
    'max-in-flight': { type: 'string' },
    workers: { type: 'string' },
    'hash-threads': { type: 'string' },
    drain: { type: 'string' },
    trust: { type: 'string', multiple: true },
    'min-sequence': { type: 'string' },
    'log-level': { type: 'string' },
    log: { type: 'string' },
    'storm-threshold': { type: 'string' },
    'storm-window': { type: 'string' },
    'storm-hold': { type: 'boolean' },
    'no-storm': { type: 'boolean' },
  },
  async run(values, positionals, io: CliIo) {
    if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}`);
    const snapshot = values.snapshot as string | undefined;
    const db = values.db as string | undefined;
    if ((snapshot === undefined) === (db === undefined)) throw new UsageError('Expected one of --snapshot and --db');
    if (values.list !== undefined && db === undefined) throw new UsageError('--list needs --db');
    if (values.trust !== undefined && snapshot === undefined)
      throw new UsageError('--trust needs --snapshot: a store carries no signature');
    const level = (values['log-level'] as string | undefined) ?? 'info';
    if (!['fatal', 'error', 'warn', 'info', 'debug'].includes(level))
      throw new UsageError(
        `Expected one of fatal, error, warn, info, debug for --log-level but received ${JSON.stringify(level)}`,
      );
    const trust = values.trust as string[] | undefined;
    const trustedKeys =
      trust === undefined ? undefined : await Promise.all(trust.map((f) => readKeyFile(f, '--trust')));
    const minSequence = whole(values['min-sequence'], 0, Number.MAX_SAFE_INTEGER, '--min-sequence');
    const workers = whole(values.workers, 1, 256, '--workers') ?? 1;
    const hashThreads =
      whole(values['hash-threads'], 0, 1024, '--hash-threads') ??
      Math.max(0, Math.floor(availableParallelism() / workers) - 1);
    const token = await readToken(values['token-file'] as string | undefined);
    const storm = stormOptions(values);
    const logDir = values.log as string | undefined;
    if (logDir === '') throw new UsageError('Expected a directory for --log');
    // Options checked once, here; each worker runs this command again, as itself.
    if (workers > 1 && cluster.isPrimary) return runWorkers(workers, io);
    const worker = cluster.isWorker ? Number(process.env[WORKER_ENV]) || undefined : undefined;
    // One chain per writing process: records of several in one file would need a lock per record.
    const decisionLog = logDir === undefined || worker === undefined ? logDir : join(logDir, `worker-${worker}`);
    // Loaded now, not with the CLI: Fastify and prom-client cost the other commands nothing.
    const { createServer } = await import('../server/index.js');
    const sidecar = await createServer({
      ...(snapshot === undefined ? { db: db as string } : { snapshot }),
      ...(values.list === undefined ? {} : { lists: values.list as string[] }),
      matcherOptions: {
        hashThreads,
        ...(trustedKeys === undefined ? {} : { trustedKeys }),
        ...(minSequence === undefined ? {} : { minSequence }),
        ...(storm === undefined ? {} : { storm }),
      },
      ...(decisionLog === undefined ? {} : { decisionLog }),
      ...(worker === undefined ? {} : { worker, releaseStorm: forwardStormReleases() }),
      ...(token === undefined ? {} : { token }),
      allowUnauthenticated: values['allow-unauthenticated'] === true,
      intervalSeconds: whole(values.interval, 1, 86_400, '--interval'),
      maxStaleSeconds: whole(values['max-stale'], 0, 86_400, '--max-stale'),
      allowUrlHosts: (values['allow-url-host'] as string[] | undefined) ?? [],
      maxBytes: whole(values['max-bytes'], 1, 2 ** 31 - 1, '--max-bytes'),
      maxInFlight: whole(values['max-in-flight'], 1, 65_536, '--max-in-flight'),
      drainSeconds: whole(values.drain, 0, 86_400, '--drain'),
      logger: { level, stream: { write: (line: string) => io.out(line) } },
    }).catch((error: unknown) => {
      throw error instanceof TypeError || error instanceof RangeError ? new UsageError(error.message) : error;
    });
    if (worker !== undefined) applyStormReleases(sidecar);
    const log = (event: object) => sidecar.app.log.info(event, 'event' in event ? String(event.event) : 'event');
    sidecar.loaded.then(
      (matcher) =>
        log({ event: 'lists-loaded', entries: matcher.size, lists: matcher.lists.length, sequence: matcher.sequence }),
      (error: Error) =>
        sidecar.app.log.error({ event: 'lists-load-failed', err: error }, 'the lists could not be loaded'),
    );
    const port = whole(values.port, 0, 65_535, '--port');
    const host = (values.host as string | undefined) ?? '127.0.0.1';
    // A worker of --workers takes connections only once its lists are loaded: the port is shared,
    // and a connection given to a worker still loading would be answered 503.
    if (
      cluster.isWorker &&
      !(await sidecar.loaded.then(
        () => true,
        () => false,
      ))
    ) {
      await sidecar.close();
      cluster.worker?.disconnect();
      return EXIT.error;
    }
    try {
      await sidecar.listen({ host, ...(port === undefined ? {} : { port }) });
    } catch (error) {
      await sidecar.close();
      if (error instanceof TypeError)
        throw new UsageError(`${error.message}: give --token-file or --allow-unauthenticated`);
      throw error;
    }
    const status = await untilStopped(sidecar, log);
    // A worker's channel to its primary would keep it alive after the shutdown.
    cluster.worker?.disconnect();
    return status;
  },
};
