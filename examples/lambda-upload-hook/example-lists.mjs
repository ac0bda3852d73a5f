/**
 * A small snapshot for running the example without a real list: the PDQ and MD5 hashes of four
 * generated test vectors (test-vectors/images: shapes, a synthetic landscape, text, a mosaic — no
 * real material of any kind), in one list named `example`. The mosaic is the image that
 * test-vectors/hostile hides in frames of animated GIFs and WebPs. A real deployment exports its snapshot from
 * a store instead (`hashwarden export --db … --snapshot …`, docs/lists.md).
 */
import { fileURLToPath } from 'node:url';
import { normalizeEntry, writeSnapshot } from 'hashwarden';
import { hashImage } from 'hashwarden/image';

/** Where the test vectors are. */
export const TEST_VECTORS = fileURLToPath(new URL('../../test-vectors/images/', import.meta.url));

/** The test vectors the example list holds. Their edited copies (`--jpeg60`, …) are not listed. */
export const LISTED = Object.freeze([
  'shapes-1024x768.jpg',
  'landscape-1600x1200.jpg',
  'text-640x480.png',
  'mosaic-400x300.jpg',
]);

/**
 * Writes the example snapshot to `path` (aside, then renamed, as every snapshot is written).
 *
 * @param {string} path
 * @param {readonly string[]} [images] file names in test-vectors/images
 * @param {{ privateKey: string | import('node:crypto').KeyObject }} [sign] sign it (`hashwarden keygen`'s key)
 * @returns {Promise<import('hashwarden').SnapshotSummary>}
 *
 * @example
 * ```js
 * await writeExampleSnapshot('/tmp/example.snap'); // { entries: 8, … }
 * ```
 */
export async function writeExampleSnapshot(path, images = LISTED, sign = undefined) {
  const entries = [];
  for (const file of images) {
    const { hashes } = await hashImage(TEST_VECTORS + file, { algorithms: ['pdq', 'md5'] });
    for (const algorithm of /** @type {const} */ (['pdq', 'md5'])) {
      const hash = hashes[algorithm];
      if (hash === undefined) throw new Error(`${file}: no ${algorithm} hash`);
      entries.push(
        normalizeEntry({ id: `${file}:${algorithm}`, list: 'example', algorithm, hash, label: 'test-vector' }),
      );
    }
  }
  return writeSnapshot(path, {
    lists: [{ name: 'example', version: 1, label: 'block-and-report' }],
    entries,
    source: 'examples/lambda-upload-hook',
    ...(sign === undefined ? {} : { sign }),
  });
}
