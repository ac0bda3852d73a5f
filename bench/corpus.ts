/**
 * The image sets benchmarks read: the project's generated test vectors, and when `../shared` is
 * present, the blockhash reference images and the shared photos. Absent sets are reported, not
 * silently skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHARED } from '../src/testing/shared.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export { SHARED };

export interface CorpusImage {
  readonly set: string;
  readonly name: string;
  readonly path: string;
  readonly bytes: Buffer;
}

function load(set: string, dir: string, names: readonly string[]): CorpusImage[] {
  return names.map((name) => ({ set, name, path: join(dir, name), bytes: readFileSync(join(dir, name)) }));
}

/** The generated test vectors (originals, edits, low-information images). */
export function testVectorImages(): CorpusImage[] {
  const dir = join(ROOT, 'test-vectors', 'images');
  return existsSync(dir) ? load('test-vectors', dir, readdirSync(dir).sort()) : [];
}

/** The 17 blockhash reference images with the published method-2 hashes, or [] when absent. */
export function blockhashReferenceImages(): (CorpusImage & { readonly expected: string })[] {
  const dir = join(SHARED, 'reference', 'blockhash');
  if (!existsSync(dir)) return [];
  const rows = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    image: string;
    method: number;
    bits: number;
    expected_hex: string;
  }[];
  return rows
    .filter((r) => r.method === 2 && r.bits === 16)
    .map((r) => ({ ...load('blockhash-reference', dir, [r.image])[0]!, expected: r.expected_hex }));
}

/** The shared photos (149), or [] when absent. */
export function sharedPhotos(): CorpusImage[] {
  const dir = join(SHARED, 'photos');
  if (!existsSync(dir)) return [];
  const names = readFileSync(join(dir, 'manifest.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[1] as string);
  return load('photos', dir, names);
}

/** Says which sets are missing, for the start of a benchmark's output. */
export function describeCorpus(sets: Record<string, readonly CorpusImage[]>): string {
  return Object.entries(sets)
    .map(([name, images]) => (images.length === 0 ? `${name}: ABSENT (skipped)` : `${name}: ${images.length} images`))
    .join('; ');
}

/**
 * The commit measured, and whether src/ differs from it (src/ may change while a long run goes
 * on); only when ROOT is a checkout's top (a copy inside another repository would name that one's).
 */
export function revision(): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (git('rev-parse', '--show-toplevel') !== ROOT) return 'not a git checkout';
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') === '' ? '' : ' + uncommitted changes in src/'}`;
  } catch {
    return 'unknown revision';
  }
}

/** Machine facts for a results header. */
export async function environment(): Promise<string> {
  const os = await import('node:os');
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${new Date().toISOString().slice(0, 10)} · ${cpu} · ${os.availableParallelism()} cores · Node ${process.version}`;
}

/** The value of `--name VALUE` or `--name=VALUE` among the arguments, if given. */
export function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const arg = args[i] as string;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[i + 1];
}
