/**
 * Where a worker thread's module is, and how to start it, for the rooms that run one from a URL
 * (seen/find-pool.ts, video/frame-pool.ts): the built module in the package, or the TypeScript
 * source with tsx's loader registered in the thread, which does not inherit its parent's.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** A thread's module, and whether it is TypeScript (tsx's loader registered in the thread first). */
export interface ThreadSource {
  readonly module: URL;
  readonly typescript: boolean;
}

/**
 * The thread module `name` (without extension) of the room `folder`, seen from the module at `here`
 * (its `import.meta.url`): `name.js` beside it in the package (`dist/<folder>/`) or, bundled, in
 * `dist/<folder>/` from `dist/chunks/`; from source (tsx, vitest) `name.ts` beside it, when tsx can
 * be loaded. Undefined when neither is there (an application that bundled hashwarden into one
 * file): the caller then works on its own thread.
 */
export function threadSource(here: string, folder: string, name: string): ThreadSource | undefined {
  if (!here.startsWith('file:')) return undefined;
  if (here.endsWith('.ts')) {
    try {
      createRequire(here).resolve('tsx/esm/api');
    } catch {
      return undefined;
    }
    return { module: new URL(`./${name}.ts`, here), typescript: true };
  }
  for (const candidate of [`./${name}.js`, `../${folder}/${name}.js`]) {
    const url = new URL(candidate, here);
    if (existsSync(fileURLToPath(url))) return { module: url, typescript: false };
  }
  return undefined;
}

/**
 * Starts the thread of `source`. From source, tsx keeps no transform cache (`TSX_DISABLE_CACHE`):
 * its cache folder would be written in `os.tmpdir()`, where a video call must leave nothing.
 */
export function startThread({ module, typescript }: ThreadSource): Worker {
  return typescript
    ? new Worker(
        `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(module.href)}); })`,
        { eval: true, env: { ...process.env, TSX_DISABLE_CACHE: '1' } },
      )
    : new Worker(module);
}
