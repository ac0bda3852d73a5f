/**
 * Runs a module script twice, in fresh Node processes: as is, and under `node --jitless`, where
 * WebAssembly is absent and every kernel takes its JavaScript fallback. Tests compare the two
 * outputs to show that the fallback computes the same values as the kernel, bit for bit.
 * The script runs from the repository root (imports like './src/…'), through tsx, and must print
 * one line of JSON; `wasm` in each result is `typeof WebAssembly` in that process.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs `script` in a fresh Node process from the repository root, through tsx (`before`: Node
 * flags ahead of it, `after`: ahead of the script, e.g. another `--import`), and parses the one
 * line of JSON it printed.
 */
export function runScript(script: string, before: readonly string[] = [], after: readonly string[] = []): unknown {
  return JSON.parse(
    execFileSync(
      process.execPath,
      [...before, '--no-warnings', '--import', 'tsx', ...after, '--input-type=module', '-e', script],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
}

/** The JSON each run printed, with and without WebAssembly. */
export function withAndWithoutWasm(script: string): {
  withWasm: { wasm: string; out: unknown };
  withoutWasm: { wasm: string; out: unknown };
} {
  const run = (flags: string[]) => runScript(script, flags) as { wasm: string; out: unknown };
  return { withWasm: run([]), withoutWasm: run(['--jitless']) };
}
