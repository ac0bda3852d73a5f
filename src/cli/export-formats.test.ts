/**
 * `export --out --format pytx|hex|pdq-tools` (issue 21): files other tools read, each parsed here
 * the way that tool parses it, as its source does: python-threatexchange's file collaboration
 * (`exchanges/impl/file_api.py`: each line stripped and split at its first space, the types it
 * knows by `SignalType.get_name()`), pytx `match --hashes` (`cli/match_cmd.py`: one hash a line,
 * checked by the signal type's `validate_signal_str`), and the PDQ C++ tools (`pdq/cpp/io/hashio.cpp`:
 * `getline`, the `\n` chomped, the hash before the first comma, optionally `hash=`, exactly 64
 * hex digits, the rest metadata). Hashes a format cannot hold are left out and counted on stderr.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../testing/cli.js';
import { seedStore, storeEntries } from '../testing/store-files.js';

// PDQ hashes from python-threatexchange's PdqSignal.get_examples() (pdq/data/bridge-mods), an MD5
// and SHA-256 of empty input: no hash of any abuse material.
const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
const PDQ_2 = 'd8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22';
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const BLOCKHASH = 'f'.repeat(64);

/** pytx's default signal types (cli/main.py `_DEFAULT_SIGNAL_TYPES`) that hold hashes, with their checks. */
const PYTX_TYPES: Readonly<Record<string, RegExp>> = { pdq: /^[0-9a-f]{64}$/, video_md5: /^[0-9a-f]{32}$/ };

/** What pytx's file collaboration keeps of a file: `(type, signal)` pairs of the types it knows. */
function readAsPytxFileCollab(text: string): { pairs: Set<string>; unknown: string[] } {
  const pairs = new Set<string>();
  const unknown: string[] = [];
  for (const line of text.split(/(?<=\n)/)) {
    const stripped = line.trim();
    const space = stripped.indexOf(' ');
    const [type, signal] = space < 0 ? [stripped, ''] : [stripped.slice(0, space), stripped.slice(space + 1)];
    if (type === '' || signal === '') continue;
    const check = PYTX_TYPES[type];
    if (check === undefined || !check.test(signal)) unknown.push(line);
    else pairs.add(`${type} ${signal}`);
  }
  return { pairs, unknown };
}

/** pytx `match --hashes` for one signal type: each non-blank stripped line must validate, or the command fails. */
function readAsPytxMatchHashes(text: string, check: RegExp): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((hash) => {
      if (!check.test(hash)) throw new Error(`${hash} is not a valid hash`);
      return hash;
    });
}

/** The PDQ C++ tools' `loadHashesAndMetadataFromStream`: `[hash, metadata]` a line, or a failure where they exit. */
function readAsPdqTools(text: string): [string, string][] {
  const lines = text.split(/(?<=\n)/).filter((l) => l !== '');
  return lines.map((raw, i) => {
    const line = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
    const cut = line.indexOf(',');
    const hash = (cut < 0 ? line : line.slice(0, cut)).replace(/^hash=/, '');
    if (hash.length !== 64 || !/^[0-9a-fA-F]{64}$/.test(hash)) throw new Error(`Scan "${hash}" failed.`);
    return [hash, cut < 0 ? `idx=${i + 1}` : line.slice(cut + 1)];
  });
}

let dir: string;
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-export-formats-'));
  db = join(dir, 'store.db');
  seedStore(db, [
    { id: 'a,1%\nb', list: 'ncmec', algorithm: 'pdq', hash: PDQ, metadata: { quality: 87 } },
    { id: 'x', list: 'ncmec', algorithm: 'pdq', hash: PDQ_2, metadata: { quality: '40' } },
    { list: 'ncmec', algorithm: 'md5', hash: MD5 },
    { id: 'shared', list: 'removed', algorithm: 'pdq', hash: PDQ, metadata: { quality: 'high' } },
    { list: 'removed', algorithm: 'sha256', hash: SHA256 },
    { list: 'removed', algorithm: 'blockhash', hash: BLOCKHASH },
    { list: 'sha-only', algorithm: 'sha256', hash: SHA256 },
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = storeEntries;

describe('export --format pytx', () => {
  it('writes every PDQ and MD5 hash once as pytx names them, and counts on stderr what pytx cannot read', async () => {
    const out = join(dir, 'pytx.txt');
    const { status, err } = await cli(
      'export',
      '--db',
      db,
      '--out',
      out,
      '--format',
      'pytx',
      '--list',
      'ncmec',
      '--list',
      'removed',
    );
    expect(status).toBe(0);
    const text = readFileSync(out, 'utf8');
    const { pairs, unknown } = readAsPytxFileCollab(text);
    expect(unknown).toEqual([]);
    expect([...pairs].sort()).toEqual([`pdq ${PDQ}`, `pdq ${PDQ_2}`, `video_md5 ${MD5}`].sort());
    expect(text.split('\n').filter(Boolean)).toHaveLength(3);
    expect(err).toContain('left out 2 entries (blockhash 1, sha256 1): python-threatexchange has no signal type');
    expect(err).toContain('video_md5');
  });

  it('refuses a file pytx would read as empty, and an algorithm pytx has no type for', async () => {
    const out = join(dir, 'none.txt');
    const empty = await cli('export', '--db', db, '--out', out, '--format', 'pytx', '--list', 'sha-only');
    expect([empty.status, empty.err]).toEqual([2, expect.stringContaining('nothing to export')]);
    const wrong = await cli('export', '--db', db, '--out', out, '--format', 'pytx', '--algorithm', 'sha256');
    expect([wrong.status, wrong.err]).toEqual([2, expect.stringContaining('holds pdq, md5 and vpdq hashes')]);
  });
});

describe('export --format hex', () => {
  it('asks for --algorithm when the lists hold several, and writes that one algorithm once per hash', async () => {
    const out = join(dir, 'pdq.hex');
    const ask = await cli('export', '--db', db, '--out', out, '--format', 'hex');
    expect([ask.status, ask.err]).toEqual([2, expect.stringContaining('give --algorithm')]);
    expect((await cli('export', '--db', db, '--out', out, '--format', 'hex', '--algorithm', 'pdq')).status).toBe(0);
    expect(readAsPytxMatchHashes(readFileSync(out, 'utf8'), PYTX_TYPES.pdq as RegExp)).toEqual([PDQ_2, PDQ]);
    // And back: `import --format text --algorithm pdq` reads it into one list.
    const again = join(dir, 'hex.db');
    const imported = await cli('import', out, '--db', again, '--list', 'pdq', '--format', 'text', '--algorithm', 'pdq');
    expect([imported.status, imported.err]).toEqual([0, '']);
    expect(read(again).map((e) => e.hash)).toEqual([PDQ_2, PDQ]);
  });

  it('takes the one algorithm of lists that hold one without --algorithm', async () => {
    const out = join(dir, 'sha.hex');
    expect((await cli('export', '--db', db, '--out', out, '--format', 'hex', '--list', 'sha-only')).status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(`${SHA256}\n`);
  });
});

describe('export --format pdq-tools', () => {
  it('writes hash,quality,id lines the PDQ C++ tools read, one per PDQ entry, and counts what it left out', async () => {
    const out = join(dir, 'pdq.hsh');
    const { status, err } = await cli('export', '--db', db, '--out', out, '--format', 'pdq-tools');
    expect(status).toBe(0);
    const read = readAsPdqTools(readFileSync(out, 'utf8'));
    expect(read).toEqual([
      [PDQ, '87,a%2C1%25%0Ab'],
      [PDQ_2, '40,x'],
      [PDQ, ',shared'],
    ]);
    // The id comes back whole from the metadata.
    expect(decodeURIComponent((read[0] as [string, string])[1].split(',')[1] as string)).toBe('a,1%\nb');
    expect(err).toContain('left out 4 entries (blockhash 1, md5 1, sha256 2): the PDQ tools read PDQ hashes only');
  });
});

describe('export --algorithm', () => {
  it('filters any --out format to one algorithm, and is refused with --snapshot or when it names none', async () => {
    const out = join(dir, 'md5.ndjson');
    expect((await cli('export', '--db', db, '--out', out, '--algorithm', 'md5')).status).toBe(0);
    expect(
      readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).hash),
    ).toEqual([MD5]);
    for (const [args, message] of [
      [['--snapshot', join(dir, 'x.snap'), '--algorithm', 'md5'], '--algorithm are for --out'],
      [['--out', out, '--algorithm', 'MD6'], 'for --algorithm but received "MD6"'],
      [['--out', out, '--algorithm', 'sha1'], 'nothing to export: the lists hold no sha1 entries'],
    ] as const) {
      const { status, err } = await cli('export', '--db', db, ...args);
      expect([status, err]).toEqual([2, expect.stringContaining(message)]);
    }
    // With --allow-empty, an algorithm the lists do not hold gives an empty file, not the others.
    const none = await cli(
      'export',
      '--db',
      db,
      '--out',
      out,
      '--algorithm',
      'sha1',
      '--allow-empty',
      '--list',
      'sha-only',
    );
    expect(none.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('');
  });
});
