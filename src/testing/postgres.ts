/**
 * A throwaway PostgreSQL server for the tests: Debian's `postgresql` package (`initdb`, `pg_ctl`)
 * into a fresh temporary folder, on a free port of 127.0.0.1 and a socket in that folder, as the
 * `postgres` user when the tests run as root (PostgreSQL refuses to run as root). No mock: the
 * store's SQL, COPY and locks are PostgreSQL's own. `.ci/run` installs the package when missing.
 *
 * Outside CI, a machine without the binaries (or where the server does not start) skips the
 * Postgres tests, all with one message; with `CI` set, failing to start throws: CI must run them.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Where Debian's `postgresql-NN` packages put their server binaries. */
const DEBIAN_ROOT = '/usr/lib/postgresql';

/** Why the Postgres tests were skipped: the same words everywhere. */
const SKIP_NO_POSTGRES =
  "needs a PostgreSQL server (Debian's postgresql package: /usr/lib/postgresql/*/bin/initdb; CI installs it)";

/** Longest a server may take to start or stop before the tests give up on it. */
const SERVER_TIMEOUT_SECONDS = 30;

/** A server started by {@link startPostgres}. */
export interface TestPostgres {
  /** `postgresql://postgres@127.0.0.1:<port>/hashwarden` (trust authentication, no password). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** Creates another empty database (a test's own) and returns its URL. */
  createDatabase(): string;
  /** Stops the server (immediately: the data is thrown away) and removes its folder. Harmless twice. */
  stop(): void;
}

/** The `bin` folder of the newest PostgreSQL installed the Debian way, if any. */
export function postgresBin(root = DEBIAN_ROOT): string | undefined {
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions.length === 0 ? undefined : join(root, versions[0] as string, 'bin');
}

/** A port free on 127.0.0.1 now (the kernel's pick). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject()));
    });
  });
}

/** Runs a server binary, as `postgres` when this process is root. */
function run(bin: string, program: string, args: readonly string[], asPostgres: boolean): void {
  const file = join(bin, program);
  const [command, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  try {
    execFileSync(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: SERVER_TIMEOUT_SECONDS * 1000 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${program} failed${stderr === '' ? '' : `: ${stderr.split('\n').slice(-3).join(' ')}`}`, {
      cause: error,
    });
  }
}

/** Whether this module has printed its note: once per test file is enough. */
let noted = false;

function note(why: string): void {
  if (noted) return;
  noted = true;
  console.warn(`skipped: ${SKIP_NO_POSTGRES} (${why})`);
}

/**
 * Whether the Postgres tests are to be collected: the server binaries are installed, or `CI` is
 * set (then {@link startPostgres} throws without them, failing the run instead of skipping). Says
 * why once when not; use with `describe.skipIf(!hasPostgres())(postgresTitle(name, …), …)`.
 */
export function hasPostgres(): boolean {
  if (postgresBin() !== undefined || process.env.CI) return true;
  note('no /usr/lib/postgresql/*/bin/initdb');
  return false;
}

/**
 * Starts a server with an empty database `hashwarden`, or returns `undefined` (saying why once on
 * standard error) when none can be started outside CI. `root`: where the versions' folders are
 * (a test of the skip points it elsewhere). Call it in `beforeAll` and `stop()` in
 * `afterAll`: a server is never left running, whether the tests pass or fail.
 */
export async function startPostgres(root = DEBIAN_ROOT): Promise<TestPostgres | undefined> {
  const bin = postgresBin(root);
  let dir: string | undefined;
  let started = false;
  const asPostgres = process.getuid?.() === 0;
  try {
    if (bin === undefined) throw new Error(`no ${root}/*/bin/initdb`);
    dir = mkdtempSync(join(tmpdir(), 'hashwarden-pg-'));
    if (asPostgres) {
      chownSync(dir, postgresUid(), postgresGid());
      chmodSync(dir, 0o700);
    }
    const data = join(dir, 'data');
    run(
      bin,
      'initdb',
      ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-locale'],
      asPostgres,
    );
    const port = await freePort();
    // Tests throw the data away: durability settings off make imports cheaper.
    const settings = [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 40',
    ];
    appendFileSync(join(data, 'postgresql.conf'), `\n${settings.join('\n')}\n`);
    const log = join(dir, 'server.log');
    run(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', String(SERVER_TIMEOUT_SECONDS), 'start'], asPostgres);
    started = true;
    run(bin, 'createdb', ['-h', dir, '-p', String(port), '-U', 'postgres', 'hashwarden'], asPostgres);
    const serverDir = dir;
    let stopped = false;
    let databases = 0;
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/hashwarden`,
      host: '127.0.0.1',
      port,
      database: 'hashwarden',
      createDatabase() {
        const name = `test_${++databases}`;
        run(bin, 'createdb', ['-h', serverDir, '-p', String(port), '-U', 'postgres', name], asPostgres);
        return `postgresql://postgres@127.0.0.1:${port}/${name}`;
      },
      stop() {
        if (stopped) return;
        stopped = true;
        stopServer(bin, serverDir, asPostgres);
      },
    };
  } catch (error) {
    if (dir !== undefined) {
      if (started && bin !== undefined) stopServer(bin, dir, asPostgres);
      else rmSync(dir, { recursive: true, force: true });
    }
    const why = (error instanceof Error ? error.message : String(error)).split('\n')[0] as string;
    if (process.env.CI)
      throw new Error(`CI must run the PostgreSQL tests, but no server started: ${why}`, { cause: error });
    note(why);
    return undefined;
  }
}

function stopServer(bin: string, dir: string, asPostgres: boolean): void {
  try {
    run(bin, 'pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop'], asPostgres);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A test or suite name that says, when `present` is false, why it is skipped (as `sharedTitle`).
 */
export function postgresTitle(name: string, present: boolean): string {
  return present ? name : `${name} [${SKIP_NO_POSTGRES}]`;
}

function postgresUid(): number {
  return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
}

function postgresGid(): number {
  return Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
}

/**
 * A test file's server: started in `beforeAll` (when {@link hasPostgres}), stopped in `afterAll`,
 * whether the tests pass or fail. `available` says whether to collect the suites; `url()` makes a
 * database of the test's own; `running()` is false only outside CI when no server started.
 */
export function usePostgres(hooks: {
  beforeAll: (fn: () => Promise<void>, timeout?: number) => void;
  afterAll: (fn: () => void) => void;
}): { readonly available: boolean; running(): boolean; url(): string } {
  const available = hasPostgres();
  let server: TestPostgres | undefined;
  hooks.beforeAll(async () => {
    if (available) server = await startPostgres();
  }, SERVER_TIMEOUT_SECONDS * 2000);
  hooks.afterAll(() => server?.stop());
  return {
    available,
    running: () => server !== undefined,
    url: () => {
      if (server === undefined) throw new Error('no PostgreSQL server running');
      return server.createDatabase();
    },
  };
}

/** Runs SQL on a database directly, as an administrator altering it by hand would. */
export async function runSql(url: string, text: string, params: unknown[] = []): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(text, params);
  } finally {
    await client.end();
  }
}

/**
 * What `connect` fails with on `url` once the tables it made there were changed by `alteration`
 * (SQL run as an administrator would): the refusal of an altered store.
 */
export async function refusalAfter(
  url: string,
  connect: (url: string) => Promise<{ close(): Promise<void> }>,
  alteration: string,
): Promise<{ code?: unknown; message?: unknown }> {
  await (await connect(url)).close();
  await runSql(url, alteration);
  try {
    await (await connect(url)).close();
  } catch (error) {
    return error as { code?: unknown; message?: unknown };
  }
  throw new Error(`connected after ${alteration}`);
}
