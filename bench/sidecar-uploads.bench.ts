/**
 * Question (issue 20, point 4): on the load bench's uploads, how does `hashwarden serve` (uploads
 * posted to `POST /m/lookup` as an HMA client posts them) compare with the in-process API
 * (`matcher.matchImage(buffer)`) on the same machine: throughput, p50/p99 and memory? Target: the
 * sidecar's throughput ≥ 90% of the in-process API's.
 *
 * Method: the load bench's corpus (test vectors, the shared photos when present, the hostile files)
 * and its list (bench/load-lists.ts, `--entries`, default 1M). The same seeded order of `--calls`
 * uploads (shuffles of every file, each about equally often) is run both ways, `--concurrency`
 * at once, with the same `--hash-threads`:
 * - in-process: a child process (`--child`) opens the snapshot with `Matcher.open` and runs the calls
 *   from `--concurrency` workers, each awaiting `matchImage` on a fresh Buffer of its upload (the
 *   load bench's model), after a warm-up pass of every file once; its peak RSS is its own maxRSS;
 * - sidecar: `node dist/cli/main.js serve --snapshot S` (bench/sidecar.ts: auth on), warmed up with
 *   every file once, then autocannon in this process posts each upload as a one-file multipart body
 *   (`photo`, as HMA's clients do) over `--concurrency` connections; its peak RSS is the server's
 *   VmHWM. The client (`--client`: wrk, Debian's load generator in C, by default when installed, for
 *   as long as the in-process run took; or autocannon in this process, for `--calls` requests)
 *   shares the 2 cores with the server: that cost is part of the comparison, as it is when a
 *   service and its sidecar share a machine, and wrk's is the smaller.
 * `--runs` alternated pairs (in-process first); the ratio of each pair, and medians. Before each
 * timed sidecar run, every file is posted once, one at a time (the warm-up), and its answer
 * compared with its outcome in process: a 200 for a result (matched, or checked and clean), else
 * the `code` of the body equal to the in-process `HashwardenError` code (`ERR_NOT_CHECKED` for a
 * result not checked); any difference fails the run.
 *
 * Run: npm run build && npx tsx bench/sidecar-uploads.bench.ts [--calls 1500] [--entries 1000000]
 *        [--concurrency 16] [--hash-threads 1] [--runs 3] [--client wrk|autocannon]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HashwardenError, Matcher } from '../src/index.js';
import { environment, revision, ROOT, sharedPhotos, testVectorImages } from './corpus.js';
import { writeLoadLists } from './load-lists.js';
import { scratchDir } from './process.js';
import {
  BENCH_TOKEN,
  hasWrk,
  type LoadRequest,
  type LoadResult,
  load,
  loadWithWrk,
  multipartBody,
  startSidecar,
} from './sidecar.js';
import { callOrder, loadAverage, median, percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '1500' },
    entries: { type: 'string', default: '1000000' },
    concurrency: { type: 'string', default: '16' },
    'hash-threads': { type: 'string', default: '1' },
    client: { type: 'string' },
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '20261206' },
    child: { type: 'string' },
  },
  strict: true,
});

interface Config {
  readonly snapshot: string;
  readonly files: readonly string[];
  /** Indexes into `files`, in call order. */
  readonly order: readonly number[];
  readonly concurrency: number;
  readonly hashThreads: number;
  readonly results: string;
}

interface InProcess {
  readonly calls: number;
  readonly seconds: number;
  /** CPU (user + system, every thread) during the timed calls, in cores. */
  readonly cores: number;
  /** Each file's outcome in the warm-up pass, by index: `result` or the code. */
  readonly perFile: readonly string[];
  readonly p50: number;
  readonly p99: number;
  readonly maxRssKiB: number;
  /** `result`, `ERR_NOT_CHECKED` (a result with `checked: false` and no match) or the HashwardenError code, counted. */
  readonly outcomes: Record<string, number>;
}

async function child(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Config;
  const matcher = await Matcher.open(config.snapshot, { maxQueued: Infinity, hashThreads: config.hashThreads });
  const bytes = config.files.map((f) => readFileSync(f));
  const call = async (i: number): Promise<string> => {
    try {
      const result = await matcher.matchImage(Buffer.from(bytes[i]!));
      // What the sidecar answers 422 ERR_NOT_CHECKED (an upload not checked is never "no match").
      return result.matched || result.checked ? 'result' : 'ERR_NOT_CHECKED';
    } catch (error) {
      if (error instanceof HashwardenError) return error.code;
      throw error;
    }
  };
  const perFile: string[] = [];
  for (let i = 0; i < bytes.length; i++) perFile.push(await call(i)); // warm-up: each file once
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (next < config.order.length) {
        const file = config.order[next++]!;
        const t = performance.now();
        const outcome = await call(file);
        latencies.push(performance.now() - t);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const report: InProcess = {
    calls: config.order.length,
    seconds,
    cores: (used.user + used.system) / 1e6 / seconds,
    perFile,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    maxRssKiB: process.resourceUsage().maxRSS,
    outcomes,
  };
  writeFileSync(config.results, JSON.stringify(report));
  await matcher.close();
  process.exit(0); // the hashing threads, if any, end with the process
}

async function inProcess(configPath: string, config: Config): Promise<InProcess> {
  const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', configPath], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const [code] = (await once(proc, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the in-process child exited with status ${code}`);
  return JSON.parse(readFileSync(config.results, 'utf8')) as InProcess;
}

async function main(): Promise<void> {
  const calls = Number(args.calls);
  const concurrency = Number(args.concurrency);
  const hashThreads = Number(args['hash-threads']);
  const runs = Number(args.runs);
  const seed = Number(args.seed);
  const client = args.client ?? (hasWrk() ? 'wrk' : 'autocannon');
  if (client !== 'wrk' && client !== 'autocannon') throw new RangeError(`--client: wrk or autocannon, not ${client}`);
  console.log(`# sidecar vs in-process on uploads — ${await environment()}; commit ${revision()}`);
  console.log(`command: npx tsx bench/sidecar-uploads.bench.ts ${process.argv.slice(2).join(' ')}`.trim());
  const valid = [...testVectorImages(), ...sharedPhotos()];
  const hostileDir = join(ROOT, 'test-vectors', 'hostile');
  const hostile = (JSON.parse(readFileSync(join(hostileDir, 'manifest.json'), 'utf8')) as { files: { file: string }[] })
    .files;
  const files = [...valid.map((v) => v.path), ...hostile.map((h) => join(hostileDir, h.file))];
  console.log(
    `corpus: ${valid.length} valid images (photos: ${sharedPhotos().length}), ${hostile.length} hostile files`,
  );

  const order = callOrder(
    files.map((_, i) => i),
    calls,
    seed,
  );

  const { dir, cleanup } = scratchDir('hashwarden-sidecar-uploads-');
  try {
    const lists = await writeLoadLists(dir, valid, Number(args.entries), seed);
    console.log(lists.summary);
    const config: Config = {
      snapshot: lists.snapshot,
      files,
      order,
      concurrency,
      hashThreads,
      results: join(dir, 'r.json'),
    };
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const bodies = files.map((f, i) => {
      const { body, contentType } = multipartBody('photo', `upload-${i}`, readFileSync(f));
      return { method: 'POST', path: '/m/lookup', body, contentType } satisfies LoadRequest;
    });
    const requests = order.map((i) => bodies[i]!);
    console.log(
      `${calls} calls, ${concurrency} at once, hashThreads ${hashThreads}, ${client}; load average before: ${loadAverage()}`,
    );

    const pairs: { local: InProcess; sidecar: LoadResult; rssKiB: number; serverCores: number }[] = [];
    const mismatches = new Set<string>();
    for (let run = 0; run < runs; run++) {
      const local = await inProcess(configPath, config);
      const sidecar = await startSidecar(['--snapshot', lists.snapshot, '--hash-threads', String(hashThreads)]);
      // Warm-up, and the outcomes compared: each file once, one at a time, its answer (200: a
      // result; else the code in the body) against its outcome in process.
      for (const [i, r] of bodies.entries()) {
        const response = await fetch(`${sidecar.url}${r.path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': r.contentType },
          body: r.body,
        });
        const got = response.status === 200 ? 'result' : ((await response.json()) as { code?: string }).code;
        if (response.status === 200) await response.arrayBuffer();
        if (got !== local.perFile[i])
          mismatches.add(`${files[i]}: sidecar ${response.status} ${got}, in process ${local.perFile[i]}`);
      }
      const cpuBefore = sidecar.cpuMs();
      const result =
        client === 'wrk'
          ? loadWithWrk(sidecar.url, requests, { connections: concurrency, seconds: local.seconds, dir })
          : await load(sidecar.url, requests, { connections: concurrency, amount: requests.length });
      const serverCores = (sidecar.cpuMs() - cpuBefore) / 1000 / result.seconds;
      const rssKiB = sidecar.peakRssKiB();
      const { status } = await sidecar.stop();
      if (status !== 0) throw new Error(`serve exited with status ${status} after SIGTERM`);
      pairs.push({ local, sidecar: result, rssKiB, serverCores });
      const localRate = local.calls / local.seconds;
      console.log(
        `  run ${run + 1}: in-process ${localRate.toFixed(1)} calls/s (${local.cores.toFixed(2)} cores), sidecar ${result.perSecond.toFixed(1)} req/s (${(result.perSecond / localRate).toFixed(3)}×; server ${serverCores.toFixed(2)} cores); sidecar answers ${JSON.stringify(result.statuses)}${result.errors > 0 ? `, ${result.errors} errors` : ''}; in-process ${JSON.stringify(local.outcomes)}`,
      );
    }
    console.log(`load average after: ${loadAverage()}`);
    const ratios = pairs.map((p) => p.sidecar.perSecond / (p.local.calls / p.local.seconds));
    const mid = <T>(xs: readonly T[], key: (x: T) => number): number => median(xs.map(key));
    console.log('\n| way | calls/s (median) | p50 ms | p99 ms | peak RSS MiB |');
    console.log('|---|---:|---:|---:|---:|');
    console.log(
      `| in-process \`matchImage\` | ${mid(pairs, (p) => p.local.calls / p.local.seconds).toFixed(1)} | ${mid(pairs, (p) => p.local.p50).toFixed(0)} | ${mid(pairs, (p) => p.local.p99).toFixed(0)} | ${mid(pairs, (p) => p.local.maxRssKiB / 1024).toFixed(0)} |`,
    );
    console.log(
      `| sidecar \`POST /m/lookup\` | ${mid(pairs, (p) => p.sidecar.perSecond).toFixed(1)} | ${mid(pairs, (p) => p.sidecar.p50).toFixed(0)} | ${mid(pairs, (p) => p.sidecar.p99).toFixed(0)} | ${mid(pairs, (p) => p.rssKiB / 1024).toFixed(0)} |`,
    );
    console.log(
      `\nsidecar ÷ in-process, per pair: ${ratios.map((x) => x.toFixed(3)).join(', ')} (median ${median(ratios).toFixed(3)})`,
    );
    console.log(
      `each file's answer against its outcome in process (${bodies.length} files, every run): ${mismatches.size === 0 ? 'all equal' : `${mismatches.size} differ`}`,
    );
    for (const m of mismatches) console.log(`  ${m}`);
    const failed = mismatches.size > 0 || pairs.some((p) => p.sidecar.errors > 0 || p.sidecar.timeouts > 0);
    if (failed) {
      console.log('\nFAILED: answers differ from the in-process outcomes, or requests failed');
      process.exitCode = 1;
    }
  } finally {
    cleanup();
  }
}

if (args.child !== undefined) await child(args.child);
else await main();
