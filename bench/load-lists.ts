/**
 * The list the load benches match uploads against (bench/load.bench.ts, bench/sidecar-uploads.bench.ts,
 * bench/sidecar-lookup.bench.ts, bench/sidecar-start.bench.ts): the hashes of some of the valid
 * images, computed by the library, and random entries up to the size asked, in one snapshot.
 * Every 4th valid image is listed by one algorithm in turn (MD5, PDQ, blockhash; MD5 when the
 * perceptual hash is one a matcher refuses), and mosaic-400x300.jpg by blockhash and PDQ (the image
 * the hostile animations hide at a frame); the random entries are 40% PDQ, 40% blockhash, 20% MD5
 * (mulberry32 from the seed), so the same arguments give the same snapshot.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { searchedHashes } from '../src/image/queries.js';
import { hashImage } from '../src/image/index.js';
import { formatHex, HashwardenError, writeSnapshot, type AlgorithmName, type ListEntry } from '../src/index.js';
import { mulberry32 } from '../src/testing/prng.js';
import type { CorpusImage } from './corpus.js';

/** The one list's name. */
export const LOAD_LIST = 'load';

/** The snapshot written, and which entries are whose. */
export interface LoadLists {
  readonly snapshot: string;
  /** The listed entries: the hashes of valid images. */
  readonly listed: readonly ListEntry[];
  /** Entry ids listed from each image's own hashes, by `set/name`. */
  readonly listedIds: ReadonlyMap<string, readonly string[]>;
  /** One line for the report: the entries by algorithm, the listed ones, the size and the time taken. */
  readonly summary: string;
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** Lists some of `valid` and fills the list with random entries up to `entries`, into `dir/list.snap`. */
export async function writeLoadLists(
  dir: string,
  valid: readonly CorpusImage[],
  entries: number,
  seed: number,
): Promise<LoadLists> {
  const listed: ListEntry[] = [];
  const listedIds = new Map<string, string[]>();
  const list = (key: string, algorithm: AlgorithmName, hash: string): void => {
    const id = `listed:${key}:${algorithm}`;
    listed.push({ id, list: LOAD_LIST, algorithm, hash });
    listedIds.set(key, [...(listedIds.get(key) ?? []), id]);
  };
  const turn: AlgorithmName[] = ['md5', 'pdq', 'blockhash'];
  let picked = 0;
  for (const [i, image] of valid.entries()) {
    const key = `${image.set}/${image.name}`;
    const wanted = image.set === 'test-vectors' && image.name === 'mosaic-400x300.jpg';
    if (i % 4 !== 0 && !wanted) continue;
    let hashed: Awaited<ReturnType<typeof hashImage>>;
    try {
      hashed = await hashImage(image.bytes, { algorithms: ['blockhash', 'pdq', 'md5'] });
    } catch (error) {
      if (error instanceof HashwardenError) continue; // e.g. a photo refused by failOn: nothing to list
      throw error;
    }
    const usable = (a: AlgorithmName): boolean =>
      hashed.unusable[a as keyof typeof hashed.unusable] === undefined && searchedHashes(hashed, a).length > 0;
    if (wanted) {
      for (const a of ['blockhash', 'pdq'] as const) if (usable(a)) list(key, a, hashed.hashes[a]!);
      continue;
    }
    const algorithm = turn[picked++ % turn.length]!;
    const chosen = algorithm === 'md5' || usable(algorithm) ? algorithm : 'md5';
    list(key, chosen, hashed.hashes[chosen]!);
  }

  const started = performance.now();
  const random = mulberry32(seed);
  const next = (): number => Math.floor(random() * 2 ** 32);
  const all: ListEntry[] = [...listed];
  const perAlgorithm: Record<string, number> = {};
  for (let i = 0; all.length < entries; i++) {
    const algorithm: AlgorithmName = i % 5 < 2 ? 'pdq' : i % 5 < 4 ? 'blockhash' : 'md5';
    const hash = formatHex(new Uint8Array(Uint32Array.from({ length: algorithm === 'md5' ? 4 : 8 }, next).buffer));
    all.push({ id: `entry-${i}`, list: LOAD_LIST, algorithm, hash });
  }
  for (const e of all) perAlgorithm[e.algorithm] = (perAlgorithm[e.algorithm] ?? 0) + 1;
  const snapshot = join(dir, 'list.snap');
  await writeSnapshot(snapshot, { lists: [{ name: LOAD_LIST, version: 1 }], entries: all });
  const listedSummary = Object.entries(
    listed.reduce<Record<string, number>>((acc, e) => {
      acc[e.algorithm] = (acc[e.algorithm] ?? 0) + 1;
      return acc;
    }, {}),
  )
    .map(([a, n]) => `${n} ${a}`)
    .join(', ');
  const summary =
    `snapshot: ${all.length.toLocaleString('en')} entries (${Object.entries(perAlgorithm)
      .map(([a, n]) => `${a} ${n.toLocaleString('en')}`)
      .join(', ')}), ` +
    `${listed.length} of them the hashes of ${listedIds.size} valid images (${listedSummary}); ${mib(statSync(snapshot).size)} MiB, written in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  return { snapshot, listed, listedIds, summary };
}
