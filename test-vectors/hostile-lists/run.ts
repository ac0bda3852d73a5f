/**
 * Runs the cases of the hostile-inputs corpus (test-vectors/hostile-lists.ts): each file opened
 * through the public API as its manifest says, and what came of it — a result with the
 * post-conditions the manifest can check, a `HashwardenError` code, or anything else thrown —
 * in this process (`runCase`) or in a child process watched for memory (`runCaseInChild`), for
 * the cases that allocated gigabytes before issue 18's fixes. The test and the bench share both.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { HostileCase, HostileExpectation, ListCounts } from '../hostile-lists.js';
import { HashwardenError, Matcher, readListFile, readSnapshot, streamListFile } from '../../src/index.js';
import { HashStore, type ImportProgress } from '../../src/store/index.js';

/** What a case came to. `lists`: the store's entry counts per list afterwards, when there is a store. */
export type CaseOutcome =
  | Extract<HostileExpectation, { readonly ok: unknown }>
  | { readonly code: string; readonly lists?: ListCounts }
  | { readonly untyped: string; readonly lists?: ListCounts }
  | { readonly killed: string };

/** Entry counts per list in the store at `path`, read with SQL alone (no trigger or check runs). */
export function listCounts(path: string): ListCounts | undefined {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch {
    return undefined;
  }
  try {
    const rows = db.prepare('SELECT list, count(*) AS n FROM entries GROUP BY list ORDER BY list').all() as {
      list: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.list, r.n]));
  } catch {
    return undefined;
  } finally {
    db.close();
  }
}

/** A store holding the corpus's seeded lists, at `path`. */
async function seeded(path: string): Promise<void> {
  const { seededEntries } = await import('../hostile-lists.js');
  const store = HashStore.open(path);
  try {
    store.importEntries(seededEntries(), { source: 'seed' });
  } finally {
    store.close();
  }
}

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.constructor.name}: ${error.message.slice(0, 300)}` : String(error);

/**
 * Opens `c.file` (in `dir`) as the case says, in this process. Stores are copied to a scratch
 * folder first, so the corpus is never changed and each case starts from the file as generated.
 */
export async function runCase(dir: string, c: HostileCase): Promise<CaseOutcome> {
  const scratch = await mkdtemp(join(tmpdir(), 'hostile-case-'));
  const path = join(dir, c.file);
  const options = (c.open.options ?? {}) as Record<string, unknown>;
  let store: string | undefined;
  try {
    if (c.open.call === 'importFile' || c.kind === 'store') {
      store = join(scratch, 'store.db');
      if (c.kind === 'store') await copyFile(path, store);
      else await seeded(store);
    }
    const after = (): { lists?: ListCounts } => {
      const lists = store === undefined ? undefined : listCounts(store);
      return lists === undefined ? {} : { lists };
    };
    try {
      switch (c.open.call) {
        case 'readListFile': {
          const parsed = await readListFile(path, options as never);
          return { ok: { entries: parsed.entries.length, skippedLines: parsed.skipped.map((p) => p.line) } };
        }
        case 'streamListFile': {
          let entries = 0;
          const skippedLines: number[] = [];
          for await (const batch of streamListFile(path, options as never)) {
            entries += batch.rows.filter((r) => r.op === 'add').length;
            skippedLines.push(...batch.problems.map((p) => p.line));
          }
          return { ok: { entries, skippedLines } };
        }
        case 'importFile': {
          const target = HashStore.open(store as string);
          const skippedLines: number[] = [];
          try {
            const list = c.kind === 'list' ? path : join(dir, c.open.import as string);
            await target.importFile(list, {
              ...options,
              onProgress: ({ problems }: ImportProgress) => skippedLines.push(...problems.map((p) => p.line)),
            } as never);
          } finally {
            target.close();
          }
          return { ok: { ...after(), skippedLines } };
        }
        case 'HashStore.open': {
          const opened = HashStore.open(store as string, options as never);
          try {
            const lists: Record<string, number> = {};
            for (const e of opened.entries()) lists[e.list] = (lists[e.list] ?? 0) + 1;
            return { ok: { lists } };
          } finally {
            opened.close();
          }
        }
        case 'Matcher.open': {
          const matcher = await Matcher.open(store ?? path, options as never);
          return { ok: { entries: matcher.size } };
        }
        case 'readSnapshot': {
          const snapshot = await readSnapshot(path);
          return { ok: { entries: snapshot.algorithms.reduce((n, a) => n + a.count, 0) } };
        }
      }
    } catch (error) {
      if (error instanceof HashwardenError) return { code: error.code, ...after() };
      return { untyped: describeError(error), ...after() };
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Whether `outcome` is what `expect` says. An `ok` expectation names only the post-conditions it
 * checks (skipped lines: none when it names none); an error expectation, its code (or one of its
 * codes) and the store's lists afterwards when it names them.
 */
export function meets(outcome: CaseOutcome, expect: HostileExpectation): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if ('ok' in expect) {
    if (!('ok' in outcome)) return false;
    const { lists, entries, skippedLines = [] } = expect.ok;
    return (
      (lists === undefined || same(sorted(outcome.ok.lists), sorted(lists))) &&
      (entries === undefined || outcome.ok.entries === entries) &&
      same(outcome.ok.skippedLines ?? [], skippedLines)
    );
  }
  if (!('code' in outcome)) return false;
  const codes: readonly string[] = typeof expect.error === 'string' ? [expect.error] : expect.error;
  return (
    codes.includes(outcome.code) && (expect.lists === undefined || same(sorted(outcome.lists), sorted(expect.lists)))
  );
}

const sorted = (lists: ListCounts | undefined): [string, number][] | undefined =>
  lists === undefined ? undefined : Object.entries(lists).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** A case run in a child process: its outcome, peak resident memory and time. */
export interface ChildRun {
  readonly outcome: CaseOutcome;
  /** Peak resident set of the child, in MiB (from the child's own count, or the watchdog's). */
  readonly peakMiB: number;
  readonly ms: number;
}

/** The child's entry: test-vectors/hostile-lists-case.ts (prints one line of JSON). */
const CHILD = fileURLToPath(new URL('../hostile-lists-case.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Resident memory of process `pid` in MiB (Linux: /proc), or 0 when it cannot be read. */
async function residentMiB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) / 1024;
  } catch {
    return 0;
  }
}

/**
 * Runs case `c` in a fresh Node process (old-space heap capped at 1 GiB) and kills it when its
 * resident memory passes `killMiB` or it runs past `timeoutMs`: a case that would allocate
 * gigabytes on a branch without the fixes costs at most about that much of a shared machine.
 */
export function runCaseInChild(
  dir: string,
  c: HostileCase,
  { killMiB = 1024, timeoutMs = 60_000 }: { killMiB?: number; timeoutMs?: number } = {},
): Promise<ChildRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--max-old-space-size=1024', '--no-warnings', '--import', 'tsx', CHILD, dir, c.case],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let peak = 0;
    let killed: string | undefined;
    child.stdout.on('data', (b: Buffer) => {
      out += b;
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b;
    });
    // Polled often: memory can grow by gigabytes a second while a sparse file is read.
    const watch = setInterval(async () => {
      const now = await residentMiB(child.pid as number);
      peak = Math.max(peak, now);
      if (now > killMiB && killed === undefined) {
        killed = `killed at ${Math.round(now)} MiB resident (limit ${killMiB})`;
        child.kill('SIGKILL');
      }
    }, 20);
    const timer = setTimeout(() => {
      killed ??= `killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearInterval(watch);
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (killed !== undefined) return resolve({ outcome: { killed }, peakMiB: peak, ms });
      try {
        const line = JSON.parse(out.trim().split('\n').at(-1) as string) as { outcome: CaseOutcome; maxRssKiB: number };
        resolve({ outcome: line.outcome, peakMiB: Math.max(peak, line.maxRssKiB / 1024), ms });
      } catch {
        // No line printed: the process died (V8 out of heap, a signal), which no caller can catch.
        const why = /heap out of memory|Allocation failed[^\n]*/i.exec(err)?.[0] ?? err.trim().split('\n')[0] ?? '';
        resolve({
          outcome: { killed: `died (status ${status}, ${signal ?? 'no signal'}): ${why}` },
          peakMiB: peak,
          ms,
        });
      }
    });
  });
}
