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

/**
 * A character a terminal or log viewer acts on rather than shows (controls, line and paragraph
 * separators, bidi controls, lone surrogates): no printed line may hold one.
 */
export const ACTIVE_CHARACTER =
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
