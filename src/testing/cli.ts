/**
 * The `hashwarden` command run in process, for the CLI's tests: its exit status and what it wrote.
 */
import { runCli } from '../cli/run.js';

/** Runs `hashwarden ARGV…` with string sinks (standard output not a terminal). */
export async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const status = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), isTTY: false });
  return { status, out, err, lines: out.trim().split('\n').filter(Boolean) };
}
