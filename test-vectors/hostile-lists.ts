/**
 * Hostile-inputs corpus for what hashwarden reads besides images: list files, stores and snapshots
 * (issue 18). Each case is a file an attacker (a list provider, whoever hands over a store or a
 * snapshot) could craft, how it is opened through the public API, and what must come of it: a
 * result with post-conditions (the store's lists after it), or a `HashwardenError` code.
 *
 * Only the manifest is committed (`hostile-lists/manifest.json`): the files are written into a
 * folder given to the generator, because some are large (a 100 MB line, a 104 MB CSV of 8 million
 * columns a row) and some sparse (a snapshot of under 3 KB declaring 60 GB). Everything is made
 * from numbers (mulberry32, digests of fixed words) and byte surgery, so two runs write the same
 * files and the same manifest; `hostile-inputs.test.ts` checks that the manifest this writes is
 * the committed one, then runs every case. The cases are in `hostile-lists/` (lists.ts, stores.ts,
 * snapshots.ts).
 *
 * Run: `npx tsx test-vectors/hostile-lists.ts [DIR]` writes the files into DIR (default: a new
 * temporary folder, printed) and the manifest into `hostile-lists/manifest.json`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Draft, type HostileCase, SEED } from './hostile-lists/common.js';
import { listFiles } from './hostile-lists/lists.js';
import { snapshotFiles } from './hostile-lists/snapshots.js';
import { storeFiles } from './hostile-lists/stores.js';

export type {
  HostileCase,
  HostileExpectation,
  ListCounts,
  OpenCall,
  OpenSpec,
} from './hostile-lists/common.js';
export { SEEDED, seededEntries } from './hostile-lists/common.js';

/** The committed manifest. */
export const MANIFEST = fileURLToPath(new URL('hostile-lists/manifest.json', import.meta.url));

/** Files up to this size get a SHA-256 in the manifest; larger ones are checked by size alone. */
const DIGEST_BYTES = 1 << 20;

/** The manifest: everything but the files. */
export interface HostileListsManifest {
  readonly generator: string;
  readonly seed: number;
  readonly note: string;
  readonly cases: readonly HostileCase[];
}

/**
 * Writes every file of the corpus into `dir` (an existing folder) and returns the manifest. Needs
 * about 250 MB of disk, and apparent sizes of 73 GB in sparse files. With `select`, only the cases
 * it keeps, and the files they open (the fuzz test takes the small ones).
 */
export async function generate(
  dir: string,
  select: (c: HostileCase) => boolean = () => true,
): Promise<HostileListsManifest> {
  const drafts: Draft[] = [];
  const cases: HostileCase[] = [];
  const scratch = await mkdtemp(join(tmpdir(), 'hostile-lists-scratch-'));
  try {
    listFiles(drafts, cases);
    storeFiles(drafts, cases, scratch);
    await snapshotFiles(drafts, cases, scratch);
    const kept = cases.filter(select);
    const needed = new Set(kept.flatMap((c) => [c.file, ...(c.open.import === undefined ? [] : [c.open.import])]));
    const sizes = new Map<string, { bytes: number; sha256?: string; sparse?: true }>();
    for (const d of drafts.filter((f) => needed.has(f.file))) {
      const path = join(dir, d.file);
      // Stores are opened, not overwritten: start each file afresh when the folder was used before.
      await rm(path, { force: true });
      let bytes: number;
      if (typeof d.data === 'function') bytes = await d.data(path);
      else {
        await writeFile(path, d.data);
        bytes = d.data.length;
      }
      if (!d.record) continue;
      const small = bytes <= DIGEST_BYTES && d.sparse !== true;
      sizes.set(d.file, {
        bytes,
        ...(small
          ? {
              sha256: createHash('sha256')
                .update(await readFile(path))
                .digest('hex'),
            }
          : {}),
        ...(d.sparse ? { sparse: true as const } : {}),
      });
    }
    return {
      generator: 'test-vectors/hostile-lists.ts',
      seed: SEED,
      note:
        'Files are written by the generator into a folder it is given, never committed. Lists named by the metadata limits of src/lists/entry.ts ' +
        '(MAX_CSV_COLUMNS, MAX_METADATA_KEYS, MAX_METADATA_DEPTH) are made from their values and carry no size or digest; nor do stores, ' +
        "whose bytes depend on SQLite's page layout. `lists` are entry counts per list in the store afterwards.",
      cases: kept.map((c) => ({ ...c, ...sizes.get(c.file) })),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'hostile-lists-')));
  const manifest = await generate(dir);
  await writeFile(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
  for (const c of manifest.cases)
    console.log(
      `${c.case.padEnd(48)} ${'error' in c.expect ? String(c.expect.error) : 'ok'}${c.heavy ? ' (heavy)' : ''}`,
    );
  console.log(`${manifest.cases.length} cases; files in ${dir}`);
}
