/**
 * `hashwarden import` against a list file that names other lists (issue 18): without --multi-list
 * the import touches its --list alone, and a delta that would empty a list needs --allow-empty.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';

const md5 = (c: string): string => c.repeat(32);

let dir: string;
let db: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-cli-import-'));
  db = join(dir, 'hashes.db');
  const l1 = join(dir, 'l1.csv');
  await writeFile(l1, `id,algorithm,hash\nx,md5,${md5('1')}\ny,md5,${md5('2')}\n`);
  expect((await cli('import', l1, '--db', db, '--list', 'L1')).status).toBe(0);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The entries of each list in the store, by id. */
function contents(): Record<string, string[]> {
  const store = HashStore.open(db, { readonly: true });
  try {
    const out: Record<string, string[]> = {};
    for (const e of store.entries()) (out[e.list] ??= []).push(e.id);
    return out;
  } finally {
    store.close();
  }
}

describe('hashwarden import: one list unless --multi-list', () => {
  // The finding: vendorA's file emptied L1 (another provider's list) and created L2, exit 0.
  const vendorA = `op,id,list,algorithm,hash\nremove,x,L1,,\nremove,y,L1,,\nadd,n,L2,md5,${md5('4')}\nadd,v1,,md5,${md5('5')}\n`;

  it('refuses a file whose rows name another list, exit 2, every list as it was', async () => {
    const file = join(dir, 'vendorA.csv');
    await writeFile(file, vendorA);
    const { status, err } = await cli('import', file, '--db', db, '--list', 'vendorA');
    expect(status).toBe(2);
    expect(err).toContain('ERR_LIST_FORMAT');
    expect(err).toContain(`${file}:2: a row of list "L1" in an import of list "vendorA"`);
    expect(err).toContain('--multi-list');
    expect(contents()).toEqual({ L1: ['x', 'y'] });
  });

  it('skips and reports the rows of other lists with --skip-bad-rows', async () => {
    const file = join(dir, 'vendorA.csv');
    await writeFile(file, vendorA);
    const { status, out, err } = await cli('import', file, '--db', db, '--list', 'vendorA', '--skip-bad-rows');
    expect(status).toBe(0);
    expect(err.match(/^skipped .*in an import of list "vendorA"/gm)).toHaveLength(3);
    expect(out).toContain('into list vendorA: 1 added');
    expect(contents()).toEqual({ L1: ['x', 'y'], vendorA: ['v1'] });
  });

  it('applies every list the rows name with --multi-list, emptying one only with --allow-empty', async () => {
    const file = join(dir, 'vendorA.csv');
    await writeFile(file, vendorA);
    const refused = await cli('import', file, '--db', db, '--list', 'vendorA', '--multi-list');
    expect([refused.status, refused.err]).toEqual([
      2,
      expect.stringContaining('removal rows would empty list "L1" (2 entries)') as unknown as string,
    ]);
    expect(contents()).toEqual({ L1: ['x', 'y'] });
    const { status, out } = await cli('import', file, '--db', db, '--list', 'vendorA', '--multi-list', '--allow-empty');
    expect(status).toBe(0);
    expect(out).toContain('into list L1: 0 added, 0 updated, 0 unchanged, 2 removed');
    expect(contents()).toEqual({ L2: ['n'], vendorA: ['v1'] });
  });
});

describe('hashwarden import: a delta emptying its list needs --allow-empty', () => {
  it('refuses a delta removing every entry of the list, exit 2, and applies it with --allow-empty', async () => {
    const delta = join(dir, 'delta.csv');
    await writeFile(delta, 'op,id,algorithm,hash\nremove,x,,\nremove,y,,\n');
    const refused = await cli('import', delta, '--db', db, '--list', 'L1');
    expect(refused.status).toBe(2);
    expect(refused.err).toContain('ERR_LIST_FORMAT');
    expect(refused.err).toContain('--allow-empty');
    expect(contents()).toEqual({ L1: ['x', 'y'] });
    const allowed = await cli('import', delta, '--db', db, '--list', 'L1', '--allow-empty');
    expect(allowed.status).toBe(0);
    expect(allowed.out).toContain('2 removed (version 2)');
    expect(contents()).toEqual({});
  });
});

describe('hashwarden import: PDQ quality', () => {
  it('imports PDQ hashes of quality below 50 as sent, and warns how many', async () => {
    const file = join(dir, 'hashes.pdq');
    const hex = (c: string): string => c.repeat(64);
    await writeFile(file, `${hex('a')},100,good.jpg\n${hex('b')},49,flat.jpg\n${hex('c')},12,blank.png\n`);
    const { status, err } = await cli('import', file, '--db', db, '--list', 'pdq-list', '--format', 'pdq');
    expect(status).toBe(0);
    expect(err).toMatch(/warning: 2 PDQ entries have a quality below 50/);
    expect(contents()['pdq-list']).toHaveLength(3);
    const quiet = join(dir, 'good.pdq');
    await writeFile(quiet, `${hex('d')},50,ok.jpg\n`);
    expect((await cli('import', quiet, '--db', db, '--list', 'pdq-list', '--format', 'pdq')).err).not.toMatch(
      /warning/,
    );
  });
});
