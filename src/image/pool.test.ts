/**
 * The hashing threads: every test vector and every file of the hostile corpus decodes and hashes
 * to the same result through the pool as on the calling thread (every field, errors by code), with
 * several uploads on one thread at once, a thread that dies fails its uploads with ERR_HASH_THREAD
 * and is replaced, and idle threads do not hold a process open while busy ones do. Runs the worker from source (tsx), as the built one runs.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { hashRaw, type HashedBytes } from './hash.js';
import { resolveImageOptions, type HashImageOptions } from './options.js';
import { HashPool, type WorkerSource } from './pool.js';

const SOURCE: WorkerSource = { module: new URL('./hash-worker.ts', import.meta.url), typescript: true };
const IMAGES = fileURLToPath(new URL('../../test-vectors/images/', import.meta.url));
const HOSTILE = fileURLToPath(new URL('../../test-vectors/hostile/', import.meta.url));

const files = (dir: string, skip: readonly string[] = []): string[] =>
  readdirSync(dir)
    .filter((name) => !skip.includes(name))
    .sort()
    .map((name) => join(dir, name));

/** What hashing came to: the result, or the error's class and code. */
async function outcome(promise: Promise<HashedBytes>): Promise<unknown> {
  try {
    return { result: await promise };
  } catch (error) {
    return { error: error instanceof HashwardenError ? error.code : (error as Error).name };
  }
}

/** Option sets: a matcher's (turns, trim), `hashImage`'s defaults, a scaled decode, one frame under a pixel limit. */
const OPTION_SETS: readonly HashImageOptions[] = [
  { dihedral: true, trim: true },
  {},
  { algorithms: ['blockhash', 'md5'], dihedral: true, trim: true },
  { maxFrames: 1, trim: true, maxPixels: 4_000_000 },
];

describe('the hashing threads', () => {
  const pool = new HashPool(2, SOURCE);
  afterAll(() => pool.close());

  it('hash every test vector and hostile file exactly as the calling thread does, errors by code', async () => {
    const all = [...files(IMAGES), ...files(HOSTILE, ['manifest.json'])];
    expect(all.length).toBeGreaterThan(100);
    let hashedInThreads = 0;
    for (const options of OPTION_SETS) {
      const resolved = resolveImageOptions(options);
      // Five at a time: both threads hold two uploads at once, and replies must reach the right one.
      for (let i = 0; i < all.length; i += 5) {
        const batch = all.slice(i, i + 5).map((file) => readFileSync(file));
        const here = await Promise.all(batch.map((bytes) => outcome(hashRaw(bytes, resolved))));
        const there = await Promise.all(batch.map((bytes) => outcome(hashRaw(bytes, resolved, pool))));
        for (const [j, expected] of here.entries()) {
          expect(there[j], `${all[i + j]} with ${JSON.stringify(options)}`).toEqual(expected);
          if ('result' in (expected as object)) hashedInThreads++;
        }
      }
    }
    // Most files hash; the rest are refused before any pixel maths, with the same code.
    expect(hashedInThreads).toBeGreaterThan(OPTION_SETS.length * 60);
    expect(pool.threads).toBe(2);
  }, 300_000);

  it('fail the upload of a thread that dies with ERR_HASH_THREAD, and hash the next on a new thread', async () => {
    const bytes = readFileSync(join(IMAGES, 'mosaic-400x300.jpg'));
    const options = resolveImageOptions({ dihedral: true, trim: true });
    const dying = new HashPool(1, SOURCE);
    // The upload is given to the thread at once: ended now, it dies with the upload in hand.
    const pending = dying.hash(bytes, options);
    expect(dying.threads).toBe(1);
    await dying.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_HASH_THREAD' });
    expect(dying.threads).toBe(0);
    expect(await hashRaw(bytes, options, dying)).toEqual(await hashRaw(bytes, options));
    expect(dying.threads).toBe(1);
    await dying.close();
  }, 60_000);

  it('fail uploads with ERR_HASH_THREAD when no thread can start, now or once started', async () => {
    const bytes = readFileSync(join(IMAGES, 'mosaic-400x300.jpg'));
    const options = resolveImageOptions();
    // Refused by the Worker constructor itself, and a module that is not there.
    const modules = [new URL('http://127.0.0.1/hash-worker.js'), new URL('./no-such-worker.js', import.meta.url)];
    for (const module of modules) {
      const broken = new HashPool(1, { module, typescript: false });
      await expect(broken.hash(bytes, options)).rejects.toMatchObject({ code: 'ERR_HASH_THREAD' });
      await expect(broken.hash(bytes, options)).rejects.toMatchObject({ code: 'ERR_HASH_THREAD' });
      await broken.close();
    }
  }, 60_000);

  it('keep a process open while they hash, and let it exit once they are idle', () => {
    const script = `
      import { readFileSync } from 'node:fs';
      import { hashRaw } from ${JSON.stringify(new URL('./hash.ts', import.meta.url).href)};
      import { resolveImageOptions } from ${JSON.stringify(new URL('./options.ts', import.meta.url).href)};
      import { HashPool } from ${JSON.stringify(new URL('./pool.ts', import.meta.url).href)};
      const pool = new HashPool(1, { module: new URL(${JSON.stringify(SOURCE.module.href)}), typescript: true });
      const bytes = readFileSync(${JSON.stringify(join(IMAGES, 'mosaic-400x300.jpg'))});
      await hashRaw(bytes, resolveImageOptions(), pool);
      // Idle now: a thread started for an upload is not what holds the process during the next.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const hashed = await hashRaw(bytes, resolveImageOptions(), pool);
      console.log(pool.threads, Object.keys(hashed.hashes).length);
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    // Exit 13 would be a top-level await left pending: the thread did not hold the process open.
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe('1 5');
  }, 60_000);
});
