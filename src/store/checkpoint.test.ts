/**
 * Checkpoints (schema version 3): written in the transaction of the rows they cover, so a failed
 * import keeps the previous one; version 2 stores are upgraded to hold them, or read without
 * them; a crafted checkpoint is refused. Crafted stores are written through driver.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { normalizeEntry } from '../lists/entry.js';
import { loadDriver } from './driver.js';
import { HashStore, MAX_CHECKPOINT_BYTES, STORE_SCHEMA_VERSION, type ImportRow } from './index.js';

let dir: string;
let open: HashStore[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-checkpoint-'));
  open = [];
});

afterEach(async () => {
  for (const store of open) store.close();
  await rm(dir, { recursive: true, force: true });
});

function store(name = 'hashes.db', options?: Parameters<typeof HashStore.open>[1]): HashStore {
  const opened = HashStore.open(join(dir, name), options);
  open.push(opened);
  return opened;
}

const add = (id: string, hex: string): ImportRow => ({
  op: 'add',
  entry: normalizeEntry({ list: 'feed', id, algorithm: 'md5', hash: hex.repeat(32) }),
});

describe('HashStore checkpoints', () => {
  it('stores a checkpoint with the rows it covers and replaces it with the next one', async () => {
    const s = store();
    expect(s.checkpoint('ncmec|feed')).toBeUndefined();
    await s.importRows([{ rows: [add('1', 'a')] }], { checkpoint: { key: 'ncmec|feed', value: '{"page":1}' } });
    expect(s.checkpoint('ncmec|feed')).toBe('{"page":1}');
    await s.importRows([{ rows: [add('2', 'b')] }], { checkpoint: { key: 'ncmec|feed', value: '{"page":2}' } });
    expect(s.checkpoint('ncmec|feed')).toBe('{"page":2}');
    expect(s.checkpoint('other|feed')).toBeUndefined();
    expect(s.count({ list: 'feed' })).toBe(2);
  });

  it('stores the checkpoint of a page without rows', async () => {
    const s = store();
    await s.importRows([{ rows: [] }], { checkpoint: { key: 'k', value: 'v' } });
    expect(s.checkpoint('k')).toBe('v');
    expect(s.lists()).toEqual([]);
  });

  it('keeps the previous checkpoint and rows when an import fails', async () => {
    const s = store();
    await s.importRows([{ rows: [add('1', 'a')] }], { checkpoint: { key: 'k', value: 'one' } });
    async function* failing(): AsyncGenerator<{ rows: readonly ImportRow[] }> {
      yield { rows: [add('2', 'b')] };
      throw new Error('the connection dropped');
    }
    await expect(s.importRows(failing(), { checkpoint: { key: 'k', value: 'two' } })).rejects.toThrow(
      'the connection dropped',
    );
    expect(s.checkpoint('k')).toBe('one');
    expect(s.count()).toBe(1);
  });

  it('refuses a checkpoint value over the limit as a RangeError, before writing', async () => {
    const s = store();
    await expect(
      s.importRows([{ rows: [add('1', 'a')] }], {
        checkpoint: { key: 'k', value: 'x'.repeat(MAX_CHECKPOINT_BYTES + 1) },
      }),
    ).rejects.toThrow(RangeError);
    await expect(s.importRows([], { checkpoint: { key: 42 as unknown as string, value: 'v' } })).rejects.toThrow(
      TypeError,
    );
    expect(s.count()).toBe(0);
  });

  it('refuses a crafted checkpoint longer than a sync writes with ERR_STORE', async () => {
    store('crafted.db').close();
    open.length = 0;
    const Database = loadDriver();
    const db = new Database(join(dir, 'crafted.db'));
    db.prepare("INSERT INTO checkpoints (key, value, at) VALUES ('k', ?, 'now')").run(
      'x'.repeat(MAX_CHECKPOINT_BYTES + 1),
    );
    db.prepare("INSERT INTO checkpoints (key, value, at) VALUES ('blob', ?, 'now')").run(Buffer.from('abc'));
    db.close();
    const s = store('crafted.db', { readonly: true });
    for (const key of ['k', 'blob']) {
      const error = (() => {
        try {
          s.checkpoint(key);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(HashwardenError);
      expect((error as HashwardenError).code).toBe('ERR_STORE');
    }
  });
});

describe('HashStore: schema version 2 stores', () => {
  // test-vectors/stores/v2.db: written by hashwarden's schema 2 store (lists demo: a md5 labelled
  // csam, b pdq with metadata, policy pdq 20 and label block; other: c sha1), copied before use.
  const copy = async (): Promise<string> => {
    const path = join(dir, 'v2.db');
    await writeFile(path, await readFile(new URL('../../test-vectors/stores/v2.db', import.meta.url)));
    return path;
  };

  it('reads a version 2 store opened read-only as it is, without checkpoints', async () => {
    const path = await copy();
    const s = HashStore.open(path, { readonly: true });
    open.push(s);
    expect(s.lists().map((l) => [l.name, l.total, l.thresholds, l.label])).toEqual([
      ['demo', 2, { pdq: 20 }, 'block'],
      ['other', 1, {}, undefined],
    ]);
    expect(s.checkpoint('k')).toBeUndefined();
    s.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(2);
  });

  it('upgrades a version 2 store opened for writing, keeping entries and policy, and then keeps checkpoints', async () => {
    const path = await copy();
    const s = HashStore.open(path);
    open.push(s);
    expect(s.count()).toBe(3);
    expect(s.lists()[0]?.thresholds).toEqual({ pdq: 20 });
    await s.importRows([{ rows: [add('d', 'e')] }], { checkpoint: { key: 'k', value: 'v' } });
    expect(s.checkpoint('k')).toBe('v');
    s.close();
    expect((await readFile(path)).readUInt32BE(60)).toBe(STORE_SCHEMA_VERSION);
  });
});

describe('HashStore.importFile checkpoints', () => {
  it('writes the checkpoint of a file import in its transaction', async () => {
    const s = store();
    const file = join(dir, 'delta.csv');
    await writeFile(file, `id,algorithm,hash\n1,md5,${'a'.repeat(32)}\n`);
    await s.importFile(file, { list: 'feed', checkpoint: { key: 'file|feed', value: 'after-delta-1' } });
    expect(s.checkpoint('file|feed')).toBe('after-delta-1');
    expect(s.count({ list: 'feed' })).toBe(1);
  });
});
