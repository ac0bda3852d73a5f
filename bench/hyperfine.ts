/**
 * Whole processes timed by hyperfine (`-N`, no shell), in rounds that interleave the commands so
 * that a noisy neighbour moves them all alike; the rounds' runs pooled per command.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Each command's wall times (ms, every run of every round) and CPU times (ms, each round's mean). */
export interface HyperfineTimes {
  readonly times: number[][];
  readonly cpu: number[][];
  readonly perRound: number;
}

/**
 * Runs `commands` for `runs` runs each, split over `rounds` hyperfine calls (3 warm-up runs in the
 * first round, 1 in the others), `json` being where hyperfine writes each round's results.
 */
export function hyperfineRounds(
  commands: readonly string[],
  runs: number,
  rounds: number,
  json: string,
): HyperfineTimes {
  const times: number[][] = commands.map(() => []);
  const cpu: number[][] = commands.map(() => []);
  const perRound = Math.max(1, Math.round(runs / rounds));
  for (let round = 0; round < rounds; round++) {
    execFileSync(
      'hyperfine',
      ['-N', '--warmup', round === 0 ? '3' : '1', '--runs', String(perRound), '--export-json', json, ...commands],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const results = (
      JSON.parse(readFileSync(json, 'utf8')) as { results: { times: number[]; user: number; system: number }[] }
    ).results;
    results.forEach((r, i) => {
      times[i]?.push(...r.times.map((t) => t * 1000));
      cpu[i]?.push((r.user + r.system) * 1000);
    });
  }
  return { times, cpu, perRound };
}
