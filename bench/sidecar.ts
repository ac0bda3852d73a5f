/**
 * The sidecar as the sidecar benches run it: `hashwarden serve` from the built package
 * (dist/cli/main.js: run `npm run build` first) in a process of its own on 127.0.0.1, started,
 * timed to ready, loaded with autocannon (bench/package.json: `npm --prefix bench ci`) or wrk
 * (Debian's `wrk`, a load generator in C: it leaves the server more of a shared machine's cores),
 * measured (CPU, peak RSS from /proc) and stopped as an orchestrator stops it (SIGTERM).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './corpus.js';
import { procCpuMs } from './process.js';

/** The bearer token the benches give the sidecar: auth is on, as in production, and its cost counted. */
export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

/** How often readiness is asked while the sidecar starts: well under the precision reported. */
const READY_POLL_MS = 5;

/** A sidecar started by `startSidecar`. */
export interface Sidecar {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly pid: number;
  /** From the spawn to the first line naming the address it listens on, ms. */
  readonly listeningMs: number;
  /** From the spawn to the first `200` of `/readyz`, ms. */
  readonly readyMs: number;
  /** CPU time (user + system) the process and its workers have used so far, ms (Linux /proc; NaN elsewhere). */
  cpuMs(): number;
  /**
   * Peak resident memory so far, KiB (Linux /proc VmHWM; NaN elsewhere): the sum of each process's
   * own peak with `--workers` (an upper bound of their peak together).
   */
  peakRssKiB(): number;
  /** SIGTERM, then its exit: the status (0 after a graceful shutdown) and what it wrote to stderr. */
  stop(): Promise<{ readonly status: number | null; readonly stderr: string }>;
}

/** `/proc/PID/status` field in kB, or NaN. */
function procStatusKiB(pid: number, field: string): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line === undefined ? Number.NaN : Number.parseInt(line.slice(field.length + 1), 10);
  } catch {
    return Number.NaN;
  }
}

/** `pid` and every process under it (`serve --workers` forks its workers), from /proc. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${out[i]}/task`))
        for (const child of readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').split(' '))
          if (child.trim() !== '') out.push(Number(child));
    } catch {
      // Gone meanwhile, or no /proc: what was found is what there is.
    }
  }
  return out;
}

/** The built CLI, or a clear error telling how to build it. */
export function builtCli(): string {
  const cli = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  return cli;
}

/**
 * Starts `hashwarden serve ARGS… --host 127.0.0.1 --port 0` with the bench token, and resolves
 * once `/readyz` answers 200 (rejects when the process exits first, or after `timeoutMs`).
 */
export async function startSidecar(args: readonly string[], timeoutMs = 120_000): Promise<Sidecar> {
  const started = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [builtCli(), 'serve', ...args, '--host', '127.0.0.1', '--port', '0'],
    {
      env: { ...process.env, HASHWARDEN_TOKEN: BENCH_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(child, 'exit').then(([status]) => status as number | null);
  const fail = (why: string): Error =>
    new Error(
      `hashwarden serve ${args.join(' ')}: ${why}\nstdout:\n${stdout.slice(-2000)}\nstderr:\n${stderr.slice(-2000)}`,
    );

  const { url, listeningMs } = await new Promise<{ url: string; listeningMs: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(fail('no address printed in time')), timeoutMs);
    child.stdout!.on('data', (s: string) => {
      stdout += s;
      const found = /http:\/\/127\.0\.0\.1:\d+/.exec(stdout);
      if (found !== null) {
        clearTimeout(timer);
        resolve({ url: found[0], listeningMs: performance.now() - started });
      }
    });
    void exited.then((status) => {
      clearTimeout(timer);
      reject(fail(`exited with status ${status} before listening`));
    });
  });
  // Keep draining stdout (its logs) so the process never blocks on a full pipe.
  child.stdout!.removeAllListeners('data').resume();

  let readyMs = Number.NaN;
  while (performance.now() - started < timeoutMs) {
    const status = await fetch(`${url}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) {
      readyMs = performance.now() - started;
      break;
    }
    if (child.exitCode !== null) throw fail(`exited with status ${child.exitCode} before ready`);
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  if (Number.isNaN(readyMs)) {
    child.kill('SIGKILL');
    throw fail('not ready in time');
  }
  const pid = child.pid!;
  return {
    url,
    pid,
    listeningMs,
    readyMs,
    cpuMs: () => processTree(pid).reduce((sum, p) => sum + procCpuMs(`/proc/${p}/stat`), 0),
    peakRssKiB: () => processTree(pid).reduce((sum, p) => sum + procStatusKiB(p, 'VmHWM'), 0),
    stop: async () => {
      child.kill('SIGTERM');
      const status = await exited;
      return { status, stderr };
    },
  };
}

/** What the benches read of an autocannon run. */
export interface LoadResult {
  readonly requests: number;
  /** Requests completed per second over the run (completed ÷ duration). */
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Responses by status code (`'2xx'`… as autocannon counts them) and errors. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly timeouts: number;
  readonly seconds: number;
}

/** One request autocannon makes: a path, and for a POST its body and content type. */
export interface LoadRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: Buffer;
  readonly contentType?: string;
}

interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number; max: number };
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  errors: number;
  timeouts: number;
  duration: number;
  statusCodeStats?: Record<string, { count: number }>;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

/** autocannon, from bench/node_modules (loaded by a name, so that type checks need not have it). */
async function autocannon(): Promise<Autocannon> {
  const name = 'autocannon';
  try {
    return ((await import(name)) as { default: Autocannon }).default;
  } catch (error) {
    throw new Error(`autocannon is missing: run \`npm --prefix bench ci\` (${(error as Error).message})`);
  }
}

/**
 * Loads `url` with `connections` connections cycling through `requests` in order (each
 * connection takes the next one), with the bench token, for `amount` requests or `seconds`.
 */
export async function load(
  url: string,
  requests: readonly LoadRequest[],
  options: { readonly connections: number; readonly amount?: number; readonly seconds?: number },
): Promise<LoadResult> {
  const run = await autocannon();
  let next = 0;
  const started = performance.now();
  const result = await run({
    url,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.seconds ?? 10 } : { amount: options.amount }),
    timeout: 120,
    headers: { authorization: `Bearer ${BENCH_TOKEN}` },
    requests: [
      {
        setupRequest: (request: Record<string, unknown>) => {
          const r = requests[next++ % requests.length]!;
          return {
            ...request,
            method: r.method,
            path: r.path,
            ...(r.body === undefined ? {} : { body: r.body }),
            headers: {
              ...(request.headers as Record<string, string>),
              ...(r.contentType === undefined ? {} : { 'content-type': r.contentType }),
            },
          };
        },
      },
    ],
  });
  const seconds = (performance.now() - started) / 1000;
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count;
  return {
    requests: result.requests.total,
    perSecond: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
  };
}

/**
 * wrk's script: each request is the next of the file `WRK_REQUESTS` (one a line: `GET path`, or
 * `POST path content-type body-file`, bodies read once at the start) with the bearer token; at the
 * end one JSON line with what the bench reads (latencies in µs).
 */
const WRK_SCRIPT = `
local requests = {}
local bodies = {}
for line in io.lines(os.getenv("WRK_REQUESTS")) do
  local method, path, ctype, file = line:match("^(%S+) (%S+) ?(%S*) ?(%S*)$")
  -- A headers table of our own replaces wrk's defaults, Host among them: HTTP/1.1 needs it.
  local headers = { ["Host"] = os.getenv("WRK_HOST"), ["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN") }
  local body = nil
  if file ~= "" then
    if bodies[file] == nil then
      local f = assert(io.open(file, "rb"))
      bodies[file] = f:read("*a")
      f:close()
    end
    body = bodies[file]
    headers["Content-Type"] = ctype
  end
  requests[#requests + 1] = wrk.format(method, path, headers, body)
end
local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration":%d,"p50":%d,"p99":%d,"max":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`;

/** Whether Debian's wrk is on this machine. */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version prints its version and exits 1.
    return (error as { status?: number }).status === 1;
  }
}

/**
 * Loads `url` with wrk (one thread, `connections` connections) for `seconds`, cycling through
 * `requests` in order, with the bench token. Answers other than 2xx/3xx and socket errors are
 * counted as wrk counts them (it does not tell the codes apart). Each distinct body is written to
 * `dir` once.
 */
export function loadWithWrk(
  url: string,
  requests: readonly LoadRequest[],
  options: { readonly connections: number; readonly seconds: number; readonly dir: string },
): LoadResult {
  const script = join(options.dir, 'wrk.lua');
  const manifest = join(options.dir, 'wrk-requests.txt');
  writeFileSync(script, WRK_SCRIPT);
  const files = new Map<Buffer, string>();
  const lines = requests.map((r) => {
    if (r.body === undefined) return `${r.method} ${r.path}`;
    let file = files.get(r.body);
    if (file === undefined) {
      file = join(options.dir, `wrk-body-${files.size}`);
      writeFileSync(file, r.body);
      files.set(r.body, file);
    }
    return `${r.method} ${r.path} ${(r.contentType ?? 'application/octet-stream').replaceAll(' ', '')} ${file}`;
  });
  writeFileSync(manifest, `${lines.join('\n')}\n`);
  const out = execFileSync(
    'wrk',
    [
      '-t1',
      `-c${options.connections}`,
      `-d${Math.max(1, Math.round(options.seconds))}s`,
      '--timeout',
      '120s',
      '-s',
      script,
      url,
    ],
    {
      env: { ...process.env, WRK_REQUESTS: manifest, WRK_TOKEN: BENCH_TOKEN, WRK_HOST: new URL(url).host },
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    },
  );
  const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${out}`);
  const r = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>;
  const seconds = r.duration! / 1e6;
  return {
    requests: r.requests!,
    perSecond: r.requests! / seconds,
    p50: r.p50! / 1000,
    p99: r.p99! / 1000,
    max: r.max! / 1000,
    statuses: { '2xx/3xx': r.requests! - r.status!, ...(r.status! > 0 ? { other: r.status! } : {}) },
    errors: r.connect! + r.read! + r.write!,
    timeouts: r.timeout!,
    seconds,
  };
}

/** A multipart/form-data body of one file part, as an HMA client posts it (`photo=@file`). */
export function multipartBody(field: string, filename: string, bytes: Buffer): { body: Buffer; contentType: string } {
  const boundary = '----hashwarden-bench-7d1f0c3a9b';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}
