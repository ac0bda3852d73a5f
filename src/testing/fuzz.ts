/**
 * The budget of the fuzz tests (`src/**\/*.fuzz.test.ts`, docs/fuzzing.md): every property runs
 * with one seed and a number of runs read here, so CI runs a fixed, small budget and
 * `scripts/fuzz-long.ts` the same properties with a large one. Environment:
 *
 * - `FUZZ_SEED`: the seed of every property (default {@link DEFAULT_FUZZ_SEED}: CI is repeatable).
 * - `FUZZ_SCALE`: multiplies each property's CI runs (default 1).
 * - `FUZZ_RUNS`: runs of every property, whatever its CI number (wins over `FUZZ_SCALE`).
 * - `FUZZ_PATH`: fast-check's `path` of a reported failure: with its seed, replays just that case.
 */
import fc from 'fast-check';

/** The seed CI runs with when `FUZZ_SEED` is not set. */
export const DEFAULT_FUZZ_SEED = 20261129;

/** How long one run of an async property may take before it counts as a hang (ms). */
const FUZZ_RUN_TIMEOUT_MS = 10_000;

function integerFromEnv(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  // A typo in a variable must not quietly run the default budget.
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return value;
}

/** The budget in force: what the environment says, or CI's. */
export interface FuzzBudget {
  readonly seed: number;
  readonly scale: number;
  readonly runs: number | undefined;
  readonly path: string | undefined;
}

/** Reads the budget from `env` (throws for a malformed variable). */
export function fuzzBudget(env: NodeJS.ProcessEnv = process.env): FuzzBudget {
  const path = env.FUZZ_PATH?.trim();
  return Object.freeze({
    seed: integerFromEnv(env, 'FUZZ_SEED', -(2 ** 31), 2 ** 31 - 1) ?? DEFAULT_FUZZ_SEED,
    scale: integerFromEnv(env, 'FUZZ_SCALE', 1, 1_000_000) ?? 1,
    runs: integerFromEnv(env, 'FUZZ_RUNS', 1, 100_000_000),
    path: path === undefined || path === '' ? undefined : path,
  });
}

const BUDGET = fuzzBudget();

/**
 * fast-check parameters of one property: `ciRuns` runs in CI (scaled or replaced by the
 * environment), the shared seed, and a per-run timeout so that a hang in async code fails the
 * property (and is reported with its seed and path) instead of stalling the test file.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(fc.string(), (s) => check(s)), fuzzParameters(200));
 * ```
 */
export function fuzzParameters<T>(ciRuns: number): fc.Parameters<T> {
  return {
    seed: BUDGET.seed,
    numRuns: BUDGET.runs ?? ciRuns * BUDGET.scale,
    ...(BUDGET.path === undefined ? {} : { path: BUDGET.path }),
    plugins: [fc.timeout(FUZZ_RUN_TIMEOUT_MS)],
  };
}

/**
 * The vitest timeout of a fuzz test: the configured default (30 s) for CI's budget, none for a
 * larger one (a long run takes as long as it takes; fast-check's per-run timeout still catches a
 * hang in async code).
 */
export function fuzzTestTimeout(): number | undefined {
  return BUDGET.scale === 1 && BUDGET.runs === undefined ? undefined : 0;
}

/**
 * The message shape of every argument error (src/validate.ts, docs/api.md):
 * `Expected <what> for <name> but received <value>` — `<value>` being `<shown> of type <type>`
 * from the validators.
 */
const ARGUMENT_MESSAGE = /^Expected .+ for \S.* but received .+$/s;

/**
 * True when `error` is an argument error: a TypeError or RangeError in the standard message shape
 * (not, say, the TypeError of reading a property of null).
 */
export function isArgumentError(error: unknown): boolean {
  return (error instanceof TypeError || error instanceof RangeError) && ARGUMENT_MESSAGE.test(error.message);
}

/** Every value fast-check can make, the awkward ones included (null prototypes, BigInts, boxed values, typed and sparse arrays, maps, sets, dates). */
export const anyValue: fc.Arbitrary<unknown> = fc.anything({
  withNullPrototype: true,
  withBigInt: true,
  withBoxedValues: true,
  withTypedArray: true,
  withSparseArray: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withObjectString: true,
});
