/**
 * One question (issue 22): how fast does `PgHashStore.importFile` put a 1,000,000-row list into
 * PostgreSQL (target: ≥ 300,000 rows/s), and where does the time go?
 *
 * A throwaway server is started with src/testing/postgres.ts (`startPostgres`: the test server,
 * fsync and synchronous_commit off, so the figures leave out the disk's flush). Generated CSV
 * lists of MD5 rows (`id,algorithm,hash`, ids `ncmec-000001234`, hex from mulberry32): the ids
 * ascending, the same rows with the ids in scrambled order, and a delta (`op,id,algorithm,hash`)
 * removing one id in 20 and adding as many new ones (10% of the list's size in rows).
 *
 * Each run, in a database of its own: `fresh ascending` (the ascending file into an empty store),
 * `replace` (the scrambled file into that store with `replace`: every row unchanged), `delta` (the
 * delta into it), then `fresh random` (the scrambled file into another empty database). Median of
 * `--runs` runs. rows/s = the file's rows ÷ the call's wall time (the delta's rows for the delta).
 *
 * The split, per import: `staging` from the transaction's first statement to the end of the COPY
 * (the reader thread, the rows turned into COPY text, the server storing them), `apply` from the
 * end of the COPY to the COMMIT (settling repeats, the writes into `entries`, history). Measured
 * by timing the statements on the store's connections (a pool of the bench's own), so the library
 * is run unchanged. Beside it: `read` (the list reader thread alone, no database: its batches
 * taken as fast as it makes them) and `bare COPY` (the same rows as prepared COPY text into an
 * unindexed temporary table of four text columns: PostgreSQL's own ceiling here).
 *
 * The library is the built package (`dist/`, `npm run build`: the reader runs on its worker thread
 * only from the build). `--baseline DIR` also runs a build of another revision (a checkout with
 * `dist/` built and `node_modules` beside it), alternating with this one run by run, so that a
 * change is judged against the old code under the same load.
 *
 * Run: npm run build && npx tsx bench/pg-import.bench.ts
 * Options: --rows 1e6        rows in the list (default 1,000,000)
 *          --runs 3          runs per case (the median is reported)
 *          --baseline DIR    a built checkout to compare with, in the same run
 *          --statements      also log each statement of an import that takes 20 ms or more
 */
import { Worker } from 'node:worker_threads';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type Pg from 'pg';
import { mulberry32 } from '../src/testing/prng.js';
import { startPostgres } from '../src/testing/postgres.js';
import { environment, option, revision, ROOT } from './corpus.js';
import { newest, scratchDir } from './process.js';
import { loadAverage, median } from './stats.js';

const ROWS = Number(option('rows') ?? 1e6);
const RUNS = Number(option('runs') ?? 3);
const BASELINE = option('baseline');
/** `--statements`: log each statement of an import that takes 20 ms or more. */
const STATEMENTS = process.argv.includes('--statements');
const TARGET = 300_000;
if (!Number.isInteger(ROWS) || ROWS < 20) throw new RangeError(`--rows: expected an integer ≥ 20, got ${ROWS}`);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new RangeError(`--runs: expected a positive integer, got ${RUNS}`);

const require = createRequire(import.meta.url);
const pg = require('pg') as typeof Pg;
const copyFrom = (require('pg-copy-streams') as typeof import('pg-copy-streams')).from;

// ---------------------------------------------------------------------------------------------
// The builds

interface Build {
  readonly name: string;
  readonly root: string;
  /** The built module's class: typed loosely, its types are not this revision's. */
  readonly PgHashStore: any;
}

async function loadBuild(name: string, root: string, checkFresh: boolean): Promise<Build> {
  const entry = join(root, 'dist', 'postgres', 'index.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build in ${root}`);
  if (checkFresh && statSync(entry).mtimeMs < newest(join(root, 'src')))
    throw new Error(`${entry} is older than src/: run npm run build`);
  const module = await import(pathToFileURL(entry).href);
  return { name, root, PgHashStore: module.PgHashStore };
}

// ---------------------------------------------------------------------------------------------
// The list files

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const ROWS_PER_WRITE = 16_384;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The MD5 of row `n` (0-based): the same hex in every file and every run. */
function md5Of(n: number): string {
  const random = mulberry32(n + 1);
  let hash = '';
  for (let w = 0; w < 4; w++) {
    const x = Math.floor(random() * 2 ** 32);
    hash += HEX[x >>> 24]! + HEX[(x >>> 16) & 255]! + HEX[(x >>> 8) & 255]! + HEX[x & 255]!;
  }
  return hash;
}

const idOf = (n: number): string => `ncmec-${String(n + 1).padStart(9, '0')}`;

/** Writes `header` and then `row(i)` for i below `count`, a block at a time. */
async function writeFile(path: string, header: string, count: number, row: (i: number) => string): Promise<void> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let block: string[] = [header];
  for (let i = 0; i < count; i++) {
    block.push(row(i));
    if (block.length >= ROWS_PER_WRITE || i === count - 1) {
      block.push('');
      if (!out.write(block.join('\n'))) await once(out, 'drain');
      block = [];
    }
  }
  out.end();
  await once(out, 'finish');
}

/** Ids i ↦ i·step mod rows: a bijection when step and rows are coprime. */
function scrambler(rows: number): (i: number) => number {
  let step = Math.floor(rows * 0.618_034) | 1;
  while (gcd(step, rows) !== 1) step += 2;
  return (i) => (i * step) % rows;
}

// ---------------------------------------------------------------------------------------------
// Statement timing on the store's connections

interface Phases {
  staging: number;
  apply: number;
}

/** A pool whose clients note when the import's transaction starts, its COPY ends and it commits. */
function timedPool(url: string): { pool: Pg.Pool; take(): Phases } {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  let begun = 0;
  let copied = 0;
  let committed = 0;
  const wrapped = new WeakSet<object>();
  pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [config] = args;
      const text = typeof config === 'string' ? config : '';
      if (text === 'BEGIN') begun = 0;
      const started = performance.now();
      if (begun === 0 && text !== 'BEGIN' && text !== '') begun = started;
      const result = query(...args);
      if (result !== null && typeof result === 'object' && 'on' in result && 'write' in result) {
        (result as unknown as NodeJS.EventEmitter).once('finish', () => (copied = performance.now()));
      } else if (text === 'COMMIT') {
        void (result as Promise<unknown>).then(() => (committed = performance.now()));
      } else if (STATEMENTS && result instanceof Promise) {
        void result.then(() => {
          const ms = performance.now() - started;
          if (ms >= 20) log(`    ${ms.toFixed(0).padStart(5)} ms  ${text.replace(/\s+/g, ' ').slice(0, 110)}`);
        });
      }
      return result;
    };
  });
  return {
    pool,
    take: () => ({ staging: copied - begun, apply: committed - copied }),
  };
}

// ---------------------------------------------------------------------------------------------
// The reader alone, and PostgreSQL's own COPY

/** Reads `path` with the build's reader thread, taking each batch at once: rows/s with no database. */
async function readAlone(build: Build, path: string): Promise<number> {
  const module = join(build.root, 'dist', 'lists', 'read-worker.js');
  const started = performance.now();
  const worker = new Worker(module, {
    workerData: { path, options: { list: 'bench', onError: 'fail', batchSize: 1000 }, checkOrder: false },
    // As the store's reader runs it (src/lists/packed-reader.ts, READER_YOUNG_GENERATION_MB).
    resourceLimits: { maxYoungGenerationSizeMb: 48 },
  });
  let rows = 0;
  await new Promise<void>((done, fail) => {
    worker.on('message', (m: { type: string; batch?: { count: number }; message?: string }) => {
      if (m.type === 'batch') {
        rows += m.batch?.count ?? 0;
        worker.postMessage('more');
      } else if (m.type === 'done') done();
      else fail(new Error(`reader: ${m.message}`));
    });
    worker.on('error', fail);
  });
  const seconds = (performance.now() - started) / 1000;
  await worker.terminate();
  if (rows !== ROWS) throw new Error(`reader read ${rows} rows, expected ${ROWS}`);
  return rows / seconds;
}

/** The rows as COPY text, in 256 KiB chunks as the import writes them. */
function copyChunks(): string[] {
  const chunks: string[] = [];
  let text = '';
  for (let i = 0; i < ROWS; i++) {
    text += `bench\t${idOf(i)}\tmd5\t${md5Of(i)}\n`;
    if (text.length >= 256 * 1024) {
      chunks.push(text);
      text = '';
    }
  }
  if (text !== '') chunks.push(text);
  return chunks;
}

/** COPY of prepared text into an unindexed temporary table, in one transaction: rows/s. */
async function bareCopy(url: string, chunks: readonly string[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE bare (list text, id text, algorithm text, hash text) ON COMMIT DROP');
    const copy = client.query(copyFrom('COPY bare FROM STDIN'));
    for (const chunk of chunks) if (!copy.write(chunk)) await once(copy, 'drain');
    copy.end();
    await once(copy, 'finish');
    await client.query('COMMIT');
    return ROWS / ((performance.now() - started) / 1000);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------

const CASES = ['fresh ascending', 'replace', 'delta', 'fresh random'] as const;
type Case = (typeof CASES)[number];

interface Sample {
  readonly seconds: number;
  readonly rows: number;
  readonly phases: Phases;
}

const server = await startPostgres();
if (server === undefined) throw new Error('no PostgreSQL server could be started (see the message above)');
const { dir, cleanup } = scratchDir('hashwarden-pg-import-');
const t0 = performance.now();
const log = (s: string): void => console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${s}`);
try {
  const builds = [await loadBuild('this revision', ROOT, true)];
  if (BASELINE !== undefined) builds.push(await loadBuild(`baseline ${BASELINE}`, resolve(BASELINE), false));

  const ascending = join(dir, 'ascending.csv');
  const random = join(dir, 'random.csv');
  const delta = join(dir, 'delta.csv');
  const scramble = scrambler(ROWS);
  log(`generating ${ROWS.toLocaleString('en')}-row lists in ${dir}`);
  await writeFile(ascending, 'id,algorithm,hash', ROWS, (i) => `${idOf(i)},md5,${md5Of(i)}`);
  await writeFile(random, 'id,algorithm,hash', ROWS, (i) => {
    const n = scramble(i);
    return `${idOf(n)},md5,${md5Of(n)}`;
  });
  // One id in 20 removed, as many new ones added after the last: 10% of the list in rows.
  const deltaRows = 2 * Math.floor(ROWS / 20);
  await writeFile(delta, 'op,id,algorithm,hash', deltaRows, (i) =>
    i % 2 === 0 ? `remove,${idOf((i / 2) * 20)},,` : `add,${idOf(ROWS + (i - 1) / 2)},md5,${md5Of(ROWS + (i - 1) / 2)}`,
  );

  const samples = new Map<string, Sample[]>();
  const note = (build: Build, kind: Case, sample: Sample): void => {
    const key = `${build.name}\u0000${kind}`;
    samples.set(key, [...(samples.get(key) ?? []), sample]);
    log(
      `  ${build.name}, ${kind}: ${sample.seconds.toFixed(2)} s, ${Math.round(sample.rows / sample.seconds).toLocaleString('en')} rows/s (staging ${(sample.phases.staging / 1000).toFixed(2)} s, apply ${(sample.phases.apply / 1000).toFixed(2)} s), load ${loadAverage()}`,
    );
  };
  const reads: number[] = [];
  const bare: number[] = [];
  const chunks = copyChunks();
  const loads: string[] = [];

  for (let run = 1; run <= RUNS; run++) {
    // Alternate which build goes first, so neither always meets the other's leftovers.
    const order = run % 2 === 1 ? builds : [...builds].reverse();
    for (const build of order) {
      log(`run ${run}: ${build.name}`);
      const timed = async (url: string, kind: Case, path: string, rows: number, options: object): Promise<void> => {
        const { pool, take } = timedPool(url);
        const store = await build.PgHashStore.connect({ pool });
        try {
          const started = performance.now();
          const result = await store.importFile(path, { list: 'bench', source: kind, ...options });
          const seconds = (performance.now() - started) / 1000;
          const summary = result.summaries[0];
          const want =
            kind === 'delta'
              ? { added: rows / 2, removed: rows / 2 }
              : kind === 'replace'
                ? { unchanged: rows, added: 0, removed: 0 }
                : { added: rows };
          for (const [key, value] of Object.entries(want))
            if (summary?.[key] !== value) throw new Error(`${kind}: unexpected result ${JSON.stringify(summary)}`);
          note(build, kind, { seconds, rows, phases: take() });
        } finally {
          await store.close();
          await pool.end();
        }
      };
      const one = server.createDatabase();
      await timed(one, 'fresh ascending', ascending, ROWS, {});
      await timed(one, 'replace', random, ROWS, { replace: ['bench'] });
      await timed(one, 'delta', delta, deltaRows, {});
      const two = server.createDatabase();
      await timed(two, 'fresh random', random, ROWS, {});
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      for (const url of [one, two]) await admin.query(`DROP DATABASE ${new URL(url).pathname.slice(1)}`);
      await admin.end();
    }
    reads.push(await readAlone(builds[0] as Build, random));
    bare.push(await bareCopy(server.url, chunks));
    loads.push(loadAverage());
    log(
      `  reader alone ${Math.round(reads.at(-1) as number).toLocaleString('en')} rows/s, bare COPY ${Math.round(bare.at(-1) as number).toLocaleString('en')} rows/s`,
    );
  }

  const rate = (n: number): string => Math.round(n).toLocaleString('en');
  console.log(`# PostgreSQL import — ${await environment()}`);
  console.log(
    `src at ${revision()}; ${ROWS.toLocaleString('en')} MD5 rows (delta ${deltaRows.toLocaleString('en')} rows); median of ${RUNS} runs; load average after each run: ${loads.join(' | ')}`,
  );
  console.log(
    `command: npx tsx bench/pg-import.bench.ts --rows ${ROWS} --runs ${RUNS}${BASELINE === undefined ? '' : ' --baseline DIR'}\n`,
  );
  console.log('| build | case | wall s | rows/s | staging s | apply s |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const build of builds) {
    for (const kind of CASES) {
      const s = samples.get(`${build.name}\u0000${kind}`) ?? [];
      const seconds = median(s.map((x) => x.seconds));
      const r = (s[0]?.rows ?? 0) / seconds;
      console.log(
        `| ${build.name} | ${kind} | ${seconds.toFixed(2)} | ${rate(r)}${r >= TARGET ? '' : ' ✗'} | ${(median(s.map((x) => x.phases.staging)) / 1000).toFixed(2)} | ${(median(s.map((x) => x.phases.apply)) / 1000).toFixed(2)} |`,
      );
    }
  }
  console.log(
    `\nreader thread alone (no database): ${rate(median(reads))} rows/s; bare COPY into an unindexed temporary table: ${rate(median(bare))} rows/s`,
  );
  console.log(`✗: below the target of ${TARGET.toLocaleString('en')} rows/s.`);
} finally {
  server.stop();
  cleanup();
}
