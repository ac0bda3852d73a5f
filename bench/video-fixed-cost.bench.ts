/**
 * Question: where does the fixed time of a `hashVideo` call go, beside FFmpeg's decode? Times each
 * step a call takes before (or around) the decode, alone: a bare process start (`ffprobe -version`,
 * `ffmpeg -version`), the probe of the clip (ffprobe.ts's very command line), the file's digests
 * (MD5 + SHA-256 streamed), the staging of bytes in a temporary file, and the decode's first frame
 * (`-frames:v 1` on hashVideo's decode line: process start, demuxer and decoder set-up, one frame).
 * Medians of RUNS runs, steps interleaved; the load is printed with each clip.
 *
 * Run: npx tsx bench/video-fixed-cost.bench.ts <clip.mp4>...   (RUNS=9)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readProbe, sniffContainer } from '../src/video/container.js';
import { decodeArgs, probeVideo } from '../src/video/ffmpeg.js';
import { resolveVideoOptions } from '../src/video/options.js';

const RUNS = Number(process.env.RUNS ?? 9);
const options = resolveVideoOptions({});

/** Runs `binary` with `args`, its output drained. */
function exec(binary: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.resume();
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} exited ${code}`))));
  });
}

async function digest(path: string): Promise<void> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  for await (const chunk of createReadStream(path)) {
    md5.update(chunk as Buffer);
    sha256.update(chunk as Buffer);
  }
  md5.digest();
  sha256.digest();
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

for (const clip of process.argv.slice(2)) {
  const bytes = readFileSync(clip);
  const container = sniffContainer(bytes.subarray(0, 400));
  if (container === undefined) throw new Error(`${clip}: not a video`);
  const limits = { maxPixels: options.maxPixels, deadline: Date.now() + 3_600_000, timeoutSeconds: 3600 };
  const probe = readProbe(await probeVideo(options.ffprobe, clip, container, limits), clip);
  const plan = {
    frameStep: Math.max(1, Math.trunc(probe.frameRate)),
    width: probe.width,
    height: probe.height,
    maxOutputFrames: 1,
    maxPixels: options.maxPixels,
  };
  const steps: Record<string, () => Promise<unknown>> = {
    'ffprobe -version (a bare process)': () => exec(options.ffprobe, ['-version']),
    'ffmpeg -version (a bare process)': () => exec(options.ffmpeg, ['-version']),
    'probe of the clip (probeVideo)': () => probeVideo(options.ffprobe, clip, container, limits),
    'digests of the file (MD5 + SHA-256, streamed)': () => digest(clip),
    'digests of the bytes (in memory)': async () => {
      createHash('md5').update(bytes).digest();
      createHash('sha256').update(bytes).digest();
    },
    'staging the bytes (mkdtemp, write, rm)': async () => {
      const dir = await mkdtemp(join(tmpdir(), 'hashwarden-bench-'));
      await writeFile(join(dir, 'input'), bytes, { mode: 0o600, flag: 'wx' });
      await rm(dir, { recursive: true, force: true });
    },
    'decode to the first frame (decodeArgs, -frames:v 1)': () =>
      exec(options.ffmpeg, decodeArgs(clip, container, probe, plan)),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(steps).map((name) => [name, []]));
  const load = loadavg()[0]?.toFixed(1);
  for (let run = 0; run < RUNS; run++)
    for (const [name, step] of Object.entries(steps)) {
      const start = performance.now();
      await step();
      times[name]?.push(performance.now() - start);
    }
  console.log(
    `\n${clip}: ${probe.width}×${probe.height} ${probe.codec}, ${(bytes.length / 1e6).toFixed(1)} MB; ` +
      `load ${load} → ${loadavg()[0]?.toFixed(1)}; ${RUNS} runs`,
  );
  console.log('| step | median ms |\n|---|---|');
  for (const [name, values] of Object.entries(times)) console.log(`| ${name} | ${median(values).toFixed(0)} |`);
}
