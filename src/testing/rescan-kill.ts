/**
 * A rescan killed part way, for the resume tests of both seen stores: a child process that takes
 * a number of events, says so, and waits to be killed (SIGKILL, as an out-of-memory killer would).
 */
import { spawn } from 'node:child_process';

/** A module's text that prints each event's id of `rescan` (an expression), and after `count` of them waits forever. */
export function pausingRescan(rescan: string, count: number): string {
  return `let n = 0;
for await (const event of ${rescan}) {
  process.stdout.write(event.id + '\\n');
  if (++n === ${count}) {
    process.stdout.write('PAUSED\\n');
    setInterval(() => {}, 1000);
    await new Promise(() => {});
  }
}
`;
}

/**
 * Runs `node ARGS…` (a script built on {@link pausingRescan}), kills it with SIGKILL once it has
 * paused, and returns the event ids it printed before.
 */
export async function killWhenPaused(args: readonly string[], cwd?: string): Promise<string[]> {
  const child = spawn(process.execPath, args, {
    ...(cwd === undefined ? {} : { cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('PAUSED\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`child exited before pausing: ${err}`)));
  });
  child.kill('SIGKILL');
  await exited;
  return out.split('\n').filter((line) => /^[0-9a-f]{32}$/.test(line));
}
