/**
 * Bounded concurrency for batch work: at most `limit` tasks in flight, results in input order,
 * one failure reported in its own slot rather than failing the batch.
 */
import { integerInRange } from './validate.js';

/** Largest concurrency accepted: far above any useful number, low enough to catch a mistake. */
export const MAX_CONCURRENCY = 1024;

/** The outcome of one item of a batch. */
export type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Runs `task` over `items` with at most `limit` running at once; calls `onResult` in input order
 * as soon as each prefix is complete (so output can stream), and resolves with every outcome.
 *
 * @example
 * ```ts
 * const results = await mapSettled(files, 2, (f) => hashImage(f));
 * ```
 */
export async function mapSettled<I, T>(
  items: readonly I[],
  limit: number,
  task: (item: I, index: number) => Promise<T>,
  onResult?: (result: Settled<T>, index: number) => void,
): Promise<Settled<T>[]> {
  integerInRange(limit, 1, MAX_CONCURRENCY, 'concurrency');
  const results: (Settled<T> | undefined)[] = new Array(items.length);
  let next = 0;
  let reported = 0;
  const report = () => {
    while (reported < items.length && results[reported] !== undefined) {
      onResult?.(results[reported] as Settled<T>, reported);
      reported++;
    }
  };
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await task(items[i] as I, i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results as Settled<T>[];
}
