/**
 * Question (issue 7, point 5): under the load of an upload service — many uploads in flight at
 * once, valid images mixed with hostile files — does every `matchImage` call against a 1M-entry
 * list come back with a result or a typed error (never an untyped error, a crash or a hang), with
 * the outcome it has when the file is matched alone, and what are the throughput, the latency per
 * call and the peak memory?
 *
 * Method. The parent process (this file without `--child`):
 * 1. reads the corpus: the generated test vectors (test-vectors/images), the shared photos
 *    (../shared/photos, skipped with a message when absent) and the hostile files
 *    (test-vectors/hostile, each with its manifest outcome);
 * 2. hashes the valid images with `hashImage` and lists some of them: every 4th valid file by one
 *    algorithm in turn (MD5, PDQ, blockhash; MD5 when the perceptual hash is one a matcher refuses),
 *    and mosaic-400x300.jpg by blockhash and PDQ (the image the hostile animations hide at a frame);
 * 3. fills the list up to `--entries` with random hashes (mulberry32: 40% PDQ, 40% blockhash, 20%
 *    MD5) and writes one snapshot with `writeSnapshot` into a temporary directory (default search
 *    tier: MIH for both perceptual algorithms at 1M);
 * 4. runs the load in a child process under `/usr/bin/time -v` (when present), so that a crash of
 *    the process (a signal, an abort in native code) is seen and counted, and the peak RSS of the
 *    whole run is measured apart from the list generation; then prints the report. Exit status 1
 *    when any call ended in an untyped error, a hang or a crash (the issue's criterion); 2 when
 *    every call came back with a result or a typed error but some outcome differed from the hostile
 *    manifest or from the file's outcome when matched alone; 0 otherwise.
 * The child (`--child CONFIG`):
 * 1. opens the snapshot with `Matcher.open` (public API), timed;
 * 2. reads every file once into memory (with `--input bytes`, the default: about 52 MiB with the
 *    photos);
 * 3. reference pass: matches each distinct file once, one at a time (the warm-up too): its
 *    outcome (matched + the entries found, or an error code) is the one every call on that file
 *    must give under load; hostile outcomes are checked against the manifest, and each listed file
 *    must match its own entry;
 * 4. load: `--calls` calls over seeded shuffles of all the files (each file about equally often),
 *    made by `--concurrency` workers pulling from one queue. Each worker copies its next upload
 *    into a fresh Buffer (the request body as it arrives, not timed: each call holds its own
 *    bytes, and no untimed file read queues on libuv's pool beside sharp) and awaits
 *    `matcher.matchImage(buffer)` with its defaults (timed: from the call to its settling,
 *    queueing inside the process included). This models an upload service: each request awaits
 *    its own `matchImage`, up to 64 are in flight (the matcher holds 4 at once, its default
 *    `concurrency`, and the rest wait in its line: `maxQueued: Infinity`, so none is refused
 *    with `ERR_BUSY`), and one that finishes is replaced at once;
 *    `matchImages(…, { concurrency: 64 })` runs the same `mapSettled` workers inside the library,
 *    but resolves only when the whole batch is done, so it gives no latency per upload and does
 *    not model requests that come and go (it is the batch job's API). Every call has a watchdog
 *    (`--hang-seconds`): one that has not settled by then is counted as a hang.
 *    Measured: throughput (calls ÷ wall time of the load phase), latency p50/p90/p99/max per call
 *    and per class of file, the event-loop delay (what any other request of the process waits)
 *    and utilization (how busy the JavaScript thread is), garbage-collection pauses, CPU time, and
 *    memory: RSS sampled every 20 ms with the bytes the calls in flight hold at that moment (their
 *    upload + the RGBA raster of each frame hashed, 4 bytes a pixel, from the reference pass: what
 *    docs/api.md says an upload in flight holds), and `process.resourceUsage().maxRSS`.
 *
 * Run: npx tsx bench/load.bench.ts                         (defaults: the issue's figures)
 *      npx tsx bench/load.bench.ts --calls 2000 --entries 100000 --concurrency 4
 * Options: --calls N          matchImage calls in the load phase (default 10000)
 *          --concurrency N    calls in flight at once, 1–1024 (default 64)
 *          --entries N        entries in the snapshot, listed ones included (default 1000000)
 *          --input bytes|path each call gets a fresh Buffer of the upload (default) or the file's
 *                             path (then matchImage reads it, inside the timed call)
 *          --no-photos        leave ../shared/photos out even when present
 *          --hang-seconds N   a call not settled after N s is a hang (default 120)
 *          --seed N           seed of the random entries and of the call order (default 20261129)
 *          --json FILE        also write the figures as JSON
 *          --storm on|off     the match-rate alarm at its defaults, storms counted in the report
 *                             (default), or `storm: false`: alternate runs to see what counting costs
 *          --hash-threads N   the matcher's hashThreads, 0–1024 (0: hashing on the JavaScript
 *                             thread; default: the matcher's, one per core)
 * Environment: passed to the child as it is, e.g. UV_THREADPOOL_SIZE (libuv threads, where sharp
 * decodes; default 4, printed) or MALLOC_ARENA_MAX.
 * The default run takes 3–5 minutes on the project's 2-core machine (about 20 s of it writing the
 * snapshot). Temporary files are removed at the end.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HashwardenError, Matcher, type ImageMatchResult, type StormEvent } from '../src/index.js';
import type { HostileEntry } from '../test-vectors/hostile.js';
import { environment, ROOT, SHARED, sharedPhotos, testVectorImages } from './corpus.js';
import { writeLoadLists } from './load-lists.js';
import { procCpuMs, scratchDir } from './process.js';
import { callOrder, percentile } from './stats.js';

// ---------------------------------------------------------------------------------------------
// Options

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '64' },
    entries: { type: 'string', default: '1000000' },
    input: { type: 'string', default: 'bytes' },
    'no-photos': { type: 'boolean', default: false },
    'hang-seconds': { type: 'string', default: '120' },
    seed: { type: 'string', default: '20261129' },
    json: { type: 'string' },
    'hash-threads': { type: 'string' },
    storm: { type: 'string', default: 'on' },
    child: { type: 'string' },
  },
  strict: true,
});

function positiveInteger(name: string, text: string, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  const n = Number(text.replaceAll('_', ''));
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

type InputMode = 'bytes' | 'path';

/**
 * CPU time of this process's JavaScript thread alone, in ms (Linux: its task's utime + stime, in
 * clock ticks of 10 ms), or NaN where /proc is absent. `process.cpuUsage()` counts every thread
 * (libuv's, the hashing threads), and the event-loop utilization counts waiting for a core as busy.
 */
function mainThreadCpuMs(): number {
  return procCpuMs(`/proc/self/task/${process.pid}/stat`);
}

/** What the parent hands the child. */
interface Config {
  readonly snapshot: string;
  readonly calls: number;
  readonly concurrency: number;
  /** The matcher's `hashThreads`; absent: its default. */
  readonly hashThreads?: number;
  /** The match-rate alarm on (its defaults) or off (`storm: false`). */
  readonly storm: boolean;
  readonly input: InputMode;
  readonly hangSeconds: number;
  readonly seed: number;
  readonly files: readonly CorpusFile[];
  readonly results: string;
}

type FileClass = 'test vector' | 'photo' | 'hostile: hash expected' | 'hostile: refusal expected';
const CLASSES: readonly FileClass[] = ['test vector', 'photo', 'hostile: hash expected', 'hostile: refusal expected'];

interface CorpusFile {
  /** `set/name`, unique. */
  readonly key: string;
  readonly path: string;
  readonly bytes: number;
  readonly cls: FileClass;
  /** Entry ids listed from this file's own hashes (listed files only). */
  readonly listedIds: readonly string[];
  /** Hostile files: the manifest entry. */
  readonly hostile?: HostileEntry;
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/** What one call came to. */
type Outcome =
  | { readonly kind: 'result'; readonly result: ImageMatchResult }
  | { readonly kind: 'typed'; readonly code: string }
  | { readonly kind: 'untyped'; readonly error: string }
  | { readonly kind: 'hang' };

/** A comparable summary: `matched [ids@frame]`, `not matched`, an error code, or untyped/hang. */
function signature(o: Outcome): string {
  switch (o.kind) {
    case 'result': {
      const ids = o.result.matches.map((m) => `${m.entryId}${m.frame === undefined ? '' : `@${m.frame}`}`).sort();
      return o.result.matched ? `matched ${ids.join(' ')}` : 'not matched';
    }
    case 'typed':
      return o.code;
    case 'untyped':
      return `untyped ${o.error}`;
    case 'hang':
      return 'hang';
  }
}

/** Why an outcome breaks the hostile manifest, or undefined when it keeps to it. */
function manifestProblem(entry: HostileEntry, o: Outcome): string | undefined {
  const expect = entry.expect;
  if ('error' in expect)
    return o.kind === 'typed' && o.code === expect.error ? undefined : `expected ${expect.error}, got ${signature(o)}`;
  if (o.kind !== 'result') return `expected a hash, got ${signature(o)}`;
  const { result } = o;
  for (const [field, value] of Object.entries(expect.image ?? {})) {
    const got = (result.image as unknown as Record<string, unknown>)[field];
    if (got !== value) return `image.${field}: expected ${String(value)}, got ${String(got)}`;
  }
  if ((result.frames?.length ?? undefined) !== expect.framesHashed)
    return `frames hashed: expected ${String(expect.framesHashed)}, got ${String(result.frames?.length)}`;
  if (entry.listed !== undefined) {
    const own = result.matches.filter((m) => m.entryId.startsWith(`${LISTED_PREFIX + entry.listed!.image}:`));
    if (entry.listed.foundAtDefaults && !own.some((m) => m.frame === entry.listed!.frame))
      return `expected the listed ${entry.listed.image} matched at frame ${entry.listed.frame}, got ${signature(o)}`;
    if (!entry.listed.foundAtDefaults && own.length > 0)
      return `expected the listed ${entry.listed.image} not reached (frame ${entry.listed.frame} past the frame limit), got ${signature(o)}`;
  }
  return undefined;
}

const LISTED_PREFIX = 'listed:test-vectors/';

/** Bytes a call on this file holds in flight by docs/api.md's rule: the upload + one RGBA raster per frame hashed. */
function heldBytes(bytes: number, o: Outcome): number {
  if (o.kind !== 'result') return bytes;
  return bytes + 4 * o.result.image.width * o.result.image.height * (o.result.frames?.length ?? 1);
}

// ---------------------------------------------------------------------------------------------
// Statistics

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** What the child reports. */
interface Report {
  readonly openMs: number;
  readonly describe: string;
  readonly referenceMs: number;
  readonly referenceProblems: readonly string[];
  readonly wallMs: number;
  readonly cpuMs: number;
  /** CPU time of the JavaScript thread alone (Linux; NaN elsewhere). */
  readonly mainCpuMs: number;
  readonly calls: number;
  /** The entries whose storms the match-rate alarm raised (none with `--storm off`). */
  readonly storms: readonly string[];
  readonly counts: Record<string, number>;
  readonly byClass: Record<
    string,
    {
      calls: number;
      p50: number;
      p99: number;
      max: number;
      matched: number;
      notMatched: number;
      typed: number;
      other: number;
    }
  >;
  readonly latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  readonly slowest: readonly { key: string; ms: number; outcome: string }[];
  readonly eventLoop: { p50: number; p99: number; max: number; utilization: number; gcMs: number; gcCount: number };
  readonly memory: {
    corpusBytes: number;
    rssAfterOpen: number;
    rssBeforeLoad: number;
    peakSampledRss: number;
    heldAtPeak: number;
    inFlightAtPeak: number;
    maxHeld: number;
    maxInFlight: number;
    maxRssKiB: number;
    peakHeapUsed: number;
    peakExternal: number;
    peakArrayBuffers: number;
    rssAfterLoad: number;
  };
  readonly hostile: readonly {
    file: string;
    expected: string;
    calls: number;
    seen: Record<string, number>;
    ok: boolean;
  }[];
  readonly inconsistent: readonly { key: string; reference: string; got: Record<string, number> }[];
  readonly untyped: readonly string[];
  readonly crashes: readonly string[];
  readonly loadavg: { before: readonly number[]; after: readonly number[] };
}

// ---------------------------------------------------------------------------------------------
// The child: the load itself

async function child(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Config;
  const crashes: string[] = [];
  process.on('uncaughtException', (error) => crashes.push(`uncaughtException: ${String(error?.stack ?? error)}`));
  process.on('unhandledRejection', (error) =>
    crashes.push(`unhandledRejection: ${String((error as Error)?.stack ?? error)}`),
  );
  const log = (line: string): void => void process.stderr.write(`${line}\n`);

  let started = performance.now();
  // The workers bound the calls (--concurrency): none is refused with ERR_BUSY, each waits its turn
  // in the matcher's line behind the uploads it holds (its default concurrency), and is timed so.
  const storms: string[] = [];
  const matcher = await Matcher.open(config.snapshot, {
    maxQueued: Infinity,
    ...(config.hashThreads === undefined ? {} : { hashThreads: config.hashThreads }),
    ...(config.storm
      ? { onStorm: (e: StormEvent) => void storms.push(`${e.list}/${e.entryId} (${e.algorithm})`) }
      : { storm: false }),
  });
  const openMs = performance.now() - started;
  const describe = matcher
    .describe()
    .map(
      (d) =>
        `${d.algorithm} ${d.count.toLocaleString('en')} (${d.tier}${d.substringBits === undefined ? '' : ` ${[...new Set(d.substringBits)].join('/')} bits`})`,
    )
    .join(', ');
  const rssAfterOpen = process.memoryUsage.rss();
  log(`matcher open in ${openMs.toFixed(0)} ms: ${describe}; RSS ${mib(rssAfterOpen)} MiB`);

  // The uploads' bytes, read once: each call gets a fresh copy (the request body as it arrives),
  // so a call holds its own bytes, and no untimed file read queues on libuv's pool beside sharp.
  const corpus = new Map<string, Buffer>();
  if (config.input === 'bytes') for (const file of config.files) corpus.set(file.key, await readFile(file.path));
  const corpusBytes = [...corpus.values()].reduce((n, b) => n + b.length, 0);

  const hangMs = config.hangSeconds * 1000;
  const call = async (file: CorpusFile): Promise<{ outcome: Outcome; ms: number }> => {
    const input = config.input === 'bytes' ? Buffer.from(corpus.get(file.key)!) : file.path;
    let timer: NodeJS.Timeout | undefined;
    const start = performance.now();
    const outcome = await Promise.race<Outcome>([
      matcher.matchImage(input).then(
        (result): Outcome => ({ kind: 'result', result }),
        (error: unknown): Outcome =>
          error instanceof HashwardenError
            ? { kind: 'typed', code: error.code }
            : { kind: 'untyped', error: `${(error as Error)?.name}: ${(error as Error)?.message ?? String(error)}` },
      ),
      new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'hang' }), hangMs);
      }),
    ]);
    clearTimeout(timer);
    return { outcome, ms: performance.now() - start };
  };

  // Reference pass: each file alone.
  const reference = new Map<string, string>();
  const held = new Map<string, number>();
  const referenceProblems: string[] = [];
  started = performance.now();
  for (const file of config.files) {
    const { outcome } = await call(file);
    reference.set(file.key, signature(outcome));
    held.set(file.key, heldBytes(file.bytes, outcome));
    if (outcome.kind === 'untyped' || outcome.kind === 'hang')
      referenceProblems.push(`${file.key}: ${signature(outcome)} when matched alone`);
    if (file.hostile !== undefined) {
      const problem = manifestProblem(file.hostile, outcome);
      if (problem !== undefined) referenceProblems.push(`${file.key}: ${problem} (matched alone)`);
    }
    for (const id of file.listedIds) {
      if (outcome.kind !== 'result' || !outcome.result.matches.some((m) => m.entryId === id))
        referenceProblems.push(`${file.key}: its listed entry ${id} was not matched (${signature(outcome)})`);
    }
  }
  const referenceMs = performance.now() - started;
  log(
    `reference pass: ${config.files.length} files one at a time in ${(referenceMs / 1000).toFixed(1)} s${referenceProblems.length > 0 ? `; ${referenceProblems.length} problems` : ''}`,
  );

  // The call order: seeded shuffles of every file, one after another.
  const order = callOrder(config.files, config.calls, config.seed);

  // Memory: RSS sampled with the bytes the calls in flight hold.
  let inFlight = 0;
  let heldNow = 0;
  const memory = {
    peakSampledRss: 0,
    heldAtPeak: 0,
    inFlightAtPeak: 0,
    maxHeld: 0,
    maxInFlight: 0,
    peakHeapUsed: 0,
    peakExternal: 0,
    peakArrayBuffers: 0,
  };
  let tick = 0;
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss > memory.peakSampledRss)
      Object.assign(memory, { peakSampledRss: rss, heldAtPeak: heldNow, inFlightAtPeak: inFlight });
    if (++tick % 10 === 0) {
      const m = process.memoryUsage();
      memory.peakHeapUsed = Math.max(memory.peakHeapUsed, m.heapUsed);
      memory.peakExternal = Math.max(memory.peakExternal, m.external);
      memory.peakArrayBuffers = Math.max(memory.peakArrayBuffers, m.arrayBuffers);
    }
  }, 20);
  const rssBeforeLoad = process.memoryUsage.rss();
  const loop = monitorEventLoopDelay({ resolution: 10 });

  const latencies: number[] = new Array(config.calls);
  const outcomes: Outcome[] = new Array(config.calls);
  const before = loadavg();
  const cpuBefore = process.cpuUsage();
  const mainCpuBefore = mainThreadCpuMs();
  let next = 0;
  let done = 0;
  const progressEvery = Math.max(1, Math.floor(config.calls / 10));
  let gcMs = 0;
  let gcCount = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      gcCount++;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  loop.enable();
  const eluBefore = performance.eventLoopUtilization();
  started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < order.length) {
      const i = next++;
      const file = order[i]!;
      const h = held.get(file.key)!;
      inFlight++;
      heldNow += h;
      memory.maxInFlight = Math.max(memory.maxInFlight, inFlight);
      memory.maxHeld = Math.max(memory.maxHeld, heldNow);
      const { outcome, ms: took } = await call(file);
      inFlight--;
      heldNow -= h;
      latencies[i] = took;
      outcomes[i] = outcome;
      if (++done % progressEvery === 0)
        log(
          `  ${done} / ${config.calls} calls, ${((done / (performance.now() - started)) * 1000).toFixed(1)} calls/s, RSS ${mib(process.memoryUsage.rss())} MiB`,
        );
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, order.length) }, worker));
  const wallMs = performance.now() - started;
  const elu = performance.eventLoopUtilization(eluBefore).utilization;
  loop.disable();
  gc.disconnect();
  const cpu = process.cpuUsage(cpuBefore);
  const mainCpuMs = mainThreadCpuMs() - mainCpuBefore;
  clearInterval(sampler);
  const after = loadavg();

  // Tally.
  const counts: Record<string, number> = { matched: 0, 'not matched': 0, untyped: 0, hang: 0 };
  const byClassLatency = new Map<FileClass, number[]>(CLASSES.map((c) => [c, []]));
  const byClassCounts = new Map<FileClass, { matched: number; notMatched: number; typed: number; other: number }>(
    CLASSES.map((c) => [c, { matched: 0, notMatched: 0, typed: 0, other: 0 }]),
  );
  const untyped: string[] = [];
  const hostileSeen = new Map<
    string,
    { entry: HostileEntry; calls: number; seen: Record<string, number>; ok: boolean }
  >();
  const consistency = new Map<string, Record<string, number>>();
  const slowest: { key: string; ms: number; outcome: string }[] = [];
  order.forEach((file, i) => {
    const o = outcomes[i]!;
    const s = signature(o);
    const c = byClassCounts.get(file.cls)!;
    if (o.kind === 'result') {
      counts[o.result.matched ? 'matched' : 'not matched']!++;
      if (o.result.matched) c.matched++;
      else c.notMatched++;
    } else if (o.kind === 'typed') {
      counts[o.code] = (counts[o.code] ?? 0) + 1;
      c.typed++;
    } else {
      counts[o.kind]!++;
      c.other++;
      if (o.kind === 'untyped' && untyped.length < 20) untyped.push(`${file.key}: ${o.error}`);
    }
    byClassLatency.get(file.cls)!.push(latencies[i]!);
    if (s !== reference.get(file.key)) {
      const got = consistency.get(file.key) ?? {};
      got[s] = (got[s] ?? 0) + 1;
      consistency.set(file.key, got);
    }
    if (file.hostile !== undefined) {
      const h = hostileSeen.get(file.key) ?? { entry: file.hostile, calls: 0, seen: {}, ok: true };
      h.calls++;
      const label = o.kind === 'result' ? (o.result.matched ? 'hashed, matched' : 'hashed') : s;
      h.seen[label] = (h.seen[label] ?? 0) + 1;
      if (manifestProblem(file.hostile, o) !== undefined) h.ok = false;
      hostileSeen.set(file.key, h);
    }
    slowest.push({
      key: file.key,
      ms: latencies[i]!,
      outcome: o.kind === 'result' ? (o.result.matched ? 'matched' : 'not matched') : s,
    });
  });
  slowest.sort((a, b) => b.ms - a.ms);
  const sorted = [...latencies].sort((a, b) => a - b);
  const byClass: Report['byClass'] = {};
  for (const cls of CLASSES) {
    const t = byClassLatency.get(cls)!.sort((a, b) => a - b);
    if (t.length > 0)
      byClass[cls] = {
        calls: t.length,
        p50: percentile(t, 0.5),
        p99: percentile(t, 0.99),
        max: t.at(-1)!,
        ...byClassCounts.get(cls)!,
      };
  }
  const report: Report = {
    openMs,
    describe,
    referenceMs,
    referenceProblems,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    mainCpuMs,
    calls: config.calls,
    storms,
    counts,
    byClass,
    latency: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1)!,
      mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    },
    slowest: slowest.slice(0, 5),
    eventLoop: {
      p50: loop.percentile(50) / 1e6,
      p99: loop.percentile(99) / 1e6,
      max: loop.max / 1e6,
      utilization: elu,
      gcMs,
      gcCount,
    },
    memory: {
      ...memory,
      corpusBytes,
      rssAfterOpen,
      rssBeforeLoad,
      maxRssKiB: process.resourceUsage().maxRSS,
      rssAfterLoad: process.memoryUsage.rss(),
    },
    hostile: [...hostileSeen.entries()].map(([key, h]) => ({
      file: key,
      expected:
        'error' in h.entry.expect
          ? h.entry.expect.error
          : `hash${h.entry.listed === undefined ? '' : h.entry.listed.foundAtDefaults ? `, listed frame ${h.entry.listed.frame} matched` : `, listed frame ${h.entry.listed.frame} not reached`}`,
      calls: h.calls,
      seen: h.seen,
      ok: h.ok,
    })),
    inconsistent: [...consistency.entries()].map(([key, got]) => ({ key, reference: reference.get(key)!, got })),
    untyped,
    crashes,
    loadavg: { before, after },
  };
  writeFileSync(config.results, JSON.stringify(report));
  // Calls that hung may keep the process alive: the report is written, so leave.
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// The parent: corpus, list, snapshot, the child, the report

async function parent(): Promise<void> {
  const calls = positiveInteger('calls', args.calls);
  const concurrency = positiveInteger('concurrency', args.concurrency, 1024);
  const entries = positiveInteger('entries', args.entries);
  const hangSeconds = positiveInteger('hang-seconds', args['hang-seconds']);
  // 0 hashes on the JavaScript thread.
  const hashThreads =
    args['hash-threads'] === undefined ? undefined : positiveInteger('hash-threads', args['hash-threads'], 1024, 0);
  const seed = positiveInteger('seed', args.seed, 2 ** 32 - 1);
  if (args.storm !== 'on' && args.storm !== 'off')
    throw new RangeError(`--storm: expected on or off, got ${JSON.stringify(args.storm)}`);
  const storm = args.storm === 'on';
  if (args.input !== 'bytes' && args.input !== 'path')
    throw new RangeError(`--input: expected bytes or path, got ${JSON.stringify(args.input)}`);
  const input: InputMode = args.input;

  const sharpModule = (await import('sharp')).default;
  const versions = sharpModule.versions as Record<string, string | undefined>;
  const command = `npx tsx bench/load.bench.ts ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`# load — ${await environment()}`);
  console.log(
    `sharp ${versions.sharp ?? '?'} · libvips ${versions.vips ?? '?'}; sharp.concurrency() ${sharpModule.concurrency()}; UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'unset (4)'}`,
  );
  console.log(
    `started ${new Date().toISOString()}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(`command: ${command}`);

  // The corpus.
  const vectors = testVectorImages();
  const photos = args['no-photos'] ? [] : sharedPhotos();
  if (args['no-photos']) console.log('photos: left out (--no-photos)');
  else if (photos.length === 0)
    console.log(`photos: ${join(SHARED, 'photos')} is ABSENT — skipped: the valid images are the test vectors only`);
  const hostileDir = join(ROOT, 'test-vectors', 'hostile');
  const manifest = JSON.parse(readFileSync(join(hostileDir, 'manifest.json'), 'utf8')) as { files: HostileEntry[] };
  const valid = [...vectors, ...photos];
  console.log(
    `corpus: ${vectors.length} test vectors, ${photos.length} photos, ${manifest.files.length} hostile files`,
  );

  const { dir, cleanup } = scratchDir('hashwarden-load-');
  try {
    let started = performance.now();
    const { snapshot, listed, listedIds, summary } = await writeLoadLists(dir, valid, entries, seed);
    console.log(summary);

    const hostileFiles: CorpusFile[] = manifest.files.map((e) => ({
      key: `hostile/${e.file}`,
      path: join(hostileDir, e.file),
      bytes: e.bytes,
      cls: 'error' in e.expect ? 'hostile: refusal expected' : 'hostile: hash expected',
      listedIds: [],
      hostile: e,
    }));
    const validFiles: CorpusFile[] = valid.map((image) => ({
      key: `${image.set}/${image.name}`,
      path: image.path,
      bytes: image.bytes.length,
      cls: image.set === 'photos' ? 'photo' : 'test vector',
      listedIds: listedIds.get(`${image.set}/${image.name}`) ?? [],
    }));
    const files = [...validFiles, ...hostileFiles];
    const share = (hostileFiles.length / files.length) * 100;
    console.log(
      `calls: ${calls.toLocaleString('en')} over ${files.length} files (seeded shuffles: each file about ${Math.round(calls / files.length)} times, ${share.toFixed(0)}% hostile), ${concurrency} in flight, input ${input === 'bytes' ? 'a Buffer per call' : 'the file path'}\n`,
    );

    const config: Config = {
      snapshot,
      calls,
      concurrency,
      ...(hashThreads === undefined ? {} : { hashThreads }),
      storm,
      input,
      hangSeconds,
      seed,
      files,
      results: join(dir, 'results.json'),
    };
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));

    // The child, under /usr/bin/time -v when there is one.
    const timeReport = join(dir, 'time.txt');
    const timed = existsSync('/usr/bin/time');
    if (!timed)
      console.log("/usr/bin/time is absent: the peak RSS is the child's own process.resourceUsage().maxRSS only");
    const script = fileURLToPath(import.meta.url);
    const nodeArgs = [...process.execArgv, script, '--child', configPath];
    const [cmd, cmdArgs] = timed
      ? ['/usr/bin/time', ['-v', '-o', timeReport, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    started = performance.now();
    const proc = spawn(cmd as string, cmdArgs as string[], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: process.env,
    });
    const [code, signal] = (await once(proc, 'exit')) as [number | null, NodeJS.Signals | null];
    const childWall = (performance.now() - started) / 1000;

    const timeText = timed && existsSync(timeReport) ? readFileSync(timeReport, 'utf8') : '';
    const timeField = (name: string): string | undefined => {
      const line = timeText.split('\n').find((l) => l.trim().startsWith(name));
      return line === undefined ? undefined : line.slice(line.lastIndexOf(': ') + 2).trim();
    };
    const childSignal = signal ?? timeText.match(/Command terminated by signal (\d+)/)?.[1];
    const childStatus = timeField('Exit status');
    const processCrash =
      childSignal !== undefined && childSignal !== null
        ? `the load process was killed by signal ${childSignal}`
        : code !== 0 || (childStatus !== undefined && childStatus !== '0')
          ? `the load process exited with status ${childStatus ?? code}`
          : undefined;
    if (!existsSync(config.results)) {
      console.log(`\nCRASH: ${processCrash ?? 'the load process wrote no results'}`);
      process.exitCode = 1;
      return;
    }
    const r = JSON.parse(readFileSync(config.results, 'utf8')) as Report;
    const crashes = [...r.crashes, ...(processCrash === undefined ? [] : [processCrash])];

    // The report.
    const typed = Object.entries(r.counts).filter(([k]) => k.startsWith('ERR_'));
    const typedTotal = typed.reduce((n, [, v]) => n + v, 0);
    const hostileOk = r.hostile.filter((h) => h.ok).length;
    const maxRssTime = Number(timeField('Maximum resident set size (kbytes)') ?? Number.NaN) * 1024;
    const m = r.memory;
    console.log(`\nmatcher: open ${r.openMs.toFixed(0)} ms; ${r.describe}`);
    console.log(
      `reference pass (each file alone, also the warm-up): ${(r.referenceMs / 1000).toFixed(1)} s for ${files.length} files${r.referenceProblems.length === 0 ? ', every hostile outcome as its manifest says and every listed image matched' : ''}`,
    );
    for (const p of r.referenceProblems) console.log(`  PROBLEM ${p}`);
    console.log(
      `load average before / after the load: ${r.loadavg.before.map((x) => x.toFixed(2)).join(' ')} / ${r.loadavg.after.map((x) => x.toFixed(2)).join(' ')}`,
    );

    console.log('\n## Throughput and latency\n');
    console.log(
      '| calls | in flight | wall s | calls/s | p50 ms | p90 ms | p99 ms | max ms | CPU s (÷ wall) | event-loop delay p50 / p99 / max ms |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    console.log(
      `| ${r.calls.toLocaleString('en')} | ${concurrency} | ${(r.wallMs / 1000).toFixed(1)} | ${((r.calls / r.wallMs) * 1000).toFixed(1)} | ${ms(r.latency.p50)} | ${ms(r.latency.p90)} | ${ms(r.latency.p99)} | ${ms(r.latency.max)} | ${(r.cpuMs / 1000).toFixed(1)} (${(r.cpuMs / r.wallMs).toFixed(2)}) | ${ms(r.eventLoop.p50)} / ${ms(r.eventLoop.p99)} / ${ms(r.eventLoop.max)} |`,
    );
    console.log(
      `\nmatch-rate alarm: ${storm ? `on (defaults), ${r.storms.length} storms raised${r.storms.length > 0 ? `: ${r.storms.join(', ')}` : ''}` : 'off (storm: false)'}`,
    );
    console.log(
      `hashing threads: ${hashThreads ?? 'the default (one per core)'}; CPU per call ${(r.cpuMs / r.calls).toFixed(1)} ms; cores busy ${(r.cpuMs / r.wallMs).toFixed(2)}; one upload alone (reference pass) ${(r.referenceMs / files.length).toFixed(1)} ms a file`,
    );
    console.log(
      `JavaScript thread CPU ${(r.mainCpuMs / 1000).toFixed(1)} s (÷ wall ${(r.mainCpuMs / r.wallMs).toFixed(2)}): unlike the utilization below, not inflated by waits for a core on a busy machine`,
    );
    console.log(
      `JavaScript thread busy ${(r.eventLoop.utilization * 100).toFixed(0)}% of the load (event-loop utilization); garbage collection ${(r.eventLoop.gcMs / 1000).toFixed(1)} s in ${r.eventLoop.gcCount} pauses`,
    );
    console.log(`slowest calls: ${r.slowest.map((s) => `${s.key} ${ms(s.ms)} ms (${s.outcome})`).join('; ')}`);

    console.log('\n## Per class of file\n');
    console.log('| files | calls | matched | not matched | typed error | untyped / hang | p50 ms | p99 ms | max ms |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const [cls, c] of Object.entries(r.byClass))
      console.log(
        `| ${cls} | ${c.calls} | ${c.matched} | ${c.notMatched} | ${c.typed} | ${c.other} | ${ms(c.p50)} | ${ms(c.p99)} | ${ms(c.max)} |`,
      );

    console.log('\n## Outcomes\n');
    console.log(
      '| matched | not matched | typed errors | untyped errors | hangs | crashes | outcome ≠ the file matched alone | hostile files as their manifest, every call |',
    );
    console.log('|---:|---:|---|---:|---:|---:|---:|---:|');
    console.log(
      `| ${r.counts.matched} | ${r.counts['not matched']} | ${typedTotal} (${typed.map(([k, v]) => `${k} ${v}`).join(', ')}) | ${r.counts.untyped} | ${r.counts.hang} | ${crashes.length} | ${r.inconsistent.reduce((n, x) => n + Object.values(x.got).reduce((a, b) => a + b, 0), 0)} calls on ${r.inconsistent.length} files | ${hostileOk} / ${r.hostile.length} |`,
    );

    console.log('\n## Memory\n');
    console.log(
      '| RSS after open MiB | before the load | peak RSS (maxRSS) | peak RSS (/usr/bin/time -v, whole child) | peak sampled RSS | upload bytes + rasters held at that sample (calls in flight) | most held at once (calls) | peak heap used | peak external (ArrayBuffers) | RSS after the load |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| ${mib(m.rssAfterOpen)} | ${mib(m.rssBeforeLoad)} | ${mib(m.maxRssKiB * 1024)} | ${Number.isNaN(maxRssTime) ? '–' : mib(maxRssTime)} | ${mib(m.peakSampledRss)} | ${mib(m.heldAtPeak)} (${m.inFlightAtPeak}) | ${mib(m.maxHeld)} (${m.maxInFlight}) | ${mib(m.peakHeapUsed)} | ${mib(m.peakExternal)} (${mib(m.peakArrayBuffers)}) | ${mib(m.rssAfterLoad)} |`,
    );
    console.log(
      `\nRSS before the load includes the matcher, sharp and the uploads read once (${mib(m.corpusBytes)} MiB, copied per call)`,
    );
    console.log(
      `peak RSS − RSS before the load: ${mib(m.maxRssKiB * 1024 - m.rssBeforeLoad)} MiB, against at most ${mib(m.maxHeld)} MiB of uploads and rasters in flight at once (docs/api.md: each upload in flight holds its bytes and one raster per frame)`,
    );

    console.log('\n## Hostile files (every call checked against test-vectors/hostile/manifest.json)\n');
    console.log('| file | manifest | calls | outcomes seen | as manifest |');
    console.log('|---|---|---:|---|---|');
    for (const h of r.hostile)
      console.log(
        `| ${h.file.replace('hostile/', '')} | ${h.expected} | ${h.calls} | ${Object.entries(h.seen)
          .map(([k, v]) => `${v} × ${k}`)
          .join(', ')} | ${h.ok ? 'yes' : '**NO**'} |`,
      );

    if (r.inconsistent.length > 0) {
      console.log('\n## Outcomes that differed from the file matched alone\n');
      for (const x of r.inconsistent)
        console.log(
          `- ${x.key}: alone ${x.reference}; under load ${Object.entries(x.got)
            .map(([k, v]) => `${v} × ${k}`)
            .join(', ')}`,
        );
    }
    for (const u of r.untyped) console.log(`UNTYPED ${u}`);
    for (const c of crashes) console.log(`CRASH ${c}`);
    console.log(
      `\nchild process: ${childWall.toFixed(1)} s wall${timed ? `, ${timeField('Elapsed (wall clock) time') ?? '?'} by /usr/bin/time, user ${timeField('User time (seconds)') ?? '?'} s, system ${timeField('System time (seconds)') ?? '?'} s` : ''}`,
    );

    // Exit 1: a call that did not come back with a result or a typed error (the issue's criterion);
    // exit 2: every call came back typed, but some outcome was not the expected one.
    const broken = r.counts.untyped! > 0 || r.counts.hang! > 0 || crashes.length > 0;
    const wrong = r.inconsistent.length > 0 || hostileOk < r.hostile.length || r.referenceProblems.length > 0;
    if (broken) console.log('\nFAILED: untyped errors, hangs or crashes (above)');
    else if (wrong)
      console.log(
        '\nEvery call returned a result or a typed error, but some outcomes were not the expected ones (above)',
      );
    else
      console.log(
        '\nOK: every call returned a result or a typed error, each the outcome of its file matched alone; hostile files as their manifest',
      );
    if (args.json !== undefined)
      writeFileSync(
        args.json,
        JSON.stringify(
          {
            command,
            environment: await environment(),
            sharp: versions.sharp,
            vips: versions.vips,
            calls,
            concurrency,
            entries,
            input,
            files: files.length,
            hostileFiles: hostileFiles.length,
            listed: listed.length,
            report: r,
            maxRssTimeBytes: maxRssTime,
            crashes,
          },
          null,
          2,
        ),
      );
    process.exitCode = broken ? 1 : wrong ? 2 : 0;
  } finally {
    cleanup();
  }
}

if (args.child !== undefined) await child(args.child);
else await parent();
