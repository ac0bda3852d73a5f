/**
 * Bundles the package's JavaScript with esbuild: one module per entry (the core, `hashwarden/image`,
 * `hashwarden/sqlite`, `hashwarden/postgres`, the upload guards `hashwarden/express`, `/fastify` and `/web`, the sidecar
 * `hashwarden/server`, the connectors `hashwarden/exchanges`, the seen store `hashwarden/seen`, vPDQ video
 * hashing `hashwarden/video`, the CLI)
 * plus chunks they share, so each class exists once whichever entry
 * loaded it (`HashwardenError` from `hashwarden/sqlite` is the core's). tsc writes only the type
 * declarations (tsconfig.build.json). Why bundle: a fresh process imports the core in about half
 * the time of the per-file output (docs/architecture.md, Boundaries), which is most of what a serverless cold start pays beyond reading its snapshot. Dependencies
 * (sharp, better-sqlite3, pg, csv-parse, busboy) stay external, and modules the code imports lazily (the image
 * decoder, the SQLite store) stay separate chunks loaded on first use.
 *
 * Run: node scripts/bundle.mjs   (the package build runs it after tsc)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

await build({
  // lists/read-worker.ts, image/hash-worker.ts, seen/find-worker.ts and video/frame-worker.ts: the list
  // reader's thread, the hashing threads, the rescan's search threads and the video frames' thread,
  // loaded by URL (packed-reader.ts, image/pool.ts, seen/find-pool.ts, video/frame-pool.ts), so entries
  // of their own.
  entryPoints: [
    'index.ts',
    'image/index.ts',
    'store/index.ts',
    'postgres/index.ts',
    'express/index.ts',
    'fastify/index.ts',
    'web/index.ts',
    'server/index.ts',
    'exchanges/index.ts',
    'seen/index.ts',
    'video/index.ts',
    'lists/read-worker.ts',
    'image/hash-worker.ts',
    'seen/find-worker.ts',
    'video/frame-worker.ts',
    'cli/main.ts',
  ].map((entry) => join(src, entry)),
  outdir: join(src, '..', 'dist'),
  outbase: src,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
