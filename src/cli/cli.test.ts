import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { Matcher, readSnapshot } from '../index.js';
import { HashStore } from '../store/index.js';
import { COMMANDS } from './run.js';
import { cli } from '../testing/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const vectors = join(root, 'test-vectors');
const manifest = JSON.parse(readFileSync(join(vectors, 'manifest.json'), 'utf8')) as {
  images: { file: string; kind: string; blockhash: string; md5: string; sha256: string }[];
};
const image = (file: string) => join(vectors, 'images', file);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashwarden hash', () => {
  it('prints one JSON line per file with exactly the contract fields, in input order', async () => {
    const files = manifest.images.slice(0, 4);
    const { status, lines } = await cli('hash', '--resolution', 'full', ...files.map((f) => image(f.file)));
    expect(status).toBe(0);
    expect(lines.map((l) => JSON.parse(l))).toEqual(
      files.map((f) => ({
        file: image(f.file),
        blockhash: f.blockhash,
        pdq: expect.stringMatching(/^[0-9a-f]{64}$/),
        pdqQuality: expect.any(Number),
        md5: f.md5,
        sha1: expect.stringMatching(/^[0-9a-f]{40}$/),
        sha256: f.sha256,
        unusable: expect.any(Object),
      })),
    );
    expect(Object.keys(JSON.parse(lines[0]!))).toEqual([
      'file',
      'blockhash',
      'pdq',
      'pdqQuality',
      'md5',
      'sha1',
      'sha256',
      'unusable',
    ]);
  });

  it('prints the 8 turned and mirrored hashes after each perceptual hash with --dihedral', async () => {
    const { status, lines } = await cli(
      'hash',
      '--dihedral',
      '--algorithms',
      'blockhash,pdq,md5',
      image('mosaic-400x300.jpg'),
    );
    expect(status).toBe(0);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual([
      'file',
      'blockhash',
      'blockhashDihedral',
      'pdq',
      'pdqQuality',
      'pdqDihedral',
      'md5',
      'unusable',
    ]);
    for (const name of ['blockhash', 'pdq']) {
      const variants = line[`${name}Dihedral`] as string[];
      expect(variants).toHaveLength(8);
      expect(variants[0]).toBe(line[name]);
      expect(new Set(variants).size).toBe(8);
    }
  });

  it('states on the line when a matcher would refuse the PDQ hash: quality below 50', async () => {
    const flat = join(dir, 'flat.png');
    await writeFile(
      flat,
      await sharp({ create: { width: 200, height: 150, channels: 3, background: '#808080' } })
        .png()
        .toBuffer(),
    );
    const { status, lines } = await cli('hash', '--algorithms', 'pdq,blockhash', flat, image('mosaic-400x300.jpg'));
    expect(status).toBe(0);
    const [flatLine, photoLine] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(flatLine).toMatchObject({ pdqQuality: 0, unusable: { pdq: 'PDQ quality 0 is below 50' } });
    expect(photoLine?.pdqQuality).toBeGreaterThanOrEqual(50);
    expect(photoLine?.unusable).toEqual({});
    // A one-colour image's blockhash is refused too (the same hash as every flat image's); with
    // no perceptual hash requested there is nothing to refuse and no unusable field.
    expect(flatLine?.unusable).toEqual({
      pdq: 'PDQ quality 0 is below 50',
      blockhash: 'blockhash of a flat image (block means spread 0.00, below 1 grey level)',
    });
    const { lines: plain } = await cli('hash', '--algorithms', 'blockhash,md5', flat);
    expect(Object.keys(JSON.parse(plain[0]!))).toEqual(['file', 'blockhash', 'md5', 'unusable']);
    const { lines: exact } = await cli('hash', '--algorithms', 'md5', flat);
    expect(Object.keys(JSON.parse(exact[0]!))).toEqual(['file', 'md5']);
  });

  it('reports a corrupt file and an SVG in the middle of a batch, goes on, and exits 2', async () => {
    const corrupt = join(dir, 'corrupt.jpg');
    await writeFile(corrupt, readFileSync(image('blobs-640x480.jpg')).subarray(0, 3000));
    const svg = join(dir, 'vector.svg');
    await writeFile(svg, '<svg xmlns="http://www.w3.org/2000/svg"><image href="/etc/hostname"/></svg>');
    const good = image('gradient-64x64.png');
    const { status, lines } = await cli('hash', '--algorithms', 'blockhash,md5', good, corrupt, svg, good);
    expect(status).toBe(2);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.map((p) => p.file)).toEqual([good, corrupt, svg, good]);
    expect(Object.keys(parsed[0])).toEqual(['file', 'blockhash', 'md5', 'unusable']);
    expect(parsed[1]).toEqual({ file: corrupt, error: { code: 'ERR_IMAGE_DECODE', message: expect.any(String) } });
    expect(parsed[2]).toEqual({ file: svg, error: { code: 'ERR_UNSUPPORTED_FORMAT', message: expect.any(String) } });
    expect(parsed[3]).toEqual(parsed[0]);
  });

  it('adds frameCount and frames after every other field for an animated file, and hashes at most --max-frames frames', async () => {
    const gif = join(vectors, 'hostile', 'animated-listed-frame-2.gif');
    const { status, lines } = await cli('hash', '--algorithms', 'blockhash,pdq,md5', gif);
    expect(status).toBe(0);
    const line = JSON.parse(lines[0]!);
    expect(Object.keys(line)).toEqual([
      'file',
      'blockhash',
      'pdq',
      'pdqQuality',
      'md5',
      'unusable',
      'frameCount',
      'frames',
    ]);
    expect(line.frameCount).toBe(4);
    expect(line.frames.map((f: { frame: number }) => f.frame)).toEqual([0, 1, 2, 3]);
    expect(Object.keys(line.frames[0])).toEqual(['frame', 'blockhash', 'pdq', 'pdqQuality', 'unusable']);
    // The top level is the first frame, as it was before frames were hashed.
    expect([line.frames[0].blockhash, line.frames[0].pdq]).toEqual([line.blockhash, line.pdq]);
    const two = JSON.parse((await cli('hash', '--algorithms', 'blockhash', '--max-frames', '2', gif)).lines[0]!);
    expect([two.frameCount, two.frames.length]).toEqual([4, 2]);
    // A still file's line is unchanged: no frame fields.
    expect(
      Object.keys(JSON.parse((await cli('hash', '--algorithms', 'blockhash', image('gradient-64x64.png'))).lines[0]!)),
    ).toEqual(['file', 'blockhash', 'unusable']);
    const bad = await cli('hash', '--max-frames', '0', gif);
    expect(bad.status).toBe(2);
    expect(bad.err).toContain('Expected integer between 1 and 10000 for maxFrames but received 0 of type number');
  });

  it('rejects an unknown algorithm as a usage error', async () => {
    const { status, err, out } = await cli('hash', '--algorithms', 'photodna', image('gradient-64x64.png'));
    expect(status).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/Expected one of blockhash, pdq, md5, sha1, sha256 for algorithms/);
  });
});

describe('hashwarden import and match', () => {
  it('imports a CSV list, then match exits 1 on a listed image (even beside an unreadable one), 0 on an unrelated one, 2 on an error alone', async () => {
    const db = join(dir, 'list.db');
    const blobs = manifest.images.find((i) => i.file === 'blobs-640x480.jpg')!;
    const csv = join(dir, 'list.csv');
    await writeFile(csv, `id,algorithm,hash,label\nb1,blockhash,${blobs.blockhash},test-label\nm1,md5,${blobs.md5},\n`);
    const imported = await cli('import', csv, '--db', db, '--list', 'demo');
    expect(imported.status).toBe(0);
    expect(imported.out).toContain('2 added');

    const hit = await cli('match', image('blobs-640x480--resize50.jpg'), '--db', db, '--json');
    expect(hit.status).toBe(1);
    const result = JSON.parse(hit.lines[0]!);
    expect(result).toMatchObject({
      matched: true,
      matches: [{ list: 'demo', entryId: 'b1', algorithm: 'blockhash', label: 'test-label' }],
    });
    expect(result.hashes.blockhash).toMatch(/^[0-9a-f]{64}$/);

    const miss = await cli('match', image('mosaic-400x300.jpg'), '--db', db);
    expect(miss.status).toBe(0);
    expect(miss.out).toMatch(/^no match/);

    const stricter = await cli('match', image('blobs-640x480--resize50.jpg'), '--db', db, '--threshold', 'blockhash=0');
    expect(stricter.status).toBe(0);

    // The match must not hide behind the error: a script reading only the status sees it.
    const broken = await cli('match', image('blobs-640x480.jpg'), join(dir, 'missing.png'), '--db', db, '--json');
    expect(broken.status).toBe(1);
    expect(JSON.parse(broken.lines[0]!)).toMatchObject({ matched: true });
    expect(JSON.parse(broken.lines[1]!)).toMatchObject({ error: { code: 'ERR_INPUT_READ' } });
    const brokenAlone = await cli('match', image('mosaic-400x300.jpg'), join(dir, 'missing.png'), '--db', db);
    expect(brokenAlone.status).toBe(2);
  });

  it('matches a PDQ list, names the transform of a mirrored upload, and says when PDQ was not used', async () => {
    const db = join(dir, 'pdq.db');
    const mosaic = image('mosaic-400x300.jpg');
    const hashed = await cli('hash', '--algorithms', 'pdq', mosaic);
    const { pdq } = JSON.parse(hashed.lines[0]!) as { pdq: string };
    const csv = join(dir, 'pdq.csv');
    await writeFile(csv, `id,algorithm,hash\np1,pdq,${pdq}\n`);
    expect((await cli('import', csv, '--db', db, '--list', 'pdq-demo')).status).toBe(0);

    const mirrored = join(dir, 'mosaic-mirrored.png');
    await writeFile(mirrored, await sharp(mosaic).flop().png().toBuffer());
    const hit = await cli('match', mirrored, '--db', db);
    expect(hit.status).toBe(1);
    expect(hit.out).toMatch(/^MATCH .* entry=p1 pdq distance=\d+ transform=flipY list-version=1\n$/);
    const asIs = await cli('match', mirrored, '--db', db, '--no-dihedral');
    expect(asIs.status).toBe(0);
    expect(asIs.out).toBe(`no match  ${mirrored}\n`);

    const letterboxed = join(dir, 'mosaic-letterboxed.jpg');
    await writeFile(
      letterboxed,
      await sharp(mosaic).extend({ top: 40, bottom: 40, background: '#000' }).jpeg({ quality: 85 }).toBuffer(),
    );
    const framed = await cli('match', letterboxed, '--db', db);
    expect(framed.status).toBe(1);
    expect(framed.out).toMatch(/^MATCH .* entry=p1 pdq distance=\d+ trimmed list-version=1\n$/);
    expect((await cli('match', letterboxed, '--db', db, '--no-trim')).status).toBe(0);

    const flat = join(dir, 'flat-for-match.png');
    await writeFile(
      flat,
      await sharp({ create: { width: 80, height: 60, channels: 3, background: '#444444' } })
        .png()
        .toBuffer(),
    );
    // PDQ-only lists and a refused PDQ hash: the image was not checked at all, which is no "clean".
    const unchecked = await cli('match', flat, '--db', db);
    expect(unchecked.status).toBe(2);
    expect(unchecked.out).toBe(`UNCHECKED ${flat}  (pdq not used: PDQ quality 0 is below 50)\n`);
    const json = await cli('match', flat, '--db', db, '--json');
    expect(JSON.parse(json.lines[0]!)).toMatchObject({
      matched: false,
      unusable: { pdq: 'PDQ quality 0 is below 50' },
      checked: false,
    });
  });

  it('matches an animation on the frame that holds the listed image, and says when frames past --max-frames went unchecked', async () => {
    const db = join(dir, 'frames.db');
    const hashed = JSON.parse((await cli('hash', '--algorithms', 'pdq', image('mosaic-400x300.jpg'))).lines[0]!) as {
      pdq: string;
    };
    const csv = join(dir, 'frames.csv');
    await writeFile(csv, `id,algorithm,hash\np1,pdq,${hashed.pdq}\n`);
    expect((await cli('import', csv, '--db', db, '--list', 'frames')).status).toBe(0);
    const hostile = (file: string) => join(vectors, 'hostile', file);

    const hit = await cli('match', hostile('animated-listed-frame-2.gif'), '--db', db);
    expect(hit.status).toBe(1);
    expect(hit.out).toMatch(/^MATCH .* entry=p1 pdq distance=\d+ frame=2 list-version=1\n$/);
    const json = JSON.parse(
      (await cli('match', hostile('animated-listed-frame-2.gif'), '--db', db, '--json')).lines[0]!,
    );
    expect(json).toMatchObject({
      matched: true,
      matches: [{ entryId: 'p1', frame: 2 }],
      frameCount: 4,
      framesHashed: 4,
    });

    const long = hostile('animated-listed-frame-40.gif');
    // Every frame hashed is featureless to PDQ, the only algorithm listed: not checked, exit 2.
    const missed = await cli('match', long, '--db', db);
    expect(missed.status).toBe(2);
    expect(missed.out).toMatch(/^UNCHECKED .*animated-listed-frame-40\.gif .*\(frames 0-31 of 41 checked\)\n$/);
    expect((await cli('match', long, '--db', db, '--max-frames', '41')).out).toMatch(/ frame=40 /);
    const bad = await cli('match', long, '--db', db, '--max-frames', 'all');
    expect(bad.status).toBe(2);
    expect(bad.err).toContain('Expected integer between 1 and 10000 for maxFrames but received "all" of type string');
  });

  it('refuses a list with a bad row whole, naming file and line, and writes nothing', async () => {
    const db = join(dir, 'strict.db');
    const text = join(dir, 'bad.txt');
    await writeFile(text, `md5 ${'a'.repeat(32)}\nmd5 not-hex\nmd5 ${'b'.repeat(32)}\n`);
    const { status, err } = await cli('import', text, '--db', db, '--list', 'x');
    expect(status).toBe(2);
    expect(err).toContain(`ERR_LIST_FORMAT: ${text}:2:`);
    expect(existsSync(db)).toBe(false);
  });

  it('with --skip-bad-rows imports the good rows and reports each bad one', async () => {
    const db = join(dir, 'lenient.db');
    const text = join(dir, 'bare.txt');
    await writeFile(text, `${'a'.repeat(32)}\nzz\n${'b'.repeat(32)}\n`);
    const { status, err, out } = await cli(
      'import',
      text,
      '--db',
      db,
      '--list',
      'x',
      '--format',
      'text',
      '--algorithm',
      'md5',
      '--skip-bad-rows',
    );
    expect(status).toBe(0);
    expect(err).toContain(`${text}:2:`);
    expect(out).toContain('1 bad rows skipped');
    const store = HashStore.open(db, { readonly: true });
    expect(store.count()).toBe(2);
    store.close();
  });
});

describe('hashwarden export and match --snapshot', () => {
  const probes = [
    'blobs-640x480.jpg',
    'blobs-640x480--resize50.jpg',
    'blobs-640x480--jpeg60.jpg',
    'mosaic-400x300.jpg',
    'gradient-64x64.png',
  ].map(image);

  /** A store with list `demo` (blockhash and MD5 of two images) and list `other` (one MD5). */
  async function store(name: string): Promise<string> {
    const db = join(dir, `${name}.db`);
    const blobs = manifest.images.find((i) => i.file === 'blobs-640x480.jpg')!;
    const gradient = manifest.images.find((i) => i.file === 'gradient-64x64.png')!;
    const csv = join(dir, `${name}.csv`);
    await writeFile(
      csv,
      `id,algorithm,hash,label\nb1,blockhash,${blobs.blockhash},test-label\nm1,md5,${blobs.md5},\nb2,blockhash,${gradient.blockhash},\n`,
    );
    expect((await cli('import', csv, '--db', db, '--list', 'demo')).status).toBe(0);
    const other = join(dir, `${name}-other.txt`);
    await writeFile(other, `md5 ${gradient.md5}\n`);
    expect((await cli('import', other, '--db', db, '--list', 'other')).status).toBe(0);
    return db;
  }

  it('exports a store that match --snapshot matches exactly as match --db does', async () => {
    const db = await store('export');
    const snapshot = join(dir, 'export.snap');
    const exported = await cli('export', '--db', db, '--snapshot', snapshot);
    expect(exported.status).toBe(0);
    const { sequence } = await readSnapshot(snapshot);
    expect(exported.lines).toEqual([
      'blockhash  2 entries  linear',
      'md5        2 entries  exact',
      `wrote ${snapshot} (4 entries, ${statSync(snapshot).size} bytes, sequence ${sequence})`,
    ]);
    const read = await readSnapshot(snapshot);
    expect(read.lists).toEqual([
      { name: 'demo', version: 1 },
      { name: 'other', version: 1 },
    ]);
    expect(read.source).toBe(db);

    const fromDb = await cli('match', ...probes, '--db', db, '--json');
    const fromSnapshot = await cli('match', ...probes, '--snapshot', snapshot, '--json');
    expect(fromDb.status).toBe(1);
    expect(fromSnapshot.status).toBe(fromDb.status);
    expect(fromSnapshot.lines).toEqual(fromDb.lines);
    expect(fromSnapshot.lines.filter((l) => JSON.parse(l).matched)).toHaveLength(4);
  });

  it('exports multi-index tables with --tier mih --substring-bits 8 and matches identically', async () => {
    const db = await store('mih');
    const snapshot = join(dir, 'mih.snap');
    const exported = await cli('export', '--db', db, '--snapshot', snapshot, '--tier', 'mih', '--substring-bits', '8');
    expect(exported.status).toBe(0);
    expect(exported.lines[0]).toBe(`blockhash  2 entries  mih (32 tables: ${Array(32).fill(8).join(',')})`);
    const fromDb = await cli('match', ...probes, '--db', db, '--json');
    const fromSnapshot = await cli('match', ...probes, '--snapshot', snapshot, '--json');
    expect(fromSnapshot.status).toBe(fromDb.status);
    expect(fromSnapshot.lines).toEqual(fromDb.lines);
  });

  it('exports only the lists named with --list, with their versions', async () => {
    const db = await store('subset');
    const snapshot = join(dir, 'subset.snap');
    const exported = await cli('export', '--db', db, '--snapshot', snapshot, '--list', 'other');
    expect(exported.status).toBe(0);
    expect(exported.lines[0]).toBe('md5  1 entries  exact');
    expect((await readSnapshot(snapshot)).lists).toEqual([{ name: 'other', version: 1 }]);
    const miss = await cli('match', image('blobs-640x480.jpg'), '--snapshot', snapshot);
    expect(miss.status).toBe(0);
  });

  it('refuses an unknown --list on export as a usage error naming the known lists, and writes nothing', async () => {
    const db = await store('unknown');
    const snapshot = join(dir, 'unknown.snap');
    const { status, err, out } = await cli(
      'export',
      '--db',
      db,
      '--snapshot',
      snapshot,
      '--list',
      'demo',
      '--list',
      'nope',
    );
    expect(status).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('Unknown list "nope"');
    expect(err).toContain('known lists: demo, other');
    expect(err).toContain('--help');
    expect(existsSync(snapshot)).toBe(false);
  });

  it('refuses a non-numeric or out-of-range --substring-bits and an unknown --tier as usage errors', async () => {
    const db = await store('bits');
    const snapshot = join(dir, 'bits.snap');
    const bad = await cli('export', '--db', db, '--snapshot', snapshot, '--substring-bits', 'wide');
    expect(bad.status).toBe(2);
    expect(bad.err).toContain('Expected integer between 8 and 24 for --substring-bits but received "wide"');
    const range = await cli('export', '--db', db, '--snapshot', snapshot, '--tier', 'mih', '--substring-bits', '30');
    expect(range.status).toBe(2);
    expect(range.err).toContain('for --substring-bits but received "30"');
    const tier = await cli('export', '--db', db, '--snapshot', snapshot, '--tier', 'fast');
    expect(tier.status).toBe(2);
    expect(tier.err).toContain('Expected one of auto, linear, mih for --tier but received "fast"');
    expect(existsSync(snapshot)).toBe(false);
  });

  it('leaves no temporary file when the snapshot cannot be written', async () => {
    const db = await store('fail');
    const missing = await cli('export', '--db', db, '--snapshot', join(dir, 'no-such-dir', 'x.snap'));
    expect(missing.status).toBe(2);
    expect(missing.err).toMatch(/ERR_STORE: Cannot write the snapshot .*no-such-dir/);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);

    // A directory in the way: the temporary file is written, then the rename fails.
    const parent = join(dir, 'fail-out');
    await mkdir(join(parent, 'taken.snap', 'inside'), { recursive: true });
    const blocked = await cli('export', '--db', db, '--snapshot', join(parent, 'taken.snap'));
    expect(blocked.status).toBe(2);
    expect(blocked.err).toContain('ERR_STORE');
    expect(readdirSync(parent)).toEqual(['taken.snap']);
  });

  it('requires exactly one of --db and --snapshot, and refuses --list with --snapshot', async () => {
    const db = await store('usage');
    const snapshot = join(dir, 'usage.snap');
    expect((await cli('export', '--db', db, '--snapshot', snapshot)).status).toBe(0);
    const file = image('blobs-640x480.jpg');

    const both = await cli('match', file, '--db', db, '--snapshot', snapshot);
    expect(both.status).toBe(2);
    expect(both.err).toContain('Expected one of --db and --snapshot but received both');
    const neither = await cli('match', file);
    expect(neither.status).toBe(2);
    expect(neither.err).toContain('Missing --db PATH or --snapshot FILE');
    const list = await cli('match', file, '--snapshot', snapshot, '--list', 'demo');
    expect(list.status).toBe(2);
    expect(list.err).toContain('--list cannot be used with --snapshot');
    for (const r of [both, neither, list]) {
      expect(r.out).toBe('');
      expect(r.err).toContain('Run `hashwarden match --help` for usage.');
    }

    const absent = await cli('match', file, '--snapshot', join(dir, 'absent.snap'));
    expect(absent.status).toBe(2);
    expect(absent.err).toContain('ERR_INPUT_READ: Cannot read the snapshot');
    const notSnapshot = await cli('match', file, '--snapshot', db);
    expect(notSnapshot.status).toBe(2);
    expect(notSnapshot.err).toContain('ERR_SNAPSHOT_FORMAT');
  });
});

describe('hashwarden command line', () => {
  it('prints help for every command', async () => {
    for (const command of COMMANDS) {
      const { status, out } = await cli(command.name, '--help');
      expect(status).toBe(0);
      expect(out).toContain(`Usage: hashwarden ${command.name}`);
    }
    expect((await cli('--help')).status).toBe(0);
  });

  it('exits 2 on an unknown command or option', async () => {
    expect((await cli('frobnicate')).status).toBe(2);
    expect((await cli('hash', '--colour', 'x')).status).toBe(2);
    expect((await cli('match', 'a.jpg')).err).toContain('Missing --db');
  });

  it('runs the demo on pictures it paints: the same file matches by MD5, edits by PDQ, unrelated pictures not at all', async () => {
    const { status, out } = await cli('demo');
    expect(out).toMatch(/^picture-1, the same file +MATCH +picture-1: md5 equal; pdq 0 bits$/m);
    expect(out).toMatch(/^picture-1, resized to 50% +MATCH +picture-1: pdq \d+ bits$/m);
    expect(out).toMatch(/^picture-1, mirrored +MATCH +picture-1: pdq \d+ bits, transform flipY$/m);
    expect(out).toMatch(/^picture-1, in a black border +MATCH +picture-1: pdq \d+ bits, trimmed/m);
    expect(out.match(/^unrelated-\d +no match +nearest listed PDQ \d+ bits away$/gm)).toHaveLength(3);
    expect(out).toContain('OK: every listed image matched and no unrelated image did.');
    expect(status).toBe(0);
  });

  it('works as the installed executable, with the exit status of the command', () => {
    const bin = join(root, 'dist', 'cli', 'main.js');
    if (!existsSync(bin)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
    const run = spawnSync(process.execPath, [bin, 'hash', '--algorithms', 'sha256', image('pixel-1x1.png')], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      file: image('pixel-1x1.png'),
      sha256: manifest.images.find((i) => i.file === 'pixel-1x1.png')!.sha256,
    });
  });

  it('loads sharp only for the commands that hash images, not to import, list or export', () => {
    const bin = join(root, 'dist', 'cli', 'main.js');
    if (!existsSync(bin)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
    // The executable run in a process that records every module it loads by a name naming sharp.
    const loads = (...argv: string[]): { status: number | null; sharp: boolean } => {
      const script = `
        const Module = require('node:module');
        const load = Module._load;
        Module._load = function (request, ...rest) {
          if (/(^|[\\/])sharp([\\/.-]|$)/.test(request)) process.stderr.write('SHARP LOADED\\n');
          return load.call(this, request, ...rest);
        };
        process.argv = [process.argv[0], ${JSON.stringify(bin)}, ...${JSON.stringify(argv)}];
        import(${JSON.stringify(pathToFileURL(bin).href)});
      `;
      const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      return { status: run.status, sharp: run.stderr.includes('SHARP LOADED') };
    };
    const db = join(dir, 'lazy-sharp.db');
    expect(loads('import', join(dir, 'no-such-list.csv'), '--db', db, '--list', 'l').sharp).toBe(false);
    expect(loads('lists', '--db', db).sharp).toBe(false);
    expect(loads('--help').sharp).toBe(false);
    expect(loads('hash', '--algorithms', 'pdq', image('mosaic-400x300.jpg'))).toEqual({ status: 0, sharp: true });
  });
});

describe('hashwarden lists, list set, delta and replace imports', () => {
  const md5 = (c: string) => c.repeat(32);

  it('imports a delta file, replaces a list, and shows each list with its version, counts and policy', async () => {
    const db = join(dir, 'policy.db');
    const full = join(dir, 'full.csv');
    await writeFile(full, `id,algorithm,hash\na,md5,${md5('a')}\nb,md5,${md5('b')}\nc,pdq,${'f'.repeat(64)}\n`);
    expect((await cli('import', full, '--db', db, '--list', 'ncmec')).out).toBe(
      `imported ${full} into list ncmec: 3 added, 0 updated, 0 unchanged, 0 removed (version 1)\n`,
    );
    const delta = join(dir, 'delta.csv');
    await writeFile(delta, `op,id,algorithm,hash\nremove,a,,\nadd,d,md5,${md5('d')}\n`);
    expect((await cli('import', delta, '--db', db, '--list', 'ncmec', '--algorithm', 'md5')).out).toBe(
      `imported ${delta} into list ncmec: 1 added, 0 updated, 0 unchanged, 1 removed (version 2)\n`,
    );
    const replacement = join(dir, 'replacement.txt');
    await writeFile(replacement, `md5 ${md5('e')}\n`);
    expect((await cli('import', replacement, '--db', db, '--list', 'ncmec', '--replace')).out).toBe(
      `imported ${replacement} into list ncmec: 1 added, 0 updated, 0 unchanged, 3 removed (version 3, replaced)\n`,
    );
    const empty = join(dir, 'empty.txt');
    await writeFile(empty, '');
    const refused = await cli('import', empty, '--db', db, '--list', 'ncmec', '--replace');
    expect([refused.status, refused.err]).toEqual([2, expect.stringContaining('ERR_LIST_FORMAT') as unknown as string]);
    const shown = await cli('lists', '--db', db);
    expect(shown.lines).toEqual([
      expect.stringMatching(
        /^ncmec {2}v3 {2}enabled {2}block {2}\(no label\) {2}1 entries \(md5 1\) {2}thresholds blockhash=10 pdq=31 {2}updated \d{4}-/,
      ) as unknown as string,
    ]);
  });

  it('says, after importing a large file whose ids were out of order, that the file sorted would import faster', async () => {
    const db = join(dir, 'unsorted.db');
    const rows = (order: number[]) =>
      `id,algorithm,hash\n${order.map((i) => `id${String(i).padStart(6, '0')},md5,${i.toString(16).padStart(32, '0')}`).join('\n')}\n`;
    const ascending = Array.from({ length: 100_000 }, (_, i) => i);
    const unsorted = join(dir, 'unsorted.csv');
    await writeFile(unsorted, rows([...ascending].reverse()));
    const sorted = join(dir, 'sorted.csv');
    await writeFile(sorted, rows(ascending));
    expect((await cli('import', unsorted, '--db', db, '--list', 'big')).err).toMatch(
      /^note: the ids were not in ascending order.*LC_ALL=C sort/,
    );
    expect((await cli('import', unsorted, '--db', db, '--list', 'big', '--quiet')).err).toBe('');
    expect((await cli('import', sorted, '--db', db, '--list', 'big')).err).toBe('');
  });

  it("sets a list's thresholds, label and enabled flag, which matchers then apply", async () => {
    const db = join(dir, 'set.db');
    const list = join(dir, 'two.csv');
    await writeFile(list, `id,list,algorithm,hash\na,one,md5,${md5('a')}\nb,two,md5,${md5('b')}\n`);
    // A file of two lists: --multi-list lets its rows name them.
    await cli('import', list, '--db', db, '--list', 'one', '--multi-list');
    const set = await cli(
      'list',
      'set',
      'one',
      '--db',
      db,
      '--threshold',
      'pdq=24,blockhash=8',
      '--label',
      'block-and-report',
    );
    expect(set.out).toMatch(
      /^one {2}v1 {2}enabled {2}block {2}block-and-report {2}1 entries \(md5 1\) {2}thresholds blockhash=8\* pdq=24\* /,
    );
    expect((await cli('list', 'set', 'one', '--db', db, '--threshold', 'pdq=default')).out).toMatch(
      /thresholds blockhash=8\* pdq=31 /,
    );
    expect((await cli('list', 'set', 'two', '--db', db, '--disable')).out).toMatch(/^two {2}v1 {2}disabled /);
    const json = (await cli('lists', '--db', db, '--json')).lines.map(
      (l) => JSON.parse(l) as { name: string; thresholds: object; label?: string; enabled: boolean },
    );
    expect(json.map((l) => [l.name, l.thresholds, l.label, l.enabled])).toEqual([
      ['one', { blockhash: 8 }, 'block-and-report', true],
      ['two', {}, undefined, false],
    ]);
    // The disabled list is not matched; the enabled one's matches carry its label and version.
    const snapshot = join(dir, 'set.snap');
    expect((await cli('export', '--db', db, '--snapshot', snapshot)).status).toBe(0);
    const opened = await Matcher.open(snapshot);
    expect(opened.lists).toEqual([
      { name: 'one', version: 1, thresholds: { blockhash: 8 }, label: 'block-and-report' },
    ]);
    expect(opened.matchHash({ algorithm: 'md5', hash: md5('a') })).toMatchObject([
      { listLabel: 'block-and-report', listVersion: 1 },
    ]);
    expect(opened.matchHash({ algorithm: 'md5', hash: md5('b') })).toEqual([]);
  });

  it('makes a list an allow list with --action allow, shown by lists and kept by the snapshot', async () => {
    const db = join(dir, 'allow.db');
    const list = join(dir, 'allow.csv');
    await writeFile(list, `id,list,algorithm,hash\na,shared,md5,${md5('a')}\nok,fine,md5,${md5('a')}\n`);
    await cli('import', list, '--db', db, '--list', 'shared', '--multi-list');
    const allow = await cli('list', 'set', 'fine', '--db', db, '--action', 'allow');
    expect(allow.out).toMatch(/^fine {2}v1 {2}enabled {2}allow /);
    const json = (await cli('lists', '--db', db, '--json')).lines.map((l) => JSON.parse(l) as { action: string });
    expect(json.map((l) => l.action)).toEqual(['allow', 'block']);
    const snapshot = join(dir, 'allow.snap');
    expect((await cli('export', '--db', db, '--snapshot', snapshot)).status).toBe(0);
    const opened = await Matcher.open(snapshot);
    expect(opened.lists.map((l) => l.action)).toEqual(['allow', undefined]);
    expect(opened.matchHash({ algorithm: 'md5', hash: md5('a') })).toEqual([]);
    const image = join(dir, 'allowed.png');
    await writeFile(
      image,
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3a7' } })
        .png()
        .toBuffer(),
    );
    const bytes = createHash('md5').update(readFileSync(image)).digest('hex');
    await writeFile(list, `id,list,algorithm,hash\nx,shared,md5,${bytes}\nok,fine,md5,${bytes}\n`);
    await cli('import', list, '--db', db, '--list', 'shared', '--multi-list');
    const matched = await cli('match', image, '--db', db);
    expect([matched.status, matched.out]).toEqual([
      0,
      `no match  ${image}  (allowed by list=fine entry=ok md5: 1 lifted)\n`,
    ]);
    const block = await cli('list', 'set', 'fine', '--db', db, '--action', 'block');
    expect(block.out).toMatch(/^fine {2}v2 {2}enabled {2}block /);
  });

  it("refuses bad list changes with a usage error or the store's error", async () => {
    const db = join(dir, 'bad-set.db');
    const list = join(dir, 'one.txt');
    await writeFile(list, `md5 ${md5('a')}\n`);
    await cli('import', list, '--db', db, '--list', 'one');
    for (const [args, message] of [
      [['list', 'set', 'one', '--db', db], 'Nothing to change'],
      [['list', 'set', 'one', '--db', db, '--enable', '--disable'], 'not both'],
      [['list', 'show', 'one', '--db', db], 'Unknown action "show"'],
      [
        ['list', 'set', 'one', '--db', db, '--threshold', 'pdq=65'],
        'Expected integer between 0 and 64 for thresholds.pdq but received 65',
      ],
      [['list', 'set', 'nope', '--db', db, '--disable'], 'ERR_STORE'],
      [['list', 'set', 'one', '--db', db, '--action', 'pass'], 'Unknown --action "pass" (known: block, allow)'],
    ] as const) {
      const { status, err } = await cli(...args);
      expect([status, err]).toEqual([2, expect.stringContaining(message) as unknown as string]);
    }
  });
});

describe('hashwarden export --out', () => {
  it('writes the enabled lists as a list file that imports back to the same entries', async () => {
    const db = join(dir, 'out.db');
    const list = join(dir, 'out-source.csv');
    await writeFile(
      list,
      `id,list,algorithm,hash,label,source\na,one,md5,${'a'.repeat(32)},csam,vendor\nb,two,pdq,${'c'.repeat(64)},,\n`,
    );
    await cli('import', list, '--db', db, '--list', 'one', '--multi-list');
    const csv = join(dir, 'exported.csv');
    expect((await cli('export', '--db', db, '--out', csv)).out).toBe(`wrote ${csv} (2 entries of one, two, csv)\n`);
    const again = join(dir, 'again.db');
    await cli('import', csv, '--db', again, '--list', 'unused', '--multi-list');
    const read = (path: string) => {
      const store = HashStore.open(path, { readonly: true });
      try {
        return [...store.entries()];
      } finally {
        store.close();
      }
    };
    expect(read(again)).toEqual(read(db));
    await cli('list', 'set', 'two', '--db', db, '--disable');
    const text = join(dir, 'exported.list');
    expect((await cli('export', '--db', db, '--out', text, '--format', 'text')).status).toBe(0);
    expect(readFileSync(text, 'utf8')).toBe(`md5 ${'a'.repeat(32)}\n`);
  });

  it('asks for a format it cannot tell, and for exactly one of --snapshot and --out', async () => {
    const db = join(dir, 'out.db');
    for (const [args, message] of [
      [['export', '--db', db, '--out', join(dir, 'x.dat')], 'give --format'],
      [
        ['export', '--db', db, '--out', join(dir, 'x.csv'), '--snapshot', join(dir, 'x.snap')],
        'Expected one of --snapshot and --out',
      ],
      [['export', '--db', db], 'Expected one of --snapshot and --out'],
      [['export', '--db', db, '--out', join(dir, 'x.csv'), '--format', 'xml'], 'for --format but received "xml"'],
    ] as const) {
      const { status, err } = await cli(...args);
      expect([status, err]).toEqual([2, expect.stringContaining(message) as unknown as string]);
    }
  });
});
