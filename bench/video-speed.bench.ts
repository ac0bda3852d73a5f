/**
 * Question: does `hashVideo` at one frame a second cost at most 1.3× what FFmpeg alone takes to
 * decode the same clip to the same sampled frames? FFmpeg alone runs the very command line
 * hashVideo runs (ffmpeg.ts `decodeArgs`: select every ⌊fps⌋-th frame, scale, RGB24 on a pipe),
 * its output drained and dropped (hashVideo gives FFmpeg the same filters on descriptor 3, once its
 * probe has answered: the same decode). Beside them, two ways to decode less, each timed and checked
 * for whether it keeps the frames the reference picks: `-skip_frame nokey` (the decoder skips
 * every frame but keyframes) and a seek per sample (`-ss n/fps … -frames:v 1`, one FFmpeg each).
 * Wall-clock medians of RUNS runs, the variants interleaved so a noisy neighbour moves them alike;
 * the load is printed with each clip.
 *
 * Run: npx tsx bench/video-speed.bench.ts <clip.mp4>...   (RUNS=5; SEEK=0 leaves out the seeks)
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { readProbe, sniffContainer } from '../src/video/container.js';
import { decodeArgs, probeVideo } from '../src/video/ffmpeg.js';
import { hashVideo } from '../src/video/index.js';
import { resolveVideoOptions } from '../src/video/options.js';
import { readFileSync } from 'node:fs';

const RUNS = Number(process.env.RUNS ?? 5);
const SEEK = process.env.SEEK !== '0';
const options = resolveVideoOptions({});

/** Runs ffmpeg with `args`, draining its output: the RGB24 bytes it wrote. */
function ffmpeg(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.ffmpeg, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

for (const clip of process.argv.slice(2)) {
  const container = sniffContainer(readFileSync(clip).subarray(0, 400));
  if (container === undefined) throw new Error(`${clip}: not a video`);
  const deadline = Date.now() + 3_600_000;
  const probe = readProbe(
    await probeVideo(options.ffprobe, clip, container, {
      maxPixels: options.maxPixels,
      deadline,
      timeoutSeconds: 3600,
    }),
    clip,
  );
  const frameStep = Math.max(1, Math.trunc(probe.frameRate));
  const plan = {
    frameStep,
    width: probe.width,
    height: probe.height,
    maxOutputFrames: options.maxFrames + 1,
    maxPixels: options.maxPixels,
  };
  const args = decodeArgs(clip, container, probe, plan);
  const frameBytes = probe.width * probe.height * 3;
  const keyframeArgs = [...args];
  // -skip_frame is the decoder's: before the input, with the select left as it is (it then counts keyframes).
  keyframeArgs.splice(keyframeArgs.indexOf('-i') - 2, 0, '-skip_frame', 'nokey');
  const samples = Math.ceil((probe.durationSeconds * probe.frameRate) / frameStep);
  /** Frame `n` alone: an accurate seek to its timestamp (the decoder starts at the keyframe before it). */
  const seekArgs = (n: number): string[] => {
    const copy = [...args];
    const vf = copy.indexOf('-vf') + 1;
    copy[vf] = (copy[vf] as string).replace(/^select='[^']*',/, '');
    copy[copy.indexOf('-frames:v') + 1] = '1';
    copy.splice(copy.indexOf('-i') - 2, 0, '-ss', String(n / probe.frameRate));
    return copy;
  };

  const hashed = await hashVideo(clip);
  const variants: Record<string, () => Promise<unknown>> = {
    'ffmpeg alone (select, as hashVideo)': () => ffmpeg(args),
    'hashVideo, 1 frame a second': () => hashVideo(clip),
    // What hashing inside black bars (trim, on by default) costs on this clip.
    'hashVideo, 1 frame a second, trim off': () => hashVideo(clip, { trim: false }),
    'ffmpeg -skip_frame nokey': () => ffmpeg(keyframeArgs),
  };
  if (SEEK)
    variants[`ffmpeg, a seek per sample (${samples} runs)`] = async () => {
      for (let k = 0; k < samples; k++) await ffmpeg(seekArgs(k * frameStep));
    };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  // This process's CPU (every thread: the digests, the pipe, PDQ) per run of each variant, ms.
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  const load = loadavg()[0]?.toFixed(1);
  for (let run = 0; run < RUNS; run++)
    for (const [name, variant] of Object.entries(variants)) {
      const before = process.cpuUsage();
      times[name]?.push(await timed(variant));
      const used = process.cpuUsage(before);
      cpu[name]?.push((used.user + used.system) / 1000);
    }
  const keyframes = (await ffmpeg(keyframeArgs)) / frameBytes;
  const base = median(times['ffmpeg alone (select, as hashVideo)'] as number[]);
  console.log(
    `\n${clip}: ${probe.width}×${probe.height} ${probe.codec} ${probe.frameRate.toFixed(2)} fps, ` +
      `${probe.durationSeconds.toFixed(1)} s; ${hashed.frames.length} frames hashed (every ${frameStep}); ` +
      `load ${load} → ${loadavg()[0]?.toFixed(1)}; ${RUNS} runs`,
  );
  console.log('| variant | median ms | × ffmpeg alone | Node CPU ms | frames as the reference picks |');
  console.log('|---|---|---|---|---|');
  for (const [name, values] of Object.entries(times)) {
    const same = name.includes('nokey')
      ? `no: ${keyframes} frames, every ${frameStep}th keyframe`
      : name.includes('seek')
        ? 'by timestamp, not count: the same only when the rate is constant from 0'
        : 'yes';
    const ratio = (median(values) / base).toFixed(2);
    const node = median(cpu[name] as number[]).toFixed(0);
    console.log(`| ${name} | ${median(values).toFixed(0)} | ${ratio} | ${node} | ${same} |`);
  }
}
