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
 * found: the search's usual case), 1,000 in all, from a seeded generator; and as many MD5 queries
 * (the listed ones and random ones), whose search is a table lookup. Baselines in the same run:
 * `GET /healthz`, the cheapest route the server has (no auth, no search), so the ratio says what
 * the lookup costs beyond HTTP on this machine; and the search alone, `matchHash` in this process
 * on one core for 3 s before the server starts (the ceiling of one worker). `--runs` alternated pairs of `--seconds`
 * each, after a warm-up of 3 s each; every answer must be 200 (non-2xx and errors are counted
 * and fail the run). Medians.
 *
 * Run: npm run build && npx tsx bench/sidecar-lookup.bench.ts [--entries 1000000] [--runs 3]
 *        [--seconds 10] [--connections 32] [--workers 2] [--client wrk|autocannon]
 */
import { parseArgs } from 'node:util';
import { formatHex, Matcher, parseHex } from '../src/index.js';
import { mulberry32 } from '../src/testing/prng.js';
import { environment, revision, testVectorImages } from './corpus.js';
import { writeLoadLists } from './load-lists.js';
import { scratchDir } from './process.js';
import { BENCH_TOKEN, hasWrk, type LoadRequest, type LoadResult, load, loadWithWrk, startSidecar } from './sidecar.js';
import { loadAverage, median } from './stats.js';

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
/** The farthest a found PDQ query is flipped from its listed hash: within PDQ's default threshold (31). */
const MAX_FLIPS = 24;
const WARMUP_SECONDS = 3;
/** How long the in-process ceiling is timed. */
const CEILING_SECONDS = 3;

type Signal = 'pdq' | 'md5';
const BYTES: Record<Signal, number> = { pdq: 32, md5: 16 };

/** Half found (a listed hash; PDQ with 0–24 bits flipped), half random (not found), as hashes. */
function queryHashes(signal: Signal, listed: readonly string[], seed: number): string[] {
  const random = mulberry32(seed);
  const size = BYTES[signal];
  return Array.from({ length: QUERIES }, (_, i) => {
    const bytes = new Uint8Array(size);
    if (i % 2 === 0 && listed.length > 0) {
      bytes.set(parseHex(listed[(i >> 1) % listed.length]!, size, signal));
      const flips = signal === 'pdq' ? Math.floor(random() * (MAX_FLIPS + 1)) : 0;
      for (let f = 0; f < flips; f++) {
        const bit = Math.floor(random() * size * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
      }
    } else for (let b = 0; b < size; b++) bytes[b] = Math.floor(random() * 256);
    return formatHex(bytes);
  });
}

/**
 * The search alone, in this process on one core: `matchHash` calls a second over the queries, as
 * the sidecar calls it (the lists' thresholds). No HTTP, no client: what one worker could do at best.
 */
function ceiling(matcher: Matcher, signal: Signal, hashes: readonly string[]): number {
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < CEILING_SECONDS * 1000)
    for (const hash of hashes) {
      matcher.matchHash({ algorithm: signal, hash });
      calls++;
    }
  return calls / ((performance.now() - started) / 1000);
}

function line(label: string, r: LoadResult): string {
  const other = Object.entries(r.statuses)
    .filter(([code]) => code !== '200' && code !== '2xx/3xx')
    .map(([code, n]) => `${n} × ${code}`);
  return `| ${label} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${[...other, r.errors > 0 ? `${r.errors} errors` : ''].filter(Boolean).join(', ') || 'none'} |`;
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
    const signals: Signal[] = ['pdq', 'md5'];
    const hashes = Object.fromEntries(
      signals.map((signal) => [
        signal,
        queryHashes(
          signal,
          lists.listed.filter((e) => e.algorithm === signal).map((e) => e.hash),
          seed,
        ),
      ]),
    ) as Record<Signal, string[]>;
    const requests = Object.fromEntries(
      signals.map((signal) => [
        signal,
        hashes[signal].map(
          (hash): LoadRequest => ({ method: 'GET', path: `/m/lookup?signal_type=${signal}&signal=${hash}` }),
        ),
      ]),
    ) as Record<Signal, LoadRequest[]>;

    const matcher = await Matcher.open(lists.snapshot);
    const perCore = Object.fromEntries(signals.map((s) => [s, ceiling(matcher, s, hashes[s])])) as Record<
      Signal,
      number
    >;
    await matcher.close();
    console.log(
      `the search alone, in process, one core: ${signals.map((s) => `${s} ${perCore[s].toFixed(0)} calls/s`).join(', ')}`,
    );

    const healthz: LoadRequest[] = [{ method: 'GET', path: '/healthz' }];
    const sidecar = await startSidecar(['--snapshot', lists.snapshot, '--workers', String(workers)]);
    console.log(
      `serving at ${sidecar.url} (${workers} workers), ready in ${sidecar.readyMs.toFixed(0)} ms; ${client}, ${connections} connections`,
    );
    const loadRun = (list: readonly LoadRequest[], secs: number): Promise<LoadResult> =>
      client === 'wrk'
        ? Promise.resolve(loadWithWrk(sidecar.url, list, { connections, seconds: secs, dir }))
        : load(sidecar.url, list, { connections, seconds: secs });
    // Every lookup answer is checked once before the load: 200, with matches for the found half.
    for (const signal of signals) {
      let found = 0;
      for (const q of requests[signal]) {
        const response = await fetch(`${sidecar.url}${q.path}`, {
          headers: { authorization: `Bearer ${BENCH_TOKEN}` },
        });
        if (response.status !== 200) throw new Error(`${q.path}: status ${response.status}: ${await response.text()}`);
        if (Object.keys((await response.json()) as object).length > 0) found++;
      }
      console.log(
        `${signal} queries: ${requests[signal].length} (${found} with a match, each checked once before the load)`,
      );
    }
    console.log(`load average before: ${loadAverage()}`);
    const routes: Record<string, readonly LoadRequest[]> = {
      'GET /healthz (baseline)': healthz,
      'GET /m/lookup, pdq': requests.pdq,
      'GET /m/lookup, md5': requests.md5,
    };
    for (const list of Object.values(routes)) await loadRun(list, WARMUP_SECONDS);
    const results: Record<string, LoadResult[]> = {};
    const cores: Record<string, number[]> = {};
    let failed = false;
    for (let run = 0; run < runs; run++) {
      const parts: string[] = [];
      for (const [label, list] of Object.entries(routes)) {
        const before = sidecar.cpuMs();
        const r = await loadRun(list, seconds);
        (cores[label] ??= []).push((sidecar.cpuMs() - before) / 1000 / r.seconds);
        (results[label] ??= []).push(r);
        if (r.errors > 0 || r.timeouts > 0 || Object.keys(r.statuses).some((c) => c !== '200' && c !== '2xx/3xx'))
          failed = true;
        parts.push(`${label} ${r.perSecond.toFixed(0)}/s (server ${cores[label]!.at(-1)!.toFixed(2)} cores)`);
      }
      console.log(`  run ${run + 1}: ${parts.join('; ')}`);
    }
    console.log(`load average after: ${loadAverage()}`);
    console.log('\n| route | requests/s | p50 ms | p99 ms | max ms | other answers |');
    console.log('|---|---:|---:|---:|---:|---|');
    for (const [label, rs] of Object.entries(results)) {
      const mid = [...rs].sort((a, b) => a.perSecond - b.perSecond)[rs.length >> 1]!;
      console.log(line(`${label}, median of ${rs.length}`, mid));
    }
    const base = results['GET /healthz (baseline)']!;
    for (const signal of signals) {
      const rs = results[`GET /m/lookup, ${signal}`]!;
      const rate = median(rs.map((r) => r.perSecond));
      console.log(
        `\n${signal}: lookup ÷ healthz per pair ${rs.map((r, i) => (r.perSecond / base[i]!.perSecond).toFixed(2)).join(', ')}; ` +
          `median ${rate.toFixed(0)} req/s = ${(rate / perCore[signal]).toFixed(2)} × the search alone on one core ` +
          `(${(rate / (perCore[signal] * workers)).toFixed(2)} × on ${workers}); server ${median(cores[`GET /m/lookup, ${signal}`]!).toFixed(2)} cores`,
      );
    }
    console.log(`\nserver peak RSS (each process's peak, summed): ${(sidecar.peakRssKiB() / 1024).toFixed(0)} MiB`);
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
