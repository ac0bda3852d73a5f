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

/** The JSON each run printed, with and without WebAssembly. */
export function withAndWithoutWasm(script: string): {
  withWasm: { wasm: string; out: unknown };
  withoutWasm: { wasm: string; out: unknown };
} {
  const run = (flags: string[]): { wasm: string; out: unknown } =>
    JSON.parse(
      execFileSync(
        process.execPath,
        [...flags, '--no-warnings', '--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    ) as { wasm: string; out: unknown };
  return { withWasm: run([]), withoutWasm: run(['--jitless']) };
}
