/**
 * `hashwarden import`: stream a list file into a SQLite store as one transaction: added, updated
 * and removed entries appear together or not at all (unless bad rows are explicitly skipped, and
 * then each is reported). A delta file's `op` column removes; `--replace` makes the list exactly
 * the file.
 */
import { open } from 'node:fs/promises';
import {
  ALGORITHM_NAMES,
  type DedupePolicy,
  isHashwardenError,
  type ListReadFormat,
  PDQ_MIN_QUALITY,
} from '../index.js';
import { HashStore } from '../store/index.js';
import { streamListFile } from '../lists/stream.js';
import { CliRefusal, EXIT, fileMode, required, UsageError, type Command } from './command.js';
import { textLine } from './escape.js';
import { connectPostgres, isPostgresUrl, postgresDbHelp } from './postgres.js';
import { startProgress } from './progress.js';

/**
 * From this many rows an import of a file whose ids were out of order says how to make the next
 * one faster: such a file is staged and sorted by SQLite, a sorted one written straight into the
 * store, two to three times as fast (docs/lists.md, Speed).
 */
const SORT_HINT_ROWS = 100_000;
const SORT_HINT =
  'note: the ids were not in ascending order, so the rows were staged and sorted first; the same file sorted by id (LC_ALL=C sort, the header kept first) imports two to three times as fast\n';

/**
 * True when the first line of `file` is a line of `hashwarden hash` output (a "file" and a hash
 * or an error, no "hash" field), which is no list: its rows would fail as "Missing algorithm".
 */
async function isHashOutput(file: string): Promise<boolean> {
  let text = '';
  try {
    const handle = await open(file, 'r');
    try {
      const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(65536), position: 0 });
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
    const line = JSON.parse(text.slice(0, text.indexOf('\n') < 0 ? undefined : text.indexOf('\n'))) as Record<
      string,
      unknown
    >;
    return (
      typeof line.file === 'string' &&
      line.hash === undefined &&
      (line.error !== undefined || ALGORITHM_NAMES.some((a) => typeof line[a] === 'string'))
    );
  } catch {
    return false;
  }
}

export const importCommand: Command = {
  name: 'import',
  usage:
    'FILE --db PATH --list NAME [--format csv|ndjson|text|checksum|pdq|te|stopncii|ncmec] [--algorithm A] [--replace] [--multi-list] [--allow-empty] [--skip-bad-rows] [--dedupe merge|fail] [--mode OCTAL] [--quiet]',
  summary: 'Import a hash list file into a SQLite store (created if missing) or a PostgreSQL one.',
  help: `
Options:
  --db PATH          the SQLite store,
${postgresDbHelp(21)}
                     (its tables created in a database holding none)
  --list NAME        the list to import into: the only one the import touches, unless
                     --multi-list (a row naming another list is a bad row)
  --format F         csv (header row), ndjson, or text (\`<algorithm> <hex>\` lines as
                     python-threatexchange writes them, or bare hex with --algorithm);
                     checksum: md5sum/sha256sum \`<hex>  <file>\`, BSD \`SHA256 (<file>) = <hex>\`
                     or \`<file> <hex>\` lines (the file name kept as metadata);
                     pdq: the PDQ hashers' \`<hash>,<quality>,<file>\` and --details lines
                     (the quality kept as a number in metadata);
                     te: pytx 0.x / HMA 1.0 \`<hash>,<id>,<date>,<tags>\` rows (no header);
                     stopncii: StopNCII.org hash records (a JSON array, or a FetchHashes
                     answer), Withdrawn/Deleted records removed;
                     ncmec: NCMEC hash-sharing v2 XML (a saved entries page; deletions remove);
                     default: from the file extension, else sniffed
  --algorithm A      algorithm of rows that do not name one (needed for bare hex lines); in
                     files told by length (checksum, te, CSV without an algorithm column),
                     that of 64-digit hashes (sha256, pdq and blockhash alike)
  --replace          the list becomes exactly the file: entries it does not hold are removed,
                     in the same transaction (rows of other lists and removals are refused)
  --multi-list       let rows name their own lists (a \`list\` column or field): they may add to,
                     remove from and create any list; --list names the list of rows naming none
  --allow-empty      accept a file with no rows (exit 2 otherwise: an empty or truncated
                     download is no list), and let an import leave a list that had entries
                     empty (with --replace, or by removal rows); refused otherwise
  --skip-bad-rows    import the good rows and report the bad ones; default: a bad row
                     fails the whole import and nothing is written. A file whose every row
                     is bad still fails (exit 2): nothing was imported
  --dedupe P         a row repeating an earlier one's list, algorithm and hash, neither with
                     an id: merge (default) keeps the first row and drops the repeat; fail
                     makes it a bad row ("Duplicate id"). Repeated explicit ids always are
  --mode OCTAL       permissions of a store this import creates (default 600: owner only;
                     640 lets its group read it). Group or other write is refused
  --quiet            no progress bar (it is drawn on standard error only when that is a
                     terminal), and no note that a large file would import faster sorted
  -h, --help         this text

Rows are added or updated by (list, id); entries without an id get "<algorithm>:<hash>". An \`op\`
column (CSV) or field (NDJSON) set to remove (or delete) removes the entry with that id (or that
algorithm and hash) from the list: a delta file; one that would leave the list empty is refused
(without --allow-empty). The whole file is one transaction: matchers
reading the store see the previous version until it commits, and a failure or a kill leaves the
previous version intact. Each import records the list's new version, the file and its counts.
Exit status: 0 on success; 2 on error, when every row was bad, or when the file holds no rows
(without --allow-empty).`,
  options: {
    db: { type: 'string' },
    list: { type: 'string' },
    format: { type: 'string' },
    algorithm: { type: 'string' },
    replace: { type: 'boolean' },
    'multi-list': { type: 'boolean' },
    'allow-empty': { type: 'boolean' },
    'skip-bad-rows': { type: 'boolean' },
    dedupe: { type: 'string' },
    mode: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values, files, io) {
    const db = required(values.db, '--db');
    const list = required(values.list, '--list');
    const file = required(files[0], 'FILE');
    const replace = values.replace === true;
    const postgres = isPostgresUrl(db);
    if (postgres && values.mode !== undefined)
      throw new UsageError("--mode is a SQLite store's file mode: a PostgreSQL database's roles and grants decide");
    const mode = fileMode(values.mode, 0o600);
    const onError: 'skip' | 'fail' = values['skip-bad-rows'] === true ? 'skip' : 'fail';
    const readOptions = {
      list,
      onError,
      ...(values.format === undefined ? {} : { format: values.format as ListReadFormat }),
      ...(values.algorithm === undefined ? {} : { algorithm: values.algorithm as string }),
      ...(values.dedupe === undefined ? {} : { dedupe: values.dedupe as DedupePolicy }),
    };
    // The file's first read (64 KiB) is parsed before the store is opened, so that a file failing
    // at once (not a list, bad first rows, no rows at all) does not even create the store; the
    // import reads it again.
    const head = streamListFile(file, { ...readOptions, batchSize: 1 });
    try {
      const first = await head.next();
      // (A replace by nothing is the store's to refuse, before it writes.)
      if (first.done === true && first.value.rows === 0 && !replace && values['allow-empty'] !== true)
        throw new CliRefusal(`${file} holds no rows: nothing imported (give --allow-empty to accept an empty file)`);
    } catch (error) {
      if (isHashwardenError(error, 'ERR_LIST_FORMAT') && (await isHashOutput(file))) {
        throw new CliRefusal(
          `${file} is the output of \`hashwarden hash\`, not a hash list: \`hashwarden hash --as-list --list ${list} FILE...\` prints the same hashes as a list this command imports`,
        );
      }
      throw error;
    } finally {
      await head.return(undefined as never);
    }
    let progress: ReturnType<typeof startProgress> | undefined;
    let shown = 0;
    const store = postgres ? await connectPostgres(db, {}, io) : HashStore.open(db, { mode });
    try {
      const result = await store.importFile(file, {
        ...readOptions,
        ...(replace ? { replace: [list] } : {}),
        multiList: values['multi-list'] === true,
        allowEmpty: values['allow-empty'] === true,
        onProgress: (p) => {
          progress ??= startProgress(io, p.bytesTotal, values.quiet === true);
          progress.update(p.bytesRead, p.rows);
          for (const problem of p.problems) io.err(textLine(`skipped ${problem.error.message}`));
          shown += p.problems.length;
        },
      });
      progress?.stop();
      for (const s of result.skipped) io.err(textLine(`skipped ${s.message}`));
      shown += result.skipped.length;
      const skipped = result.read.skippedCount + result.skippedCount;
      if (skipped > shown) io.err(`skipped ${skipped - shown} more bad rows\n`);
      // Bad rows skipped until none was left is a failed import, not an empty one.
      if (result.read.rows > 0 && skipped >= result.read.rows) {
        // A replace allowed to empty its list (--allow-empty) has done so: say it, not "nothing".
        const emptied = result.summaries.filter((s) => s.mode === 'replace' && s.removed > 0);
        const done =
          emptied.length === 0
            ? 'nothing imported'
            : emptied.map((s) => `list ${s.list} replaced by nothing (--allow-empty), version ${s.version}`).join('; ');
        throw new CliRefusal(`every row of ${file} was bad (${skipped} of ${result.read.rows}): ${done}`);
      }
      for (const s of result.summaries) {
        io.out(
          textLine(
            `imported ${file} into list ${s.list}: ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.removed} removed (version ${s.version}${s.mode === 'replace' ? ', replaced' : ''})`,
          ),
        );
      }
      if (result.summaries.length === 0) io.out(textLine(`imported ${file}: no entries`));
      if (skipped > 0) io.out(`${skipped} bad rows skipped\n`);
      if (result.read.ignored > 0)
        io.out(
          `${result.read.ignored} rows left out, never imported (NEGATIVE_CLASS signals, unusable hashes, hash types hashwarden lacks such as PhotoDNA)\n`,
        );
      if (result.read.lowQuality > 0)
        io.err(
          `warning: ${result.read.lowQuality} PDQ entries have a quality below ${PDQ_MIN_QUALITY} in their metadata; imported as sent, but such hashes of near-featureless images are where false positives come from (docs/lists.md)\n`,
        );
      if (!result.ordered && result.read.rows >= SORT_HINT_ROWS && values.quiet !== true) io.err(SORT_HINT);
    } finally {
      progress?.stop();
      await store.close();
    }
    return EXIT.ok;
  },
};
