/**
 * The CLI's fail-open corners (issue 17): nothing to match against, nothing exported, nothing
 * imported, a mistyped option, file modes, and `hash` output turned into a list.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearestOption } from './command.js';
import { COMMANDS } from './run.js';
import { cli } from '../testing/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const images = join(root, 'test-vectors', 'images');
const listed = join(images, 'blobs-640x480.jpg');
const other = join(images, 'mosaic-400x300.jpg');

let dir: string;
/** A store with list `a` holding the blockhash and MD5 of `listed`. */
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-failopen-'));
  db = join(dir, 'store.db');
  const list = join(dir, 'a.ndjson');
  const hashed = await cli('hash', '--as-list', '--list', 'a', '--algorithms', 'blockhash,md5', listed);
  expect(hashed.status).toBe(0);
  await writeFile(list, hashed.out);
  expect((await cli('import', list, '--db', db, '--list', 'a')).status).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('nothing to match against', () => {
  it('match exits 2 saying the lists are empty when every list of the store is disabled', async () => {
    const disabled = join(dir, 'disabled.db');
    const list = join(dir, 'b.ndjson');
    await writeFile(list, (await cli('hash', '--as-list', '--list', 'b', '--algorithms', 'md5', listed)).out);
    expect((await cli('import', list, '--db', disabled, '--list', 'b')).status).toBe(0);
    expect((await cli('list', 'set', 'b', '--db', disabled, '--disable')).status).toBe(0);
    const { status, out, err } = await cli('match', listed, '--db', disabled);
    expect(status).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/lists are empty/);
  });

  it('export refuses to write an empty snapshot or list file unless --allow-empty, and match refuses the empty snapshot', async () => {
    const snapshot = join(dir, 'empty.snap');
    const empty = join(dir, 'empty.db');
    await writeFile(join(dir, 'empty.txt'), '');
    expect(
      (
        await cli(
          'import',
          join(dir, 'empty.txt'),
          '--db',
          empty,
          '--list',
          'e',
          '--format',
          'text',
          '--algorithm',
          'md5',
          '--allow-empty',
        )
      ).status,
    ).toBe(0);

    const noSnapshot = await cli('export', '--db', empty, '--snapshot', snapshot);
    expect(noSnapshot.status).toBe(2);
    expect(noSnapshot.err).toMatch(/nothing to export.*--allow-empty/);
    expect(existsSync(snapshot)).toBe(false);
    const noFile = await cli('export', '--db', empty, '--out', join(dir, 'empty.csv'));
    expect(noFile.status).toBe(2);
    expect(existsSync(join(dir, 'empty.csv'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    expect((await cli('export', '--db', empty, '--snapshot', snapshot, '--allow-empty')).status).toBe(0);
    const matched = await cli('match', listed, '--snapshot', snapshot);
    expect(matched.status).toBe(2);
    expect(matched.err).toMatch(/lists are empty/);
    const store = await cli('match', listed, '--db', empty);
    expect(store.status).toBe(2);
    expect(store.err).toMatch(/lists are empty/);
  });
});

describe('what counts as checked', () => {
  it('counts an upload whose upright blockhash is refused as checked when its turned hashes were searched', async () => {
    const blockhashOnly = join(dir, 'blockhash-only.db');
    const list = join(dir, 'blockhash.txt');
    await writeFile(list, `blockhash ${'ab'.repeat(32)}\n`);
    expect((await cli('import', list, '--db', blockhashOnly, '--list', 'b')).status).toBe(0);
    // alpha-shapes' upright blockhash is a plain layout (refused alone); its turns and flips are not.
    const upload = join(images, 'alpha-shapes-160x160.webp');
    const { status, out } = await cli('match', upload, '--db', blockhashOnly);
    expect(out).toMatch(/^no match  /);
    expect(status).toBe(0);
  });
});

describe('import that imports nothing', () => {
  it('fails when --skip-bad-rows skipped every row', async () => {
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'id,algorithm,hash\nx1,md5,not-hex\nx2,md5,zz\n');
    const { status, err } = await cli('import', bad, '--db', join(dir, 'bad.db'), '--list', 'x', '--skip-bad-rows');
    expect(status).toBe(2);
    expect(err).toMatch(/every row .* was bad \(2 of 2\)/);
  });

  it('says a replace allowed to empty its list did so when every row was bad', async () => {
    const store = join(dir, 'replaced.db');
    const good = join(dir, 'good.txt');
    await writeFile(good, `md5 ${'ab'.repeat(16)}\n`);
    expect((await cli('import', good, '--db', store, '--list', 'r')).status).toBe(0);
    const bad = join(dir, 'all-bad.txt');
    await writeFile(bad, 'md5 zz\nmd5 yy\n');
    const flags = ['--db', store, '--list', 'r', '--replace', '--allow-empty', '--skip-bad-rows'];
    const { status, err } = await cli('import', bad, ...flags);
    expect(status).toBe(2);
    expect(err).toMatch(/every row .* was bad \(2 of 2\): list r replaced by nothing \(--allow-empty\), version 2/);
  });

  it('fails on a file with no rows unless --allow-empty', async () => {
    const empty = join(dir, 'header-only.csv');
    await writeFile(empty, 'id,algorithm,hash\n');
    const refused = await cli('import', empty, '--db', join(dir, 'h.db'), '--list', 'h');
    expect(refused.status).toBe(2);
    expect(refused.err).toMatch(/holds no rows.*--allow-empty/);
    expect(refused.out).toBe('');
    expect(existsSync(join(dir, 'h.db'))).toBe(false);
    expect((await cli('import', empty, '--db', join(dir, 'h.db'), '--list', 'h', '--allow-empty')).status).toBe(0);
  });
});

describe('unknown options', () => {
  it('names the nearest known option of every command when the given one is a typo', async () => {
    const { status, err } = await cli('match', listed, '--db', db, '--thresold', 'blockhash=4');
    expect(status).toBe(2);
    expect(err).toContain('Unknown option --thresold. Did you mean --threshold?');
    for (const command of COMMANDS) {
      const option = Object.keys(command.options).sort((a, b) => b.length - a.length)[0] ?? 'help';
      const typo = `${option.slice(0, -2)}${option.at(-1)}`;
      const result = await cli(command.name, `--${typo}`);
      expect(result.status, command.name).toBe(2);
      expect(result.err, command.name).toContain(`Unknown option --${typo}. Did you mean --${option}?`);
    }
  });

  it('suggests nothing when no known option is close', async () => {
    const { status, err } = await cli('export', '--frobnicate');
    expect(status).toBe(2);
    expect(err).toContain('Unknown option --frobnicate.');
    expect(err).not.toContain('Did you mean');
    expect(nearestOption('db', ['out', 'list'])).toBeUndefined();
  });
});

describe('file modes', () => {
  it('writes the snapshot and the list file with --mode, owner-only by default', async () => {
    const snapshot = join(dir, 'shared.snap');
    expect((await cli('export', '--db', db, '--snapshot', snapshot, '--mode', '640')).status).toBe(0);
    expect(statSync(snapshot).mode & 0o777).toBe(0o640);
    const out = join(dir, 'shared.csv');
    expect((await cli('export', '--db', db, '--out', out, '--mode', '0644')).status).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o644);
    const owner = join(dir, 'owner.snap');
    expect((await cli('export', '--db', db, '--snapshot', owner)).status).toBe(0);
    expect(statSync(owner).mode & 0o777).toBe(0o600);
  });

  it('sets the mode whatever the umask of the exporting process', () => {
    // A worker thread cannot change the umask: the built executable runs under a strict one.
    const bin = join(root, 'dist', 'cli', 'main.js');
    if (!existsSync(bin)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
    const snapshot = join(dir, 'umask.snap');
    const out = join(dir, 'umask.ndjson');
    for (const target of [
      ['--snapshot', snapshot],
      ['--out', out],
    ]) {
      const run = spawnSync(
        'sh',
        ['-c', 'umask 077 && exec "$0" "$@"', process.execPath, bin, 'export', '--db', db, ...target, '--mode', '640'],
        { encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
    }
    expect(statSync(snapshot).mode & 0o777).toBe(0o640);
    expect(statSync(out).mode & 0o777).toBe(0o640);
  });

  it('refuses a mode that is not octal, locks the owner out, or lets others write', async () => {
    for (const mode of ['666', '400', 'rw-r-----', '1640', '9']) {
      const { status, err } = await cli('export', '--db', db, '--snapshot', join(dir, 'm.snap'), '--mode', mode);
      expect(status, mode).toBe(2);
      expect(err, mode).toContain('for --mode');
    }
    expect(existsSync(join(dir, 'm.snap'))).toBe(false);
  });
});

describe('hash --as-list', () => {
  it('turns hash output into a list that import reads and match finds', async () => {
    const files = [listed, other];
    const listing = await cli('hash', '--as-list', '--list', 'mine', '--algorithms', 'blockhash,md5', ...files);
    expect(listing.status).toBe(0);
    const rows = listing.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows.map((r) => r.id)).toEqual([
      `${listed}:blockhash`,
      `${listed}:md5`,
      `${other}:blockhash`,
      `${other}:md5`,
    ]);
    const file = join(dir, 'mine.ndjson');
    await writeFile(file, listing.out);
    const store = join(dir, 'mine.db');
    const imported = await cli('import', file, '--db', store, '--list', 'mine');
    expect(imported.status).toBe(0);
    expect(imported.out).toContain('4 added');
    for (const image of files) {
      const { status, out } = await cli('match', image, '--db', store);
      expect(status).toBe(1);
      expect(out).toContain(`entry=${image}:md5`);
      expect(out).toContain(`entry=${image}:blockhash`);
    }
  });

  it('leaves out unusable hashes and failed files, counting them on standard error', async () => {
    const flat = join(dir, 'flat.png');
    const { default: sharp } = await import('sharp');
    await writeFile(
      flat,
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
        .png()
        .toBuffer(),
    );
    const { status, out, err } = await cli(
      'hash',
      '--as-list',
      '--list',
      'mine',
      '--algorithms',
      'pdq,md5',
      flat,
      join(dir, 'missing.png'),
    );
    expect(status).toBe(2);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { algorithm: string }).algorithm),
    ).toEqual(['md5']);
    expect(err).toMatch(/1 unusable hashes left out/);
    expect(err).toMatch(/ERR_INPUT_READ/);
    expect(err).toMatch(/1 files could not be hashed/);
  });

  it('imports plain hash output as --as-list would (one entry per hash), and tells an all-failed one to use --as-list', async () => {
    const hashed = join(dir, 'hashed.ndjson');
    await writeFile(hashed, (await cli('hash', '--algorithms', 'md5', listed)).out);
    const imported = await cli('import', hashed, '--db', join(dir, 'from-hash-output.db'), '--list', 'mine');
    expect(imported.status).toBe(0);
    expect(imported.out).toMatch(/1 added/);
    const failed = join(dir, 'failed.ndjson');
    await writeFile(failed, `${JSON.stringify({ file: 'gone.jpg', error: { code: 'ERR_INPUT_READ' } })}\n`);
    const store = join(dir, 'from-failed-output.db');
    const { status, err } = await cli('import', failed, '--db', store, '--list', 'mine');
    expect(status).toBe(2);
    expect(err).toContain('hashwarden hash --as-list --list mine');
    expect(existsSync(store)).toBe(false);
  });

  it('needs --list, and --list needs --as-list', async () => {
    expect((await cli('hash', '--as-list', listed)).status).toBe(2);
    expect((await cli('hash', '--list', 'x', listed)).status).toBe(2);
  });
});
