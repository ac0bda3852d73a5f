/**
 * `hashwarden match --log DIR` appends each file's decision to a decision log, and
 * `hashwarden log verify` proves its chain (exit 0), names the first bad record (exit 1), or
 * refuses a usage error (exit 2).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashImage } from '../image/index.js';
import { cli } from '../testing/cli.js';

const vector = (file: string) => fileURLToPath(new URL(`../../test-vectors/images/${file}`, import.meta.url));
const listed = vector('mosaic-400x300.jpg');
const other = vector('shapes-1024x768--bright15.jpg');

let dir: string;
let db: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-cli-log-'));
  const { hashes } = await hashImage(listed, { algorithms: ['pdq', 'md5'] });
  const list = join(dir, 'list.txt');
  await writeFile(list, `pdq ${hashes.pdq}\nmd5 ${hashes.md5}\n`);
  db = join(dir, 'lists.db');
  expect((await cli('import', list, '--db', db, '--list', 'l')).status).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashwarden match --log', () => {
  it('logs each file with its path as content id, failures as not checked, and the log verifies', async () => {
    const logDir = join(dir, 'log-match');
    const bad = join(dir, 'bad.jpg');
    await writeFile(bad, 'not an image');
    const run = await cli('match', listed, other, bad, '--db', db, '--log', logDir);
    expect(run.status).toBe(1);
    const files = readdirSync(logDir);
    expect(files).toEqual(['decisions-0000000000000001.ndjson']);
    const records = readFileSync(join(logDir, files[0] as string), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byId = new Map(records.map((r) => [r.contentId, r]));
    expect(byId.get(listed)).toMatchObject({
      kind: 'decision',
      matched: true,
      matches: [{ list: 'l', listVersion: 1 }, {}],
    });
    expect(byId.get(other)).toMatchObject({ kind: 'decision', matched: false, checked: true });
    expect(byId.get(bad)).toMatchObject({ kind: 'not-checked', error: { code: 'ERR_UNSUPPORTED_FORMAT' } });

    const again = await cli('match', other, '--db', db, '--log', logDir);
    expect(again.status).toBe(0);
    const verify = await cli('log', 'verify', logDir);
    expect(verify.status).toBe(0);
    expect(verify.out).toMatch(/^ok {8}4 records \(1-4\) in 1 files, head [0-9a-f]{64}\n$/);
  });
});

describe('hashwarden log verify', () => {
  it('names the first bad record as FILE:LINE and exits 1', async () => {
    const logDir = join(dir, 'log-broken');
    expect((await cli('match', listed, other, listed, '--db', db, '--log', logDir)).status).toBe(1);
    const file = join(logDir, 'decisions-0000000000000001.ndjson');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(file, `${[lines[0], lines[2], lines[1]].join('\n')}\n`);
    const run = await cli('log', 'verify', file);
    expect(run.status).toBe(1);
    expect(run.out).toBe(
      `BROKEN    ${file}:2: record 3 follows record 1: records removed, reordered or inserted (1 records whole before it)\n`,
    );
    const json = await cli('log', 'verify', file, '--json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, line: 2, records: 1 });
  });

  it('exits 1 when the last record is not the head given', async () => {
    const logDir = join(dir, 'log-head');
    await cli('match', other, '--db', db, '--log', logDir);
    const run = await cli('log', 'verify', logDir, '--head', 'a'.repeat(64));
    expect(run.status).toBe(1);
    expect(run.out).toMatch(/not the expected head/);
  });

  it('exits 2 for a usage error and for a file it cannot read', async () => {
    expect((await cli('log', 'verify')).status).toBe(2);
    expect((await cli('log', 'check', 'x')).err).toMatch(/Unknown subcommand "check"/);
    expect((await cli('log', 'verify', dir, '--head', 'xyz')).status).toBe(2);
    const missing = await cli('log', 'verify', join(dir, 'missing.ndjson'));
    expect(missing.status).toBe(2);
    expect(missing.err).toMatch(/ERR_DECISION_LOG/);
  });
});
