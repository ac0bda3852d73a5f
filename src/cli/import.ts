/**
 * `hashwarden import`: load a list file into a SQLite store, whole or not at all (unless bad rows
 * are explicitly skipped, and then each is reported).
 */
import { readListFile, type ListFormat } from '../index.js';
import { HashStore } from '../lists/sqlite.js';
import { EXIT, required, type Command } from './command.js';

export const importCommand: Command = {
  name: 'import',
  usage: 'FILE --db PATH --list NAME [--format csv|ndjson|text] [--algorithm A] [--skip-bad-rows]',
  summary: 'Import a hash list file into a SQLite store (created if missing).',
  help: `
Options:
  --db PATH          the SQLite store
  --list NAME        list name for rows that do not name one
  --format F         csv (header row), ndjson, or text (\`<algorithm> <hex>\` lines, or bare hex
                     with --algorithm); default: from the file extension, else sniffed
  --algorithm A      algorithm of rows that do not name one (needed for bare hex lines)
  --skip-bad-rows    import the good rows and report the bad ones; default: a bad row
                     fails the whole import and nothing is written
  -h, --help         this text

Rows are upserted by (list, id); entries without an id get "<algorithm>:<hash>".
Exit status: 0 on success, 2 on error.`,
  options: {
    db: { type: 'string' },
    list: { type: 'string' },
    format: { type: 'string' },
    algorithm: { type: 'string' },
    'skip-bad-rows': { type: 'boolean' },
  },
  async run(values, files, io) {
    const db = required(values.db, '--db');
    const list = required(values.list, '--list');
    const file = required(files[0], 'FILE');
    const parsed = await readListFile(file, {
      list,
      format: values.format as ListFormat | undefined,
      algorithm: values.algorithm as string | undefined,
      onError: values['skip-bad-rows'] === true ? 'skip' : 'fail',
    });
    for (const problem of parsed.skipped) io.err(`skipped ${problem.error.message}\n`);
    if (parsed.skippedCount > parsed.skipped.length) io.err(`skipped ${parsed.skippedCount - parsed.skipped.length} more bad rows\n`);
    const store = HashStore.open(db);
    try {
      const summaries = store.importEntries(parsed.entries, { source: file });
      for (const s of summaries) {
        io.out(`imported ${file} into list ${s.list}: ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged (version ${s.version})\n`);
      }
      if (summaries.length === 0) io.out(`imported ${file}: no entries\n`);
      if (parsed.skippedCount > 0) io.out(`${parsed.skippedCount} bad rows skipped\n`);
    } finally {
      store.close();
    }
    return EXIT.ok;
  },
};
