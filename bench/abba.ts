/**
 * Two matchers compared under the load bench's load in one process: rounds of `matchImage` calls
 * alternating A, B, B, A… (ABBA, so that a drift of the machine's speed over the run weighs on both
 * alike), each round's calls made by workers pulling from one queue over a seeded order of the
 * uploads, each call on a fresh Buffer copy with a `contentId`. Reported per round, then the
 * medians of each mode and the overhead of B (1 − B ÷ A), and the overhead of each block of four
 * rounds with their median: a paired estimate, each block taken close in time, less exposed to the
 * machine's drift than the medians over the whole run.
 */
import type { Matcher } from '../src/index.js';
import { callOrder, median } from './stats.js';

/** How the rounds run. */
export interface AbbaOptions {
  readonly calls: number;
  readonly rounds: number;
  readonly concurrency: number;
  readonly seed: number;
}

/** What a run measured: calls a second of each round by mode, and the overheads of B. */
export interface AbbaResult {
  readonly a: readonly number[];
  readonly b: readonly number[];
  /** 1 − median(B) ÷ median(A). */
  readonly overhead: number;
  /** 1 − ΣB ÷ ΣA of each block of four rounds. */
  readonly blocks: readonly number[];
}

/** One round: `calls` matchImage calls by `concurrency` workers; calls a second. */
async function round(matcher: Matcher, uploads: readonly Buffer[], label: number, o: AbbaOptions): Promise<number> {
  const order = callOrder(
    uploads.map((_, i) => i),
    o.calls,
    o.seed + label,
  );
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (next < order.length) {
        const i = next++;
        const upload = Buffer.from(uploads[order[i] as number] as Buffer);
        await matcher.matchImage(upload, { contentId: `upload-${label}-${i}` }).catch(() => undefined);
      }
    }),
  );
  return o.calls / ((performance.now() - start) / 1000);
}

/** Runs a warm-up round of each, then `rounds` rounds ABBA, printing each round with its mode's name. */
export async function abba(
  modes: { readonly a: [string, Matcher]; readonly b: [string, Matcher] },
  uploads: readonly Buffer[],
  o: AbbaOptions,
): Promise<AbbaResult> {
  await round(modes.a[1], uploads, -1, o); // warm-up, both matchers' code paths alike
  await round(modes.b[1], uploads, -2, o);
  const rates = { a: [] as number[], b: [] as number[] };
  const blocks: number[] = [];
  let block = { a: 0, b: 0 };
  const width = Math.max(modes.a[0].length, modes.b[0].length);
  for (let r = 0; r < o.rounds; r++) {
    const mode = r % 4 === 0 || r % 4 === 3 ? 'a' : 'b';
    const rate = await round(modes[mode][1], uploads, r, o);
    rates[mode].push(rate);
    block[mode] += rate;
    if (r % 4 === 3) {
      blocks.push(1 - block.b / block.a);
      block = { a: 0, b: 0 };
    }
    console.log(`round ${r + 1} ${modes[mode][0].padEnd(width)} ${rate.toFixed(1)} calls/s`);
  }
  const [a, b] = [median(rates.a), median(rates.b)];
  const result = { a: rates.a, b: rates.b, overhead: 1 - b / a, blocks };
  console.log(
    `median ${modes.a[0]} ${a.toFixed(1)} calls/s, ${modes.b[0]} ${b.toFixed(1)} calls/s: overhead ${(result.overhead * 100).toFixed(2)}%`,
  );
  if (blocks.length > 0) {
    const sorted = [...blocks].sort((x, y) => x - y);
    const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
    console.log(
      `paired ABBA blocks: ${blocks.length}, median overhead ${pct(median(blocks))} (range ${pct(sorted[0] as number)} to ${pct(sorted[sorted.length - 1] as number)})`,
    );
  }
  return result;
}
