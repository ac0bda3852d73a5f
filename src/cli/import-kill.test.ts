/**
 * An import killed part way (SIGKILL, as an out-of-memory killer or a node's shutdown would) must
 * leave the store exactly as it was: the previous version, every entry, matching as before. The
 * import runs in a child process (`hashwarden import … --replace`), killed once while it reads the
 * file and stages rows (a quarter of the way through the file, by the offset Linux reports for its
 * descriptor; skipped without /proc), and once while it writes them (when the store's write-ahead
 * log grows). Both ways of `importFile` are killed: a file whose ids ascend (rows written straight
 * into the store) and one whose ids do not (rows staged, then applied). The child is the built CLI
 * when there is one (`npm test` builds first), so the file is read on its worker thread.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher } from '../matcher/matcher.js';
import { HashStore } from '../store/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROWS = 300_000;
const md5 = (n: number, salt: string): string => `${salt}${n.toString(16).padStart(31, '0')}`;

const CLI = existsSync(join(ROOT, 'dist/cli/main.js')) ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];

let dir: string;
let db: string;
let big: string;
/** The same rows, ids `new000000`… ascending, and `new0`, `new1`… (`new10` sorts before `new2`). */
const files: Record<'ordered' | 'staged', string> = { ordered: '', staged: '' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-kill-'));
  for (const way of ['ordered', 'staged'] as const) {
    files[way] = join(dir, `${way}.csv`);
    const lines = ['id,algorithm,hash'];
    for (let i = 0; i < ROWS; i++)
      lines.push(`new${way === 'ordered' ? String(i).padStart(6, '0') : i},md5,${md5(i, 'b')}`);
    await writeFile(files[way], `${lines.join('\n')}\n`);
  }
}, 60_000);

/** A store at version 1: 1,000 entries the replace would remove. */
function seed(way: string): void {
  db = join(dir, `${way}.db`);
  const store = HashStore.open(db);
  store.importEntries(
    Array.from({ length: 1000 }, (_, i) => ({
      id: `old${i}`,
      list: 'x',
      algorithm: 'md5' as const,
      hash: md5(i, 'a'),
    })),
  );
  store.close();
}

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * How far the child has read the list file: the offset of its descriptor on it (Linux's
 * /proc/PID/fdinfo), or -1 when it has none open (not yet, or no longer).
 */
function readOffset(pid: number): number {
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== big) continue;
      const pos = /^pos:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (pos !== null) return Number(pos[1]);
    }
  } catch {
    // The process is starting or gone.
  }
  return -1;
}

/** Starts the import, kills it when `when` says so (polled every 2 ms), and resolves to how it ended. */
function killedImport(
  when: (read: number, walBytes: number) => boolean,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; read: number; wal: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--no-warnings', ...CLI, 'import', big, '--db', db, '--list', 'x', '--replace', '--quiet'],
      { cwd: ROOT, stdio: 'ignore' },
    );
    let killed = false;
    let read = -1;
    let wal = 0;
    const timer = setInterval(() => {
      const walPath = `${db}-wal`;
      const size = existsSync(walPath) ? statSync(walPath).size : 0;
      const offset = child.pid === undefined ? -1 : readOffset(child.pid);
      if (!killed && when(offset, size)) {
        killed = true;
        read = offset;
        wal = size;
        child.kill('SIGKILL');
      }
    }, 2);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, read, wal });
    });
  });
}

/** The store as a matcher and a reader see it: version, count, and which hashes match. */
async function state(): Promise<{
  version: number | undefined;
  total: number | undefined;
  oldMatches: number;
  newMatches: number;
}> {
  const store = HashStore.open(db, { readonly: true });
  const list = store.lists().find((l) => l.name === 'x');
  store.close();
  const matcher = await Matcher.open(db);
  return {
    version: list?.version,
    total: list?.total,
    oldMatches: matcher.matchHash({ algorithm: 'md5', hash: md5(17, 'a') }).length,
    newMatches: matcher.matchHash({ algorithm: 'md5', hash: md5(17, 'b') }).length,
  };
}

describe.each(['ordered', 'staged'] as const)('hashwarden import killed part way, ids %s', (way) => {
  beforeAll(() => {
    big = files[way];
    seed(way);
  });
  const previous = { version: 1, total: 1000, oldMatches: 1, newMatches: 0 };

  it.skipIf(!existsSync('/proc/self/fdinfo'))(
    'leaves the previous version when killed while reading and staging rows',
    async () => {
      expect(await state()).toEqual(previous);
      // Killed once a quarter of the file is read (rows are staged as they are read).
      const size = statSync(big).size;
      const run = await killedImport((read) => read > size / 4);
      expect(run.signal).toBe('SIGKILL');
      expect(run.read).toBeLessThan(size);
      expect(await state()).toEqual(previous);
    },
    60_000,
  );

  it('leaves the previous version when killed while writing them, and the next import completes', async () => {
    // The killed run before left its uncommitted pages in the write-ahead log, and SQLite reuses
    // that file without shrinking it: a writer opening and closing the store recovers it and
    // removes the log, so that the log's size below is this run's writing only.
    HashStore.open(db).close();
    expect(existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0).toBe(0);
    const run = await killedImport((_elapsed, wal) => wal > 512 * 1024);
    expect(run.signal).toBe('SIGKILL');
    expect(run.wal).toBeGreaterThan(512 * 1024);
    expect(await state()).toEqual(previous);
    const done = await killedImport(() => false);
    expect([done.code, done.signal]).toEqual([0, null]);
    expect(await state()).toEqual({ version: 2, total: ROWS, oldMatches: 0, newMatches: 1 });
  }, 120_000);
});
