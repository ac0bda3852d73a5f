/**
 * `hashwarden demo`: the whole path on the project's own generated images. It builds a list in a
 * temporary SQLite store from some originals, then matches the originals, edited copies of them
 * (resized, re-encoded, watermarked, cropped, brightened) and unrelated images, and prints what
 * matched, against which entry, at what distance.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Matcher, readListFile, type Match } from '../index.js';
import { hashImage } from '../image/index.js';
import { HashStore } from '../store/index.js';
import { EXIT, type Command } from './command.js';

interface VectorImage {
  readonly file: string;
  readonly kind: string;
  readonly editOf?: string;
  readonly edit?: string;
  readonly description?: string;
}

/**
 * test-vectors/ ships with the package, at its root: found through the package's own name, so it
 * does not matter where the bundler put this code (a chunk of dist/, or src/cli/ under tsx).
 */
const VECTORS = join(dirname(createRequire(import.meta.url).resolve('hashwarden/package.json')), 'test-vectors');

function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)}… ` : text.padEnd(width + 1);
}

export const demoCommand: Command = {
  name: 'demo',
  usage: '[--keep]',
  summary: 'Build a demo list from generated test images and match originals, edits and unrelated images.',
  help: `
Options:
  --keep       keep the temporary SQLite store and list file (their paths are printed)
  -h, --help   this text

Exit status: 0 when every listed image matched and no unrelated image did, 1 otherwise.
Edited copies are reported with their distance; whether they match shows what blockhash survives.`,
  options: { keep: { type: 'boolean' } },
  async run(values, _positionals, io) {
    const manifest = JSON.parse(await readFile(join(VECTORS, 'manifest.json'), 'utf8')) as { images: VectorImage[] };
    const path = (file: string) => join(VECTORS, file.includes('/') ? file : join('images', file));
    const originals = manifest.images.filter((i) => i.kind === 'original');
    const edited = new Set(manifest.images.filter((i) => i.editOf !== undefined).map((i) => i.editOf));
    // Originals that have edits go on the list; the other originals stand in for innocent uploads.
    const known = originals.filter((i) => edited.has(i.file));
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-demo-'));
    try {
      // 1. Build a list file the way a clearinghouse would ship one: CSV with a header row.
      const rows = ['id,algorithm,hash,label'];
      for (const image of known) {
        const { hashes } = await hashImage(path(image.file), { algorithms: ['blockhash', 'md5'] });
        rows.push(`${image.file}#blockhash,blockhash,${hashes.blockhash},demo-known`, `${image.file}#md5,md5,${hashes.md5},demo-known`);
      }
      const listFile = join(dir, 'demo-list.csv');
      await writeFile(listFile, `${rows.join('\n')}\n`);
      // 2. Import it into a SQLite store, 3. open a matcher on the store.
      const db = join(dir, 'demo.db');
      const store = HashStore.open(db);
      const [summary] = store.importEntries((await readListFile(listFile, { list: 'demo' })).entries, { source: listFile });
      store.close();
      const matcher = await Matcher.open(db);
      io.out(`hashwarden demo: list "demo" with ${summary?.added ?? 0} entries (blockhash + md5 of ${known.length} images) in ${db}\n`);
      io.out(`threshold: blockhash ≤ ${matcher.threshold('blockhash')} bits of 256; md5 exact\n\n`);

      // 4. Match everything: the known originals, their edits, and unrelated images.
      const cases = [
        ...known.map((i) => ({ image: i, group: 'on the list' })),
        ...manifest.images.filter((i) => i.editOf !== undefined && edited.has(i.editOf)).map((i) => ({ image: i, group: 'edited copy' })),
        ...manifest.images.filter((i) => i.kind !== 'edit' && !edited.has(i.file)).map((i) => ({ image: i, group: 'unrelated' })),
      ];
      io.out(`${pad('image', 40)}${pad('group', 12)}${pad('result', 9)}entry (algorithm distance)\n`);
      const tally = new Map<string, { matched: number; of: number }>();
      let unexpected = 0;
      for (const { image, group } of cases) {
        const result = await matcher.matchImage(path(image.file));
        const best: Match | undefined = result.matches[0];
        let entry: string;
        if (best !== undefined) {
          entry = `${best.entryId.replace(/#.*/, '')} (${result.matches.map((m) => `${m.algorithm} ${m.distance}`).join(', ')})`;
        } else {
          // How far the nearest entry was, to show how much the edit moved the hash.
          const nearest = matcher.matchHash({ algorithm: 'blockhash', hash: result.hashes.blockhash as string }, { threshold: 64 })[0];
          entry = nearest === undefined ? '-' : `- (nearest: blockhash ${nearest.distance})`;
        }
        // Known images must match and unrelated ones must not; edits show how far blockhash stretches.
        const wrong = (group === 'on the list' && !result.matched) || (group === 'unrelated' && result.matched);
        if (wrong) unexpected++;
        const key = group === 'edited copy' ? `edited copy: ${image.file.replace(/^.*--/, '').replace(/\.\w+$/, '')}` : group;
        const t = tally.get(key) ?? { matched: 0, of: 0 };
        tally.set(key, { matched: t.matched + (result.matched ? 1 : 0), of: t.of + 1 });
        io.out(`${pad(image.file, 40)}${pad(group, 12)}${pad(result.matched ? 'MATCH' : 'no match', 9)}${entry}${wrong ? '   <-- unexpected' : ''}\n`);
      }
      io.out('\nmatched:\n');
      for (const [group, t] of tally) io.out(`  ${pad(group, 30)}${t.matched}/${t.of}\n`);
      io.out(
        `\nEdits are ${[...new Set(manifest.images.flatMap((i) => (i.edit === undefined ? [] : [i.file.replace(/^.*--/, '').replace(/\.\w+$/, '')])))].join(', ')}` +
          ' of the listed images; blockhash does not survive crops, so crop5 copies are expected to miss.\n',
      );
      io.out(unexpected === 0 ? 'OK: every listed image matched and no unrelated image did.\n' : `${unexpected} unexpected results.\n`);
      if (values.keep === true) io.out(`kept ${dir}\n`);
      return unexpected === 0 ? EXIT.ok : EXIT.matched;
    } finally {
      if (values.keep !== true) await rm(dir, { recursive: true, force: true });
    }
  },
};
