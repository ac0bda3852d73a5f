/** `hashwarden entry disable|enable|list` and the quarantined count of `hashwarden lists`. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashStore } from '../store/index.js';
import { runCli } from './run.js';

let dir: string;
let db: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-entry-'));
  db = join(dir, 'hashes.db');
  const store = HashStore.open(db);
  store.importEntries(
    ['a', 'b'].map((c) => ({ list: 'vendor', id: c, algorithm: 'md5' as const, hash: c.repeat(32) })),
  );
  store.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCli(args, { out: (s) => out.push(s), err: (s) => err.push(s), isTTY: false });
  return { status, out: out.join(''), err: err.join('') };
}

describe('hashwarden entry', () => {
  it('disables, lists, counts and enables an entry', async () => {
    const disabled = await cli(
      'entry',
      'disable',
      'a',
      '--list',
      'vendor',
      '--reason',
      'flag image',
      '--until',
      '2099-01-31',
      '--db',
      db,
    );
    expect(disabled).toMatchObject({ status: 0, err: '' });
    expect(disabled.out).toMatch(
      /^disabled vendor {2}a {2}since \S+ {2}until 2099-01-31T00:00:00\.000Z {2}flag image\n$/,
    );
    const listed = await cli('entry', 'list', '--db', db, '--json');
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.out)).toMatchObject({
      list: 'vendor',
      id: 'a',
      reason: 'flag image',
      until: '2099-01-31T00:00:00.000Z',
    });
    const lists = await cli('lists', '--db', db);
    expect(lists.out).toContain('2 entries (md5 2)  1 quarantined');
    expect(JSON.parse((await cli('lists', '--db', db, '--json')).out)).toMatchObject({ quarantined: 1 });
    expect((await cli('entry', 'enable', 'a', '--list', 'vendor', '--db', db)).out).toBe('enabled vendor a\n');
    expect((await cli('entry', 'enable', 'a', '--list', 'vendor', '--db', db)).out).toBe(
      'vendor a was not quarantined (or had expired)\n',
    );
    expect((await cli('entry', 'list', '--list', 'vendor', '--db', db)).out).toBe('no entries quarantined\n');
    expect((await cli('lists', '--db', db)).out).not.toContain('quarantined');
  });

  it('notes an id the list does not hold yet, and quarantines it', async () => {
    const r = await cli('entry', 'disable', 'zz', '--list', 'vendor', '--reason', 'next delta', '--db', db);
    expect(r.status).toBe(0);
    expect(r.err).toBe('note: list vendor holds no entry zz yet: it is quarantined before it arrives\n');
    expect((await cli('entry', 'enable', 'zz', '--list', 'vendor', '--db', db)).status).toBe(0);
  });

  it('refuses bad arguments with exit status 2 and the code of the failure', async () => {
    const noReason = await cli('entry', 'disable', 'a', '--list', 'vendor', '--db', db);
    expect(noReason).toMatchObject({ status: 2 });
    expect(noReason.err).toContain('Missing --reason');
    /** `entry disable a` of vendor with reason r until `until`. */
    const until = (date: string) =>
      cli('entry', 'disable', 'a', '--list', 'vendor', '--reason', 'r', '--until', date, '--db', db);
    expect((await until('tomorrow')).err).toContain('is not an ISO 8601 date');
    const past = await until('2001-01-01');
    expect(past.status).toBe(2);
    expect(past.err).toContain('ERR_INVALID_ARGUMENT: Expected Date after');
    const noList = await cli('entry', 'disable', 'a', '--list', 'vendr', '--reason', 'r', '--db', db);
    expect(noList.status).toBe(2);
    expect(noList.err).toContain('ERR_STORE');
    expect((await cli('entry', 'drop', 'a', '--db', db)).err).toContain('Unknown action "drop"');
    expect((await cli('entry', 'enable', 'a', '--list', 'vendor', '--reason', 'r', '--db', db)).err).toContain(
      '--reason and --until are for disable',
    );
    expect((await cli('entry', 'list', '--db', db)).out).toBe('no entries quarantined\n');
  });
});
