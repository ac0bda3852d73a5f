/**
 * `hashwarden demo`: the whole path on pictures it paints itself, so the package ships no images.
 * It lists the PDQ and MD5 hashes of two generated pictures in a temporary SQLite store, then
 * matches uploads against it: the listed file itself (found by MD5), edited copies (resized,
 * re-encoded, mirrored, framed by a border: found by PDQ) and unrelated pictures (not found).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAlgorithm, hammingDistance, Matcher, type Match } from '../index.js';
import { HashStore } from '../store/index.js';
import { EXIT, type Command } from './command.js';
import { textLine } from './escape.js';

type Sharp = typeof import('sharp').default;
let loaded: Sharp | undefined;

/**
 * sharp's CommonJS entry, as src/image/decode.ts loads it (its ES-module entry is slower to load),
 * on the demo's first picture: loaded with the CLI, it slowed every other command's start.
 */
function sharp(...args: Parameters<Sharp>): ReturnType<Sharp> {
  loaded ??= createRequire(import.meta.url)('sharp') as Sharp;
  return loaded(...args);
}

type Rgb = readonly [number, number, number];

/** A small seeded generator (mulberry32): the same pictures on every run and machine. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Value noise: a random value at each integer point, smoothly interpolated between them. */
function noise(seed: number, x: number, y: number): number {
  const lattice = (ix: number, iy: number) => {
    let h = (Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ seed) | 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  };
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const sx = (x - ix) * (x - ix) * (3 - 2 * (x - ix));
  const sy = (y - iy) * (y - iy) * (3 - 2 * (y - iy));
  const top = lattice(ix, iy) + (lattice(ix + 1, iy) - lattice(ix, iy)) * sx;
  const bottom = lattice(ix, iy + 1) + (lattice(ix + 1, iy + 1) - lattice(ix, iy + 1)) * sx;
  return top + (bottom - top) * sy;
}

/**
 * A textured picture, as raw RGB: noise at five scales between a dark and a light colour, under
 * hard-edged discs and bars of a third. PDQ needs such detail and edges: a smooth image has a low
 * quality score and is not matched. Colours stay well above black, so a black border added around
 * the picture is told from the picture itself.
 */
function paint(seed: number, width: number, height: number): Buffer {
  const rng = random(seed);
  const colour = (low: number, high: number): Rgb => [
    low + rng() * (high - low),
    low + rng() * (high - low),
    low + rng() * (high - low),
  ];
  // A dark and a light colour: PDQ sees only brightness, and two colours of one brightness look flat to it.
  const [from, to, ink] = [colour(50, 120), colour(170, 250), colour(50, 250)];
  const size = Math.min(width, height);
  const discs = Array.from({ length: 5 }, () => ({
    x: rng() * width,
    y: rng() * height,
    r: (0.06 + rng() * 0.14) * size,
  }));
  const bars = Array.from({ length: 4 }, () => ({
    x: rng() * width,
    y: rng() * height,
    w: (0.05 + rng() * 0.3) * size,
    h: (0.05 + rng() * 0.3) * size,
  }));
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let n = 0;
      for (let octave = 0, scale = 6 / width, weight = 0.5; octave < 5; octave++, scale *= 2, weight /= 2) {
        n += weight * noise(seed + octave, x * scale, y * scale);
      }
      const t = Math.min(1, Math.max(0, (n - 0.5) * 2.5 + 0.5));
      const inked =
        discs.some((d) => (x - d.x) ** 2 + (y - d.y) ** 2 < d.r * d.r) ||
        bars.some((b) => x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h);
      for (let c = 0; c < 3; c++) {
        const ground = (from[c] as number) + ((to[c] as number) - (from[c] as number)) * t;
        pixels[(y * width + x) * 3 + c] = Math.round(inked ? ((ink[c] as number) + ground) / 2 : ground);
      }
    }
  }
  return pixels;
}

async function picture(seed: number): Promise<Buffer> {
  const [width, height] = [640, 480];
  return sharp(paint(seed, width, height), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** What an uploader might do to a listed picture before uploading it again. */
const EDITS: readonly {
  readonly name: string;
  readonly file: string;
  readonly make: (original: Buffer) => Promise<Buffer>;
}[] = [
  { name: 'the same file', file: 'copy.jpg', make: async (original) => original }, // the only one MD5 can find
  {
    name: 'resized to 50%',
    file: 'resized.jpg',
    make: (original) => sharp(original).resize(320).jpeg({ quality: 80 }).toBuffer(),
  },
  {
    name: 're-encoded as WebP',
    file: 'webp.webp',
    make: (original) => sharp(original).webp({ quality: 60 }).toBuffer(),
  },
  {
    name: 'mirrored',
    file: 'mirrored.jpg',
    make: (original) => sharp(original).flop().jpeg({ quality: 85 }).toBuffer(),
  },
  {
    name: 'in a black border',
    file: 'border.jpg',
    make: (original) =>
      sharp(original)
        .extend({ top: 48, bottom: 48, left: 64, right: 64, background: '#000' })
        .jpeg({ quality: 85 })
        .toBuffer(),
  },
];

/** How a match was found: which hash, how near, and on which copy of the upload (as `match` prints it). */
function how(match: Match): string {
  if (match.algorithm === 'md5') return 'md5 equal';
  const transform =
    match.transform !== undefined && match.transform !== 'original' ? `, transform ${match.transform}` : '';
  return `${match.algorithm} ${match.distance} bits${transform}${match.trimmed ? ', trimmed (inside the border)' : ''}`;
}

function pad(text: string, width: number): string {
  return text.padEnd(width + 1);
}

export const demoCommand: Command = {
  name: 'demo',
  usage: '[--keep]',
  summary: 'List two generated pictures by PDQ and MD5, and match copies, edits and unrelated pictures.',
  help: `
Paints its own pictures (nothing is read from the package), lists the PDQ and MD5 hashes of two in a
temporary SQLite store, and matches: each listed file again (found by MD5 and PDQ), edited copies of
it (resized, re-encoded, mirrored, framed by a border: found by PDQ alone) and unrelated pictures.

Options:
  --keep       keep the temporary folder (store, list file, pictures) and print its path
  -h, --help   this text

Exit status: 0 when every copy and edit matched and no unrelated picture did, 1 otherwise.`,
  options: { keep: { type: 'boolean' } },
  async run(values, _positionals, io) {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-demo-'));
    try {
      const images = join(dir, 'images');
      await mkdir(images);
      // 1. The pictures a clearinghouse has listed, and the list file it would ship: CSV with a header.
      const listed = ['picture-1', 'picture-2'];
      const originals = await Promise.all(listed.map((_, i) => picture(1000 + i)));
      const rows = ['id,algorithm,hash,label'];
      const pdq = getAlgorithm('pdq');
      const listedPdq: Uint8Array[] = [];
      for (const [i, name] of listed.entries()) {
        const file = join(images, `${name}.jpg`);
        await writeFile(file, originals[i] as Buffer);
        const { hashImage } = await import('../image/index.js');
        const { hashes } = await hashImage(file, { algorithms: ['pdq', 'md5'] });
        rows.push(`${name}/pdq,pdq,${hashes.pdq},demo`, `${name}/md5,md5,${hashes.md5},demo`);
        listedPdq.push(pdq.parse(hashes.pdq as string));
      }
      const listFile = join(dir, 'demo-list.csv');
      await writeFile(listFile, `${rows.join('\n')}\n`);
      // 2. Import it into a store, 3. open a matcher on the store.
      const db = join(dir, 'demo.db');
      const store = HashStore.open(db);
      await store.importFile(listFile, { list: 'demo' });
      store.close();
      const matcher = await Matcher.open(db);
      io.out(
        `List "demo": PDQ and MD5 of ${listed.length} generated pictures (${matcher.size} entries), in a temporary SQLite store.\n`,
      );
      io.out(
        `A match is an equal MD5, or a PDQ hash within ${matcher.threshold('pdq')} bits of 256 (turned, mirrored and bordered copies searched).\n\n`,
      );

      // 4. The uploads: copies and edits of the listed pictures, then pictures nobody listed.
      const uploads: { label: string; file: string; expect: 'md5' | 'pdq' | 'nothing' }[] = [];
      for (const [i, name] of listed.entries()) {
        for (const edit of EDITS) {
          const file = join(images, `${name}--${edit.file}`);
          await writeFile(file, await edit.make(originals[i] as Buffer));
          uploads.push({ label: `${name}, ${edit.name}`, file, expect: edit === EDITS[0] ? 'md5' : 'pdq' });
        }
      }
      for (const n of [1, 2, 3]) {
        const file = join(images, `unrelated-${n}.jpg`);
        await writeFile(file, await picture(2000 + n));
        uploads.push({ label: `unrelated-${n}`, file, expect: 'nothing' });
      }

      io.out(`${pad('upload', 32)}${pad('result', 9)}how\n`);
      let unexpected = 0;
      for (const upload of uploads) {
        const result = await matcher.matchImage(upload.file);
        let detail: string;
        if (result.matched) {
          detail = `${result.matches[0]?.entryId.replace(/\/.*/, '')}: ${result.matches.map(how).join('; ')}`;
        } else if (result.unusable.pdq !== undefined || result.hashes.pdq === undefined) {
          detail = `not checked by PDQ: ${result.unusable.pdq ?? 'no hash'}`;
        } else {
          // How far the nearest listed picture was: the margin that keeps unrelated pictures out.
          const hash = pdq.parse(result.hashes.pdq);
          detail = `nearest listed PDQ ${Math.min(...listedPdq.map((h) => hammingDistance(hash, h)))} bits away`;
        }
        // The closing lines below claim these: MD5 finds the identical file, PDQ the edits, nothing the rest.
        const by = new Set(result.matches.map((m) => m.algorithm));
        const wrong =
          upload.expect === 'nothing'
            ? result.matched
            : !by.has(upload.expect) || (upload.expect === 'pdq' && by.has('md5'));
        if (wrong) unexpected++;
        io.out(
          textLine(
            `${pad(upload.label, 32)}${pad(result.matched ? 'MATCH' : 'no match', 9)}${detail}${wrong ? '   <-- unexpected' : ''}`,
          ),
        );
      }
      io.out('\nMD5 finds only the identical file; PDQ finds the edited copies too.\n');
      io.out(
        unexpected === 0
          ? 'OK: every listed image matched and no unrelated image did.\n'
          : `${unexpected} unexpected results.\n`,
      );
      if (values.keep === true) io.out(textLine(`kept ${dir} (try: hashwarden match ${join(images, '*')} --db ${db})`));
      return unexpected === 0 ? EXIT.ok : EXIT.matched;
    } finally {
      if (values.keep !== true) await rm(dir, { recursive: true, force: true });
    }
  },
};
