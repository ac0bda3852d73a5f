import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashStore } from '../lists/sqlite.js';
import { COMMANDS, runCli } from './run.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const vectors = join(root, 'test-vectors');
const manifest = JSON.parse(readFileSync(join(vectors, 'manifest.json'), 'utf8')) as { images: { file: string; kind: string; blockhash: string; md5: string; sha256: string }[] };
const image = (file: string) => join(vectors, 'images', file);

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const status = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), isTTY: false });
  return { status, out, err, lines: out.trim().split('\n').filter(Boolean) };
}

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
      files.map((f) => ({ file: image(f.file), blockhash: f.blockhash, md5: f.md5, sha1: expect.stringMatching(/^[0-9a-f]{40}$/), sha256: f.sha256 })),
    );
    expect(Object.keys(JSON.parse(lines[0]!))).toEqual(['file', 'blockhash', 'md5', 'sha1', 'sha256']);
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
    expect(Object.keys(parsed[0])).toEqual(['file', 'blockhash', 'md5']);
    expect(parsed[1]).toEqual({ file: corrupt, error: { code: 'ERR_IMAGE_DECODE', message: expect.any(String) } });
    expect(parsed[2]).toEqual({ file: svg, error: { code: 'ERR_UNSUPPORTED_FORMAT', message: expect.any(String) } });
    expect(parsed[3]).toEqual(parsed[0]);
  });

  it('rejects an unknown algorithm as a usage error', async () => {
    const { status, err, out } = await cli('hash', '--algorithms', 'photodna', image('gradient-64x64.png'));
    expect(status).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/Expected one of blockhash, md5, sha1, sha256 for algorithms/);
  });
});

describe('hashwarden import and match', () => {
  it('imports a CSV list, then match exits 1 on a listed image, 0 on an unrelated one, 2 on an error', async () => {
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
    expect(result).toMatchObject({ matched: true, matches: [{ list: 'demo', entryId: 'b1', algorithm: 'blockhash', label: 'test-label' }] });
    expect(result.hashes.blockhash).toMatch(/^[0-9a-f]{64}$/);

    const miss = await cli('match', image('mosaic-400x300.jpg'), '--db', db);
    expect(miss.status).toBe(0);
    expect(miss.out).toMatch(/^no match/);

    const stricter = await cli('match', image('blobs-640x480--resize50.jpg'), '--db', db, '--threshold', 'blockhash=0');
    expect(stricter.status).toBe(0);

    const broken = await cli('match', image('blobs-640x480.jpg'), join(dir, 'missing.png'), '--db', db, '--json');
    expect(broken.status).toBe(2);
    expect(JSON.parse(broken.lines[1]!)).toMatchObject({ error: { code: 'ERR_INPUT_READ' } });
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
    const { status, err, out } = await cli('import', text, '--db', db, '--list', 'x', '--format', 'text', '--algorithm', 'md5', '--skip-bad-rows');
    expect(status).toBe(0);
    expect(err).toContain(`${text}:2:`);
    expect(out).toContain('1 bad rows skipped');
    const store = HashStore.open(db, { readonly: true });
    expect(store.count()).toBe(2);
    store.close();
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

  it('runs the demo: listed images match, unrelated images do not', async () => {
    const { status, out } = await cli('demo');
    expect(out).toContain('OK: every listed image matched and no unrelated image did.');
    expect(status).toBe(0);
  });

  it('works as the installed executable, with the exit status of the command', () => {
    const bin = join(root, 'dist', 'cli', 'main.js');
    if (!existsSync(bin)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
    const run = spawnSync(process.execPath, [bin, 'hash', '--algorithms', 'sha256', image('pixel-1x1.png')], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ file: image('pixel-1x1.png'), sha256: manifest.images.find((i) => i.file === 'pixel-1x1.png')!.sha256 });
  });
});

