/**
 * Whole processes for the benches: a scratch folder removed at the end or on Ctrl-C, and one
 * process run under `/usr/bin/time -v` (Debian's `time`) with its wall clock, CPU and peak RSS.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh folder under the system's temporary one, and how to remove it (also done on Ctrl-C). */
export function scratchDir(prefix: string): { readonly dir: string; readonly cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  return { dir, cleanup };
}

/** The newest modification time of the files under `dir`: whether a build is older than its sources. */
export function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * CPU time (user + system) in ms from a /proc `stat` file (`/proc/PID/stat`: a whole process, every
 * thread; `/proc/PID/task/TID/stat`: one thread), in clock ticks of 10 ms; NaN where there is none.
 */
export function procCpuMs(statPath: string): number {
  try {
    const fields = readFileSync(statPath, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** What `/usr/bin/time -v` and the process itself reported. */
export interface TimedProcess {
  readonly status: number | null;
  /** Wall clock, seconds. */
  readonly wall: number;
  /** User + system CPU, seconds. */
  readonly cpu: number;
  readonly rssKiB: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `h:mm:ss.ss` or `m:ss.ss` to seconds. */
function clock(text: string): number {
  return text.split(':').reduce((s, part) => s * 60 + Number(part), 0);
}

/**
 * Runs `node ARGV…` under `/usr/bin/time -v`, its report written to `timeFile` (so the process's
 * own stderr stays its own).
 */
export async function timeProcess(argv: readonly string[], timeFile: string, cwd?: string): Promise<TimedProcess> {
  const child = spawn('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, ...argv], {
    ...(cwd === undefined ? {} : { cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const [status] = (await once(child, 'close')) as [number | null];
  const report = readFileSync(timeFile, 'utf8');
  const field = (label: string): string => {
    const line = report.split('\n').find((l) => l.trim().startsWith(label));
    if (line === undefined) throw new Error(`no "${label}" in /usr/bin/time's output:\n${report}`);
    return line.slice(line.lastIndexOf(': ') + 2).trim();
  };
  return {
    status,
    wall: clock(field('Elapsed (wall clock) time')),
    cpu: Number(field('User time (seconds)')) + Number(field('System time (seconds)')),
    rssKiB: Number(field('Maximum resident set size (kbytes)')),
    stdout,
    stderr,
  };
}
