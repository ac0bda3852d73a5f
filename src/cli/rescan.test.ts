/**
 * `hashwarden rescan` end to end: after a real `hashwarden import`, an upload recorded before it
 * is found by the entry the import added (its rot90 hash); and a rescan killed mid-way (SIGKILL,
 * in a child process) resumes from its last acknowledged batch with no event lost, the batch it
 * was in repeated with the same ids.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashImage } from '../image/hash.js';
import { Matcher } from '../matcher/matcher.js';
import { SeenStore, type RescanEvent } from '../seen/index.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import { killWhenPaused, pausingRescan } from '../testing/rescan-kill.js';
import { resultOf } from '../testing/seen.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMAGE = join(ROOT, 'test-vectors/images/landscape-1600x1200.jpg');

let dir: string;
let db: string;
let seenPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-rescan-cli-'));
  db = join(dir, 'hashes.db');
  seenPath = join(dir, 'seen.db');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('hashwarden rescan', () => {
  it('finds an upload recorded before an import by the entry the import added, once', async () => {
    const image = readFileSync(IMAGE);
    const hashed = await hashImage(image, { algorithms: ['pdq'], dihedral: true });
    const rot90 = hashed.dihedral?.pdq?.[1] as string;
    const unrelated = 'f'.repeat(64);
    await writeFile(join(dir, 'v1.csv'), `id,algorithm,hash\nfirst,pdq,${unrelated}\n`);
    expect((await cli('import', join(dir, 'v1.csv'), '--db', db, '--list', 'ncmec', '--quiet')).status).toBe(0);
    const matcher = await Matcher.open(db);
    const result = await matcher.matchImage(image);
    expect(result.matched).toBe(false);
    const seen = SeenStore.open(seenPath);
    seen.record('upload-1', result);
    seen.close();
    // The first rescan takes version 1 as new, but the upload was checked against it: nothing.
    expect(await cli('rescan', '--db', db, '--seen', seenPath)).toMatchObject({ status: 0, out: '' });
    await writeFile(join(dir, 'v2.csv'), `id,algorithm,hash\nfirst,pdq,${unrelated}\nturned,pdq,${rot90}\n`);
    expect((await cli('import', join(dir, 'v2.csv'), '--db', db, '--list', 'ncmec', '--quiet')).status).toBe(0);
    const run = await cli('rescan', '--db', db, '--seen', seenPath, '--json');
    expect(run.status, run.err).toBe(1);
    expect(run.lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        contentId: 'upload-1',
        list: 'ncmec',
        entryId: 'turned',
        listVersion: 2,
        algorithm: 'pdq',
        distance: 0,
        transform: 'rot90',
        threshold: 31,
      }),
    ]);
    const text = await cli('rescan', '--db', db, '--seen', seenPath);
    expect(text).toMatchObject({ status: 0, out: '' });
  });

  it('refuses a missing seen store and a bad --since as errors (exit 2)', async () => {
    HashStore.open(db).close();
    expect((await cli('rescan', '--db', db, '--seen', join(dir, 'missing.db'))).status).toBe(2);
    SeenStore.open(seenPath).close();
    const bad = await cli('rescan', '--db', db, '--seen', seenPath, '--since', 'yesterday');
    expect(bad.status).toBe(2);
    expect(bad.err).toContain('--since');
  });

  it('resumes after a SIGKILL mid-rescan with no event lost, the batch in hand repeated with the same ids', async () => {
    const UPLOADS = 60;
    const md5 = (i: number) => i.toString(16).padStart(32, '0');
    const store = HashStore.open(db);
    store.importEntries(
      Array.from({ length: UPLOADS }, (_, i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5' as const, hash: md5(i) })),
    );
    store.close();
    const seen = SeenStore.open(seenPath);
    for (let i = 0; i < UPLOADS; i++)
      seen.record(
        `u${String(i).padStart(2, '0')}`,
        resultOf([{ algorithm: 'md5', hash: Buffer.from(md5(i), 'hex') }], {}),
      );
    seen.close();
    // The events an uninterrupted rescan gives, from a copy.
    copyFileSync(seenPath, join(dir, 'reference.db'));
    const reference = SeenStore.open(join(dir, 'reference.db'));
    const lists = HashStore.open(db, { readonly: true });
    const expected: RescanEvent[] = [];
    for await (const event of reference.rescan(lists, { batchSize: 10 })) expected.push(event);
    reference.close();
    lists.close();
    expect(expected).toHaveLength(UPLOADS);
    // The child takes 25 events (two batches of 10 acknowledged, five of the third), then waits to be killed.
    const built = existsSync(join(ROOT, 'dist/seen/index.js'));
    const module = (name: string) =>
      pathToFileURL(join(ROOT, built ? `dist/${name}/index.js` : `src/${name}/index.ts`)).href;
    const script = join(dir, 'child.mjs');
    await writeFile(
      script,
      `const { SeenStore } = await import(${JSON.stringify(module('seen'))});
const { HashStore } = await import(${JSON.stringify(module('store'))});
const store = HashStore.open(${JSON.stringify(db)}, { readonly: true });
const seen = SeenStore.open(${JSON.stringify(seenPath)});
${pausingRescan('seen.rescan(store, { batchSize: 10 })', 25)}`,
    );
    const taken = await killWhenPaused([...(built ? [] : ['--import', 'tsx']), script], ROOT);
    expect(taken).toEqual(expected.slice(0, 25).map((e) => e.id));
    const resumed = await cli('rescan', '--db', db, '--seen', seenPath, '--json', '--batch', '10');
    expect(resumed.status, resumed.err).toBe(1);
    const ids = resumed.lines.map((line) => (JSON.parse(line) as RescanEvent).id);
    // From the third batch: its five events again, same ids, then the rest.
    expect(ids).toEqual(expected.slice(20).map((e) => e.id));
    expect(new Set([...taken, ...ids])).toEqual(new Set(expected.map((e) => e.id)));
  });
});
