#!/usr/bin/env node
/**
 * Runs the Lambda handler on local files, as S3 would invoke it, against the built package
 * (`npm run build` first: `hashwarden` resolves to dist/).
 *
 *   node examples/lambda-upload-hook/run-local.mjs IMAGE...
 *
 * Without HASHWARDEN_SNAPSHOT it writes the example snapshot (example-lists.mjs: four test
 * vectors) to the temporary directory first, if it is not there yet. The handler logs one JSON
 * line per object, as it would to CloudWatch; the exit code sums them up: 0 when every object is
 * allowed, 1 when any is blocked, 2 when any is rejected and none blocked, 3 when the handler
 * fails (an object that cannot be read).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { writeExampleSnapshot } from './example-lists.mjs';

const images = process.argv.slice(2).map((p) => resolve(p));
if (images.length === 0) {
  console.error('usage: node examples/lambda-upload-hook/run-local.mjs IMAGE...');
  process.exit(3);
}

if (process.env.HASHWARDEN_SNAPSHOT === undefined) {
  const snapshot = join(tmpdir(), 'hashwarden-lambda-example', 'example.snap');
  if (!existsSync(snapshot)) {
    mkdirSync(dirname(snapshot), { recursive: true });
    await writeExampleSnapshot(snapshot);
    console.error(`wrote the example snapshot ${snapshot}`);
  }
  process.env.HASHWARDEN_SNAPSHOT = snapshot;
}

// The objects are read from the deepest directory holding all of them, each key relative to it,
// so the event looks like S3's: a bucket and keys.
let root = dirname(images[0] ?? '.');
while (!images.every((p) => p.startsWith(root.endsWith(sep) ? root : root + sep))) root = dirname(root);
process.env.LOCAL_OBJECT_DIR = root;

// Imported only now: the handler opens the snapshot the environment names while it loads.
const { handler } = await import('./handler.mjs');
const event = {
  Records: images.map((p) => ({
    eventSource: 'aws:s3',
    eventName: 'ObjectCreated:Put',
    // S3 URL-encodes keys in events, with + for spaces; the handler decodes them.
    s3: {
      bucket: { name: 'local' },
      object: {
        key: encodeURIComponent(relative(root, p).split(sep).join('/')).replace(/%2F/g, '/').replace(/%20/g, '+'),
      },
    },
  })),
};

try {
  const result = await handler(event);
  const actions = new Set(result.decisions.map((d) => d.action));
  process.exitCode = actions.has('block') ? 1 : actions.has('reject') ? 2 : 0;
} catch (error) {
  console.error(`the handler failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 3;
}
