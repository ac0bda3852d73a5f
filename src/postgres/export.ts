/**
 * {@link PgHashStore.exportSnapshot}: the lists of the PostgreSQL store (every enabled one, or
 * those named) written to a snapshot, as `hashwarden export --snapshot` writes a SQLite store's:
 * read in one REPEATABLE READ READ ONLY transaction (versions and entries agree while another
 * process imports) straight into the packed tables a snapshot holds (packed.ts), no object per
 * entry, then written by the snapshot writer (a temporary file renamed over the target). Entries
 * quarantined at the read are left out and recorded in META's `quarantined`, as SQLite's export does.
 */
import { HashwardenError } from '../errors.js';
import { snapshotLists } from '../matcher/store-source.js';
import { buildPackedTables, resolveSearch } from '../search/tables.js';
import type { SnapshotSummary } from '../snapshot/format.js';
import { checkSource, writePackedSnapshot } from '../snapshot/write.js';
import { boolean, invalid, optionsObject } from '../validate.js';
import type { PgContext } from './context.js';
import { readPacked } from './packed.js';
import type { PgSnapshotOptions } from './types.js';

/**
 * Checks every option (a bad one is a TypeError or RangeError before the store is read), reads
 * the lists, refuses an export of no entry unless `allowEmpty` (`ERR_NO_ENTRIES`), and writes.
 */
export async function exportSnapshot(
  ctx: PgContext,
  path: string,
  options: PgSnapshotOptions | undefined,
): Promise<SnapshotSummary> {
  const o = optionsObject(options, 'options');
  if (o.lists !== undefined && (!Array.isArray(o.lists) || o.lists.some((l) => typeof l !== 'string')))
    invalid('array of list names', 'options.lists', o.lists);
  const allowEmpty = o.allowEmpty === undefined ? false : boolean(o.allowEmpty, 'options.allowEmpty');
  const search = resolveSearch(o.search, 'options.search');
  const written = { mode: o.mode, sequence: o.sequence, sign: o.sign };
  checkSource(path, { lists: [], ...written });
  const read = (await readPacked(ctx, o.lists, undefined, true)) as NonNullable<Awaited<ReturnType<typeof readPacked>>>;
  const held =
    [...read.packed.values()].some((p) => p.columns.listIndex.length > 0) ||
    (read.videos?.columns.listIndex.length ?? 0) > 0;
  if (!held && !allowEmpty) {
    const what =
      read.lists.length === 0
        ? 'the store has no enabled lists'
        : `lists ${read.lists.map((l) => JSON.stringify(l.name)).join(', ')} hold no entries`;
    throw new HashwardenError(
      'ERR_NO_ENTRIES',
      `PostgreSQL store ${ctx.label}: nothing to export: ${what}; a matcher loading an empty snapshot would pass every upload (allowEmpty to write it anyway)`,
    );
  }
  const tables = buildPackedTables(read.packed, search, { defer: true });
  const lists = snapshotLists(read.lists, (list) => read.quarantined.get(list) ?? []);
  return writePackedSnapshot(path, { lists, source: ctx.label, ...written }, tables, read.videos);
}
