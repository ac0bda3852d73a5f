/**
 * Question (issue 20, point 4): how many `GET /m/lookup?signal_type=pdq&signal=HASH` requests a
 * second does `hashwarden serve` answer on 2 cores with a 1M-entry list? Target: ≥ 20,000.
 *
 * Method: the load bench's snapshot (bench/load-lists.ts; `--entries`, default 1M: 40% PDQ
 * searched by its multi-index tier), served by `node dist/cli/main.js serve --snapshot S
 * --workers W` (bench/sidecar.ts: auth on, a bearer token in every request) on 127.0.0.1, and
 * loaded by `--client`: wrk (default when installed: Debian's `wrk`, one thread) or autocannon in
 * this process. The client shares the 2 cores with the server, as it would on one machine (a
 * client elsewhere would leave the server both); wrk, in C, takes less of them than autocannon,
 * whose JavaScript costs about as much CPU a request as the server's own. The queries, cycled: the listed PDQ
 * hashes with 0–24 bits flipped (found, distance in the answer) and as many random hashes (not
 * found: the search's usual case), 1,000 in all, from a seeded generator. The baseline in the same
 * run: `GET /healthz`, the cheapest route the server has (no auth, no search), so the ratio says
 * what the lookup costs beyond HTTP on this machine. `--runs` alternated pairs of `--seconds`
 * each, after a warm-up of 3 s each; every answer must be 200 (non-2xx and errors are counted
 * and fail the run). Medians.
 *
 * Run: npm run build && npx tsx bench/sidecar-lookup.bench.ts [--entries 1000000] [--runs 3]
 *        [--seconds 10] [--connections 32] [--workers 2] [--client wrk|autocannon]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { formatHex, parseHex } from '../src/index.js';
import { mulberry32 } from '../src/testing/prng.js';
import { environment, revision, testVectorImages } from './corpus.js';
import { writeLoadLists } from './load-lists.js';
import { scratchDir } from './process.js';
import {
  BENCH_TOKEN,
  hasWrk,
  type LoadRequest,
  type LoadResult,
  load,
  loadWithWrk,
  median,
  startSidecar,
} from './sidecar.js';

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    seed: { type: 'string', default: '20261206' },
    workers: { type: 'string', default: '2' },
    client: { type: 'string' },
  },
  strict: true,
});

/** Queries cycled through: enough that no cache of a few answers flatters the figure. */
const QUERIES = 1000;
/** The farthest a found query is flipped from its listed hash: within PDQ's default threshold (31). */
const MAX_FLIPS = 24;
const WARMUP_SECONDS = 3;

function queries(listedPdq: readonly string[], seed: number): LoadRequest[] {
  const random = mulberry32(seed);
  const out: LoadRequest[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const bytes = new Uint8Array(32);
    if (i % 2 === 0 && listedPdq.length > 0) {
      bytes.set(parseHex(listedPdq[(i >> 1) % listedPdq.length]!, 32, 'pdq'));
      const flips = Math.floor(random() * (MAX_FLIPS + 1));
      for (let f = 0; f < flips; f++) {
        const bit = Math.floor(random() * 256);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
      }
    } else for (let b = 0; b < 32; b++) bytes[b] = Math.floor(random() * 256);
    out.push({ method: 'GET', path: `/m/lookup?signal_type=pdq&signal=${formatHex(bytes)}` });
  }
  return out;
}

function line(label: string, r: LoadResult): string {
  const other = Object.entries(r.statuses)
    .filter(([code]) => code !== '200' && code !== '2xx/3xx')
    .map(([code, n]) => `${n} × ${code}`);
  return `| ${label} | ${r.perSecond.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.max} | ${[...other, r.errors > 0 ? `${r.errors} errors` : ''].filter(Boolean).join(', ') || 'none'} |`;
}

async function main(): Promise<void> {
  const entries = Number(args.entries);
  const runs = Number(args.runs);
  const seconds = Number(args.seconds);
  const connections = Number(args.connections);
  const seed = Number(args.seed);
  const workers = Number(args.workers);
  const client = args.client ?? (hasWrk() ? 'wrk' : 'autocannon');
  if (client !== 'wrk' && client !== 'autocannon') throw new RangeError(`--client: wrk or autocannon, not ${client}`);
  console.log(`# sidecar lookup by hash — ${await environment()}; commit ${revision()}`);
  console.log(`command: npx tsx bench/sidecar-lookup.bench.ts ${process.argv.slice(2).join(' ')}`.trim());
  const { dir, cleanup } = scratchDir('hashwarden-sidecar-lookup-');
  try {
    const lists = await writeLoadLists(dir, testVectorImages(), entries, seed);
    console.log(lists.summary);
    const listedPdq = lists.listed.filter((e) => e.algorithm === 'pdq').map((e) => e.hash);
    const lookups = queries(listedPdq, seed);
    const healthz: LoadRequest[] = [{ method: 'GET', path: '/healthz' }];
    const sidecar = await startSidecar(['--snapshot', lists.snapshot, '--workers', String(workers)]);
    console.log(
      `serving at ${sidecar.url} (${workers} workers), ready in ${sidecar.readyMs.toFixed(0)} ms; ${client}, ${connections} connections`,
    );
    const loadRun = (requests: readonly LoadRequest[], seconds: number): Promise<LoadResult> =>
      client === 'wrk'
        ? Promise.resolve(loadWithWrk(sidecar.url, requests, { connections, seconds, dir }))
        : load(sidecar.url, requests, { connections, seconds });
    // Every lookup answer is checked once before the load: 200, with matches for the found half.
    let found = 0;
    for (const q of lookups) {
      const response = await fetch(`${sidecar.url}${q.path}`, {
        headers: { authorization: `Bearer ${BENCH_TOKEN}` },
      });
      if (response.status !== 200) throw new Error(`${q.path}: status ${response.status}: ${await response.text()}`);
      if (Object.keys((await response.json()) as object).length > 0) found++;
    }
    console.log(`queries: ${lookups.length} (${found} with a match, checked once each before the load)`);
    console.log(
      `load average before: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    await loadRun(healthz, WARMUP_SECONDS);
    await loadRun(lookups, WARMUP_SECONDS);
    const results: { healthz: LoadResult[]; lookup: LoadResult[] } = { healthz: [], lookup: [] };
    const cpu: number[] = [];
    let failed = false;
    for (let run = 0; run < runs; run++) {
      results.healthz.push(await loadRun(healthz, seconds));
      const before = sidecar.cpuMs();
      const r = await loadRun(lookups, seconds);
      cpu.push((sidecar.cpuMs() - before) / 1000 / r.seconds);
      results.lookup.push(r);
      if (
        r.errors > 0 ||
        r.timeouts > 0 ||
        Object.keys(r.statuses).some((code) => code !== '200' && code !== '2xx/3xx')
      )
        failed = true;
      console.log(
        `  run ${run + 1}: healthz ${results.healthz.at(-1)!.perSecond.toFixed(0)}/s, lookup ${r.perSecond.toFixed(0)}/s (server ${cpu.at(-1)!.toFixed(2)} cores)`,
      );
    }
    console.log(
      `load average after: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    console.log('\n| route | requests/s | p50 ms | p99 ms | max ms | other answers |');
    console.log('|---|---:|---:|---:|---:|---|');
    for (const [label, rs] of [
      ['GET /m/lookup (pdq)', results.lookup],
      ['GET /healthz (baseline)', results.healthz],
    ] as const) {
      const mid = [...rs].sort((a, b) => a.perSecond - b.perSecond)[rs.length >> 1]!;
      console.log(line(`${label}, median of ${rs.length}`, mid));
    }
    const ratios = results.lookup.map((r, i) => r.perSecond / results.healthz[i]!.perSecond);
    console.log(
      `\nlookup ÷ healthz, per pair: ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)}); server CPU during lookups: ${median(cpu).toFixed(2)} cores (median); server peak RSS ${(sidecar.peakRssKiB() / 1024).toFixed(0)} MiB`,
    );
    const { status } = await sidecar.stop();
    if (status !== 0) throw new Error(`serve exited with status ${status} after SIGTERM`);
    if (failed) {
      console.log('\nFAILED: some answers were not 200');
      process.exitCode = 1;
    }
  } finally {
    cleanup();
  }
}

await main();
