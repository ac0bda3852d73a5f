/**
 * An import into the PostgreSQL store killed part way (SIGKILL, as an out-of-memory killer or a
 * node's shutdown would) must leave the store exactly as it was: the same lists, versions, counts,
 * entries and history, no lock held, and the next import completes. The import runs in a child
 * process (`hashwarden import … --db postgresql://… --replace`) whose connection carries an
 * application name of its own, so that the server says what it is doing: it is killed once while
 * its rows stream through COPY, and once after the COPY, while it writes them (before COMMIT).
 * The server then notices the connection gone and rolls the transaction back; the checks wait
 * for its backend to end. The child is the built CLI when there is one (`npm test` builds first).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher } from '../matcher/matcher.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { loadPg } from './driver.js';
import { PgHashStore } from './index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = existsSync(join(ROOT, 'dist/cli/main.js')) ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];

/** Rows of the import killed: enough that its COPY and its apply each last long enough to be caught. */
const ROWS = 300_000;

/** Longest the server may take to notice a killed client and roll its transaction back. */
const BACKEND_GONE_MS = 30_000;

const md5 = (n: number, salt: string): string => `${salt}${n.toString(16).padStart(31, '0')}`;

const pg = usePostgres({ beforeAll, afterAll });
const available = pg.available;

let dir: string;
let big: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-pg-kill-'));
  big = join(dir, 'big.csv');
  // Ids that do not ascend (`new10` before `new2`), as most files' ids: the rows are settled by a sort.
  const lines = ['id,algorithm,hash'];
  for (let i = 0; i < ROWS; i++) lines.push(`new${i},md5,${md5(i, 'b')}`);
  await writeFile(big, `${lines.join('\n')}\n`);
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The activity of the child's connection: `phase` is what its query is doing, or 'gone' when it has none. */
async function activity(admin: InstanceType<ReturnType<typeof loadPg>['pg']['Client']>, app: string) {
  const rows = (
    await admin.query<{ state: string | null; query: string | null }>(
      'SELECT state, query FROM pg_stat_activity WHERE application_name = $1',
      [app],
    )
  ).rows;
  return rows;
}

/**
 * Runs the import in a child process and kills it when the phase `at` is seen: `copy` while a
 * COPY runs; `apply` once a COPY was seen and the connection then writes the store's tables (an
 * INSERT, UPDATE, DELETE or MERGE: the entries, the list's version, the history), before COMMIT.
 * Resolves once the child has exited and the server has ended its backend.
 */
async function killedImport(
  url: string,
  at: 'copy' | 'apply' | 'never',
): Promise<{ code: number | null; signal: NodeJS.Signals | null; seen: string }> {
  const app = `hashwarden-kill-${at}-${process.pid}`;
  const target = new URL(url);
  target.searchParams.set('application_name', app);
  const admin = new (loadPg().pg.Client)({ connectionString: url });
  await admin.connect();
  try {
    const child = spawn(
      process.execPath,
      ['--no-warnings', ...CLI, 'import', big, '--db', target.href, '--list', 'x', '--replace', '--quiet'],
      { cwd: ROOT, stdio: 'ignore' },
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    let done = false;
    void exited.then(() => (done = true));
    let copied = false;
    let seen = '';
    while (!done && at !== 'never') {
      const rows = await activity(admin, app);
      const active = rows.find((r) => r.state === 'active' && r.query !== null);
      const query = active?.query?.trimStart() ?? '';
      if (/^COPY\b/i.test(query)) copied = true;
      if ((at === 'copy' && copied) || (at === 'apply' && copied && /^(INSERT|UPDATE|DELETE|MERGE)\b/i.test(query))) {
        child.kill('SIGKILL');
        seen = query;
        break;
      }
    }
    const ended = await exited;
    const until = Date.now() + BACKEND_GONE_MS;
    while ((await activity(admin, app)).length > 0) {
      if (Date.now() > until) throw new Error(`the server kept the killed import's backend past ${BACKEND_GONE_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { ...ended, seen };
  } finally {
    await admin.end();
  }
}

/** Everything an import could change, as a reader and a matcher see it. */
async function state(url: string) {
  const store = await PgHashStore.connect(url, { readonly: true });
  try {
    const lists = await store.lists();
    const history = await store.history();
    const ids: string[] = [];
    for await (const e of store.entries({ list: 'x' })) if (ids.length < 5) ids.push(e.id);
    const matcher = await Matcher.open(store);
    const admin = new (loadPg().pg.Client)({ connectionString: url });
    await admin.connect();
    const locks = Number(
      (await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'")).rows[0]?.n,
    );
    await admin.end();
    return {
      lists,
      history,
      count: await store.count(),
      ids,
      locks,
      oldMatches: matcher.matchHash({ algorithm: 'md5', hash: md5(17, 'a') }).length,
      newMatches: matcher.matchHash({ algorithm: 'md5', hash: md5(17, 'b') }).length,
    };
  } finally {
    await store.close();
  }
}

describe.skipIf(!available)(postgresTitle('hashwarden import into PostgreSQL killed part way', available), () => {
  it('leaves the store exactly as it was when killed mid-COPY and mid-apply, and the retry imports everything', async (t) => {
    if (!pg.running()) return t.skip();
    const url = pg.url();
    const seed = await PgHashStore.connect(url);
    try {
      await seed.importEntries(
        Array.from({ length: 1000 }, (_, i) => ({
          id: `old${i}`,
          list: 'x',
          algorithm: 'md5' as const,
          hash: md5(i, 'a'),
        })),
        { source: 'seed' },
      );
      await seed.importEntries([{ id: 'y1', list: 'y', algorithm: 'md5', hash: md5(1, 'c') }]);
    } finally {
      await seed.close();
    }
    const before = await state(url);
    expect(before).toMatchObject({ count: 1001, locks: 0, oldMatches: 1, newMatches: 0 });
    for (const at of ['copy', 'apply'] as const) {
      const run = await killedImport(url, at);
      expect(run.signal, `killed ${at}: exited ${run.code} before it was caught`).toBe('SIGKILL');
      if (at === 'apply') expect(run.seen).toMatch(/^(INSERT|UPDATE|DELETE|MERGE)\b/i);
      expect(await state(url)).toEqual(before);
    }
    const retry = await killedImport(url, 'never');
    expect([retry.code, retry.signal]).toEqual([0, null]);
    const after = await state(url);
    expect(after).toMatchObject({ count: ROWS + 1, locks: 0, oldMatches: 0, newMatches: 1 });
    expect(after.lists.find((l) => l.name === 'x')).toMatchObject({ version: 2, total: ROWS });
    expect(after.lists.find((l) => l.name === 'y')).toEqual(before.lists.find((l) => l.name === 'y'));
    expect(after.history.slice(0, -1)).toEqual(before.history);
    expect(after.history.at(-1)).toMatchObject({ list: 'x', version: 2, added: ROWS, removed: 1000, mode: 'replace' });
  }, 120_000);
});
