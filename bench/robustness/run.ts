/**
 * Question: at each threshold, how many edited copies of a listed image still match it (true
 * positives), and how many unrelated images match each other (false positives)? For blockhash and
 * PDQ, with and without dihedral matching, through the library's own pipeline at its defaults
 * (`hashImage`, fast resolution), as `matchImage` would see them: "on" searches what it searches
 * by default (the 8 turned and mirrored hashes, and the 8 of what lies inside a uniform border).
 *
 * - True positives: every photo of the folder is a listed original; each edit of EDITS (edits.ts)
 *   is an upload; the rate per edit and threshold is the share of originals (with a usable hash)
 *   whose edited copy is within the threshold. A copy whose hash is refused (low quality or
 *   information) or that does not decode counts as a miss.
 * - False positives: a pool of distinct images, the non-overlapping tiles of a grid laid over
 *   each photo, 4 × 5 (tracking the photo they come from); every pair of tiles from different photos,
 *   leaving out photos that show the same scene (`near_duplicate_groups.json`), is an unrelated
 *   pair. Tiles whose hash is refused are left out of the pairs (they cannot match anything).
 * - Beside hashwarden's own originals: the originals hashed by the reference tools (PDQ's C++
 *   hasher, `pdq-reference-cpp.csv`; blockhash-core on a whole decode with sharp's defaults), the
 *   uploads still hashed by hashwarden: what a list made elsewhere catches.
 *
 * Writes docs/thresholds.md (tables) and docs/thresholds.json (the histograms behind them), and
 * prints one summary line per algorithm.
 *
 * Run: npm run bench:robustness [-- --photos DIR] [--limit N] [--out FILE.md]
 *      npm run bench:robustness -- --from docs/thresholds.json   (the report again, from a run's data)
 */
import { bmvbhash } from 'blockhash-core';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { BLOCKHASH_DEFAULT_THRESHOLD } from '../../src/algorithms/blockhash.js';
import { PDQ_DEFAULT_THRESHOLD } from '../../src/algorithms/pdq.js';
import { mapSettled } from '../../src/concurrency.js';
import { hashImage, type ImageHashResult } from '../../src/image/index.js';
import { resolveImageOptions } from '../../src/image/options.js';
import { searchedHashes } from '../../src/image/queries.js';
import { ROOT, SHARED, environment } from '../corpus.js';
import { EDITS, type EditGroup } from './edits.js';
import { lowInformationImages } from './low-information.js';
import {
  ALGORITHMS,
  Histogram,
  MAX_THRESHOLD,
  dihedralDistance,
  distance,
  sameSceneGroups,
  toWords,
  type Algorithm,
  type Report,
  type Words,
} from './measure.js';
import { writeReport } from './report.js';

const { values: args } = parseArgs({
  options: {
    photos: { type: 'string', default: join(SHARED, 'photos') },
    limit: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'docs', 'thresholds.md') },
    // Writes the report again from a run's data file, measuring nothing (for its text and pictures).
    from: { type: 'string' },
  },
});

const DEFAULTS: Record<Algorithm, number> = { pdq: PDQ_DEFAULT_THRESHOLD, blockhash: BLOCKHASH_DEFAULT_THRESHOLD };
const OPTIONS = resolveImageOptions({ algorithms: [...ALGORITHMS], dihedral: true, trim: true });
const CONCURRENCY = 2;
const IMAGE = /\.(jpe?g|png|webp|gif|tiff?|avif|heic)$/i;

/**
 * What the benchmark keeps of one hashed image, per algorithm: its own hash (null when refused);
 * what `matchImage` searches at its defaults (`variants`: the 8 turned and mirrored hashes, and
 * the 8 of what lies inside a uniform border when there is one, each unless refused); and what it
 * would search with trimming alone (`trimmed`: the own hash and that of what the border frames),
 * to tell the false-positive cost of each. Null when nothing is usable.
 */
type Hashed = Record<Algorithm, { hash: Words | null; variants: Words[]; trimmed: Words[] } | null>;

function kept(result: ImageHashResult): Hashed {
  const out = {} as Hashed;
  const words = (hex: string): Words => toWords(Buffer.from(hex, 'hex'));
  const withoutTurns = {
    hashes: result.hashes,
    unusable: result.unusable,
    ...(result.trimmed === undefined
      ? {}
      : { trimmed: { hashes: result.trimmed.hashes, unusable: result.trimmed.unusable } }),
  };
  for (const name of ALGORITHMS) {
    const own =
      result.hashes[name] !== undefined && result.unusable[name] === undefined ? (result.hashes[name] as string) : null;
    // Exactly what matchImage searches (src/image/queries.ts).
    const variants = searchedHashes(result, name).map((q) => words(q.hash));
    const trimmed = searchedHashes(withoutTurns, name).map((q) => words(q.hash));
    out[name] =
      own === null && variants.length === 0 ? null : { hash: own === null ? null : words(own), variants, trimmed };
  }
  return out;
}

async function hashBytes(bytes: Buffer): Promise<Hashed | null> {
  try {
    return kept(await hashImage(bytes, OPTIONS));
  } catch {
    return null;
  }
}

function listPhotos(dir: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d)
      .sort()
      .flatMap((f) => {
        const p = join(d, f);
        return statSync(p).isDirectory() ? walk(p) : IMAGE.test(f) ? [p] : [];
      });
  return walk(dir);
}

/** The grid of tiles for the false-positive pool: 20 per photo (4 × 5), none under 64 px a side. */
async function tiles(photo: Buffer): Promise<Buffer[]> {
  const meta = await sharp(photo, { failOn: 'none' }).metadata();
  const width = meta.autoOrient?.width ?? meta.width ?? 0;
  const height = meta.autoOrient?.height ?? meta.height ?? 0;
  const [rows, columns] = width >= height ? [4, 5] : [5, 4];
  const w = Math.floor(width / columns);
  const h = Math.floor(height / rows);
  if (w < 64 || h < 64) return [];
  // Decoded once; each tile is cut from the raw pixels.
  const { data, info } = await sharp(photo, { failOn: 'none', autoOrient: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const out: Buffer[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      out.push(
        await sharp(data, raw)
          .extract({ left: c * w, top: r * h, width: w, height: h })
          .png()
          .toBuffer(),
      );
    }
  }
  return out;
}

/** The reference tools' hashes of the originals, by path relative to the photo folder. */
async function referenceHashes(dir: string, files: readonly string[]): Promise<Record<Algorithm, Map<string, Words>>> {
  const pdq = new Map<string, Words>();
  const csv = join(dir, 'pdq-reference-cpp.csv');
  if (existsSync(csv)) {
    for (const line of readFileSync(csv, 'utf8').trim().split('\n')) {
      const [hash, quality, file] = line.split(',');
      // The reference's own gate: a hash under quality 50 would not be on a list.
      if (hash !== undefined && file !== undefined && /^[0-9a-f]{64}$/.test(hash) && Number(quality) >= 50)
        pdq.set(file, toWords(Buffer.from(hash, 'hex')));
    }
  }
  const blockhash = new Map<string, Words>();
  for (const file of files) {
    try {
      const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      blockhash.set(
        relative(dir, file),
        toWords(Buffer.from(bmvbhash({ data, width: info.width, height: info.height }, 16), 'hex')),
      );
    } catch {
      // Not decodable with sharp's defaults: no naive hash, as a naive pipeline would have none.
    }
  }
  return { pdq, blockhash };
}

if (args.from !== undefined) {
  const json = JSON.parse(readFileSync(args.from, 'utf8'), (_key, value: unknown) =>
    value !== null && typeof value === 'object' && 'counts' in value && 'missing' in value
      ? Histogram.fromJSON(value as { counts: number[]; missing: number })
      : value,
  ) as Report;
  for (const line of await writeReport(json, args.out as string)) console.log(line);
  console.log(`wrote ${relative(ROOT, args.out as string)} from ${args.from}`);
  process.exit(0);
}

const started = performance.now();
const dir = resolve(args.photos as string);
if (!existsSync(dir)) {
  console.error(`robustness: ${dir} not found (the shared photos are at ../shared/photos; pass --photos DIR)`);
  process.exit(2);
}
let files = listPhotos(dir);
if (args.limit !== undefined) files = files.slice(0, Number(args.limit));
console.log(`# robustness — ${await environment()} · sharp ${sharp.versions.sharp}`);
console.log(`${files.length} photos from ${dir}; ${EDITS.length} edits; pool of tiles; concurrency ${CONCURRENCY}`);

// 1. The originals.
const originals = (await mapSettled(files, CONCURRENCY, async (f) => hashBytes(readFileSync(f)))).map((r) =>
  r.ok ? r.value : null,
);
const references = await referenceHashes(dir, files);

// 2. Each edit of each original: distances to the original, plain and dihedral.
type EditStats = Record<
  Algorithm,
  { plain: Histogram; dihedral: Histogram; referencePlain: Histogram; referenceDihedral: Histogram }
>;
const editStats = new Map<string, EditStats>(
  EDITS.map((e) => [
    e.name,
    Object.fromEntries(
      ALGORITHMS.map((a) => [
        a,
        {
          plain: new Histogram(),
          dihedral: new Histogram(),
          referencePlain: new Histogram(),
          referenceDihedral: new Histogram(),
        },
      ]),
    ) as EditStats,
  ]),
);
const listed: Record<Algorithm, number> = { pdq: 0, blockhash: 0 };
for (const a of ALGORITHMS) listed[a] = originals.filter((o) => o?.[a]?.hash != null).length;
let edited = 0;
await mapSettled(files, CONCURRENCY, async (file, i) => {
  const original = originals[i];
  const bytes = readFileSync(file);
  for (const edit of EDITS) {
    let upload: Hashed | null = null;
    try {
      upload = await hashBytes(await edit.apply(bytes));
    } catch {
      upload = null;
    }
    edited++;
    const stats = editStats.get(edit.name) as EditStats;
    for (const a of ALGORITHMS) {
      const query = upload?.[a] ?? null;
      // A list holds originals' own hashes: an original whose hash is refused is not listed.
      const listedHash = original?.[a]?.hash ?? null;
      const reference = references[a].get(relative(dir, file)) ?? null;
      for (const [target, plain, all] of [
        [listedHash, stats[a].plain, stats[a].dihedral],
        [reference, stats[a].referencePlain, stats[a].referenceDihedral],
      ] as const) {
        if (target === null) continue;
        if (query?.hash == null) plain.missing++;
        else plain.add(distance(query.hash, target));
        if (query === null || query.variants.length === 0) all.missing++;
        else all.add(dihedralDistance(query.variants, target));
      }
    }
  }
  if ((i + 1) % 25 === 0) console.log(`  edits: ${i + 1}/${files.length} photos`);
});

// 3. The false-positive pool.
const nearDuplicates = join(dir, 'near_duplicate_groups.json');
const scenes = existsSync(nearDuplicates)
  ? (() => {
      const json = JSON.parse(readFileSync(nearDuplicates, 'utf8')) as {
        groups?: unknown[][];
        pairs?: unknown[][];
        dihedral_pairs_min_over_8_transforms_le_31?: unknown[][];
      };
      return sameSceneGroups([
        ...(json.groups ?? []),
        ...(json.pairs ?? []),
        ...(json.dihedral_pairs_min_over_8_transforms_le_31 ?? []),
      ]);
    })()
  : new Map<string, number>();
interface Tile {
  source: number;
  tile: number;
  scene: string;
  hashed: Hashed;
}
const pool: Tile[] = [];
let tileCount = 0;
await mapSettled(files, CONCURRENCY, async (file, i) => {
  let cut: Buffer[] = [];
  try {
    cut = await tiles(readFileSync(file));
  } catch {
    cut = [];
  }
  tileCount += cut.length;
  const rel = relative(dir, file);
  const scene = scenes.has(rel) ? `group ${scenes.get(rel)}` : rel;
  for (const [t, tile] of cut.entries()) {
    const hashed = await hashBytes(tile);
    if (hashed !== null) pool.push({ source: i, tile: t, scene, hashed });
  }
});
// In photo and tile order, whatever order the photos finished in: a pair's upload is its first
// tile (searched as matchImage would) and its listed image the second, so the order decides the
// counts with turned and trimmed copies, and runs must agree.
pool.sort((x, y) => x.source - y.source || x.tile - y.tile);
const unrelated: Record<
  Algorithm,
  { plain: Histogram; trimmed: Histogram; dihedral: Histogram; sameSource: Histogram }
> = Object.fromEntries(
  ALGORITHMS.map((a) => [
    a,
    { plain: new Histogram(), trimmed: new Histogram(), dihedral: new Histogram(), sameSource: new Histogram() },
  ]),
) as never;
const refusedTiles: Record<Algorithm, number> = { pdq: 0, blockhash: 0 };
let excludedScenePairs = 0;
for (const a of ALGORITHMS)
  refusedTiles[a] = pool.filter((t) => t.hashed[a]?.hash == null).length + (tileCount - pool.length);
for (let i = 0; i < pool.length; i++) {
  const x = pool[i] as Tile;
  for (let j = i + 1; j < pool.length; j++) {
    const y = pool[j] as Tile;
    const sameSource = x.source === y.source;
    if (!sameSource && x.scene === y.scene) {
      excludedScenePairs++;
      continue;
    }
    for (const a of ALGORITHMS) {
      // y as the listed image (its own hash), x as the upload (everything matchImage searches).
      const hx = x.hashed[a];
      const listedHash = y.hashed[a]?.hash ?? null;
      if (hx === null || listedHash === null) continue;
      if (sameSource) {
        if (hx.hash !== null) unrelated[a].sameSource.add(distance(hx.hash, listedHash));
        continue;
      }
      if (hx.hash !== null) unrelated[a].plain.add(distance(hx.hash, listedHash));
      if (hx.trimmed.length > 0) unrelated[a].trimmed.add(dihedralDistance(hx.trimmed, listedHash));
      if (hx.variants.length > 0) unrelated[a].dihedral.add(dihedralDistance(hx.variants, listedHash));
    }
  }
}

// 4. Low-information images: generated, plus the photos whose own hash is refused. Each is an
// upload searched as matchImage would, against every other one and every listed original.
const lowGenerated = await lowInformationImages();
const low: { name: string; kind: string; hashed: Hashed | null }[] = [];
for (const image of lowGenerated)
  low.push({ name: image.name, kind: image.kind, hashed: await hashBytes(image.bytes) });
files.forEach((file, i) => {
  const own = originals[i];
  if (own === null || ALGORITHMS.some((a) => own?.[a]?.hash == null))
    low.push({ name: relative(dir, file), kind: 'photo', hashed: own ?? null });
});
const lowInformation = ALGORITHMS.map((a) => {
  const kinds = new Map<string, { images: number; usable: number }>();
  let matches = 0;
  const examples: string[] = [];
  for (const x of low) {
    const k = kinds.get(x.kind) ?? { images: 0, usable: 0 };
    k.images++;
    if (x.hashed?.[a] != null) k.usable++;
    kinds.set(x.kind, k);
    const query = x.hashed?.[a];
    if (query == null || query.variants.length === 0) continue;
    const targets = [
      ...low.filter((y) => y !== x).map((y) => ({ name: y.name, hash: y.hashed?.[a]?.hash ?? null })),
      ...originals
        .map((o, i) => ({ name: relative(dir, files[i] as string), hash: o?.[a]?.hash ?? null }))
        .filter((t) => t.name !== x.name),
    ];
    for (const target of targets) {
      if (target.hash === null) continue;
      if (dihedralDistance(query.variants, target.hash) <= DEFAULTS[a]) {
        matches++;
        if (examples.length < 5) examples.push(`${x.name} → ${target.name}`);
      }
    }
  }
  return { algorithm: a, kinds: [...kinds].map(([kind, v]) => ({ kind, ...v })), matches, examples };
});

const report: Report = {
  environment: await environment(),
  command: 'npm run bench:robustness',
  photos: files.length,
  photoDir: relative(ROOT, dir) || dir,
  listed,
  defaults: DEFAULTS,
  maxThreshold: MAX_THRESHOLD,
  edits: EDITS.map((e) => ({
    name: e.name,
    group: e.group as EditGroup,
    description: e.description,
    stats: editStats.get(e.name) as EditStats,
  })),
  references: { pdq: references.pdq.size, blockhash: references.blockhash.size },
  pool: { tiles: tileCount, hashed: pool.length, refused: refusedTiles, excludedScenePairs, unrelated },
  lowInformation,
  seconds: (performance.now() - started) / 1000,
};
const lines = await writeReport(report, args.out as string);
for (const line of lines) console.log(line);
console.log(
  `wrote ${relative(ROOT, args.out as string)} and its .json in ${report.seconds.toFixed(0)} s (${edited} edited copies hashed)`,
);
