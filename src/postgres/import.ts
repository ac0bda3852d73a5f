/**
 * Imports into the PostgreSQL store: rows are streamed through COPY into a temporary staging table,
 * then applied in the same transaction with the SQLite store's rules (src/store/import.ts: replace,
 * allowEmpty, dedupe, onError, the history and the version bumps, the checkpoint). Before applying,
 * the import takes an advisory lock per list it touches (in name order, so two imports cannot
 * deadlock), so that imports into the same list from several processes run one after the other and
 * each sees the other's rows.
 *
 * `importFile` of one list that is empty (a first import) and whose ids ascend copies its rows
 * straight into `entries` instead: no id can repeat, so there is nothing to settle, and COPY writes
 * rows into the table in blocks where the insert from staging writes them one at a time. That list's
 * lock is then taken before the COPY. At the first id out of order it gives up (rolled back) and the
 * file is read again through the staging table, as the SQLite store's ordered import does.
 *
 * Staged rows of one list, empty under its lock, whose ids came out of order and hold no removal
 * (a first import in random order) are inserted from the staging table sorted by id, unsettled; an
 * id that repeats makes the key refuse that insert, rolled back to a savepoint, and they are settled.
 */
import { once } from 'node:events';
import type { ListEntry } from '../lists/entry.js';
import { metadataJson, PACKED_FIELDS, packedFields, type PackedBatch } from '../lists/packed.js';
import { readPacked } from '../lists/packed-reader.js';
import type { ListStreamSummary } from '../lists/stream.js';
import { progressReporter, resolveFileImport, stagePacked } from '../store/import-file.js';
import type { StagedParameters } from '../store/statements.js';
import {
  BadRows,
  drain,
  eachRow,
  emptiedList,
  ListOrder,
  MAX_SKIPPED,
  normalizeEntryAt,
  removalInReplace,
  resolveEntries,
  resolveRows,
  type ResolvedImport,
  type RowBatch,
  type Tally,
} from '../store/import.js';
import type {
  ImportFileOptions,
  ImportFileResult,
  ImportMode,
  ImportOptions,
  ImportResult,
  ImportRowsOptions,
  ImportSummary,
} from '../store/types.js';
import { inTransaction, pgError, withClient, type PgContext } from './context.js';
import type { PoolClient } from './driver.js';
import { LOCK_SPACE } from './schema.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { vpdqPackedHex } from '../lists/vpdq-entry.js';
import { VPDQ_DEFAULT_ID_PATTERN } from '../store/vpdq.js';

/** Bytes of COPY text written to the server at once: few writes, and a bounded buffer. */
const COPY_CHUNK_BYTES = 256 * 1024;

/**
 * The staging table: one row per row read, `seq` its place. `hash` is the reader's lower-case hex,
 * decoded when applied (decoding in the server costs less than a Buffer per row here).
 */
const STAGING = `CREATE TEMP TABLE hw_staged (seq bigint NOT NULL, list text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL,
  op smallint NOT NULL, algorithm text, hash text, label text, metadata text, line integer) ON COMMIT DROP`;
const COPY_STAGED = 'COPY hw_staged (seq, list, id, op, algorithm, hash, label, metadata, line) FROM STDIN';

/**
 * True for a staged row (alias `r`) whose id is the one `normalizeEntry` gives a row without one:
 * for a vPDQ entry, one of that shape, its frames compared in `SAME_ROW` (the SQLite store's rule,
 * src/store/vpdq.ts).
 */
const defaultId = (r: string): string =>
  `(${r}.id = ${r}.algorithm || ':' || ${r}.hash OR (${r}.algorithm = '${VPDQ_ALGORITHM}' AND ${r}.id ~ '${VPDQ_DEFAULT_ID_PATTERN}'))`;
/**
 * A repeat that is the same row as the one kept: two adds whose ids are `<algorithm>:<hash>` (for
 * vPDQ, of the default's shape) with the same algorithm and hash (dedupe `merge`).
 */
const SAME_ROW = `(a.op = 0 AND s.op = 0 AND ${defaultId('a')} AND ${defaultId('s')} AND a.algorithm IS NOT DISTINCT FROM s.algorithm AND a.hash IS NOT DISTINCT FROM s.hash)`;

/** The settled adds of list $1, as new entries. */
const INSERT_SETTLED = `INSERT INTO entries (list, id, algorithm, hash, label, metadata)
SELECT list, id, algorithm, decode(hash, 'hex'), label, metadata FROM hw_settled WHERE list = $1 AND op = 0`;
/** What an upsert does on a conflict: an entry that differs is updated, an identical one left unwritten. */
const ON_CONFLICT = `ON CONFLICT (list, id) DO UPDATE SET algorithm = excluded.algorithm, hash = excluded.hash, label = excluded.label, metadata = excluded.metadata
WHERE (entries.algorithm, entries.hash, entries.label, entries.metadata) IS DISTINCT FROM (excluded.algorithm, excluded.hash, excluded.label, excluded.metadata)`;
/** The settled adds of list $1 upserted (`rowCount` counts both writes): a conflict check per row, an index probe each. */
const UPSERT_SETTLED = `${INSERT_SETTLED}\n${ON_CONFLICT}`;
/**
 * The same, with the rows equal to their stored entry left out first by a join: one pass over the
 * list's entries, which costs less than the upsert's probe of each row when most rows are
 * unchanged, as in the daily full list, and more when a few rows meet a large list (a delta). The
 * upsert's own condition stays, so that what is written does not rest on the filter.
 */
const UPSERT_CHANGED = `INSERT INTO entries (list, id, algorithm, hash, label, metadata)
SELECT s.list, s.id, s.algorithm, decode(s.hash, 'hex'), s.label, s.metadata FROM hw_settled AS s
LEFT JOIN entries AS e ON e.list = s.list AND e.id = s.id
WHERE s.list = $1 AND s.op = 0 AND (e.id IS NULL
  OR (e.algorithm, e.hash, e.label, e.metadata) IS DISTINCT FROM (s.algorithm, decode(s.hash, 'hex'), s.label, s.metadata))
${ON_CONFLICT}`;

/**
 * The join of {@link UPSERT_CHANGED} reads the whole list, where the plain upsert probes once per
 * row, each probe costing a few times a row read (bench/pg-import.bench.ts, its replace and delta
 * runs): the join is used when the rows are at least half as many as the list's entries.
 */
const JOIN_MIN_SHARE = 0.5;

/** A NUL character: metadata is JSON, which escapes it; names, ids and labels are stored as they are. */
const NUL = /\0/;

/** Characters COPY's text format escapes. */
const COPY_SPECIAL = /[\\\t\n\r]/;

function copyField(value: string | null): string {
  if (value === null) return '\\N';
  if (!COPY_SPECIAL.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * Waits for `stream` to drain, rejecting at its error. `once` removes both of its listeners either
 * way: a race with a second `once` for the error left one listener behind per wait, and a long
 * COPY waits hundreds of times (Node warns of a leak past ten).
 */
export async function drained(stream: NodeJS.EventEmitter): Promise<void> {
  await once(stream, 'drain');
}

/** What an import's batches add rows with. */
interface Stage {
  readonly order: ListOrder;
  /** Where the rows go: the staging table, or `entries` (a first import whose ids ascend). */
  readonly direct: boolean;
  where(line: number | null | undefined): string;
  add(row: StagedParameters): void;
  remove(list: string, id: string, line: number | null, at: () => string): void;
  /** Appends rows already in the COPY's text form. */
  append(text: string, rows: number): void;
  /** The `seq` of the next staged row. */
  next(): number;
  /** Notes a staged row's (list, id): while each list's ids ascend, none can repeat. */
  follows(list: string, id: string): void;
}

/** COPY into `entries` (a first import of a list whose ids ascend): `hash` as bytea's `\x` hex form. */
const COPY_ENTRIES = 'COPY entries (list, id, algorithm, hash, label, metadata) FROM STDIN';

/** A finished import: its result, the reader's summary, and whether its rows went straight into `entries`. */
interface ImportDone {
  readonly result: ImportResult;
  readonly returned: unknown;
  readonly direct: boolean;
}

/** Why an import into `entries` gave up: the list held entries, or an id came out of order. */
class NotDirect extends Error {}

/**
 * Streams every batch through COPY (`stageBatch` adds its rows) into the staging table, then
 * settles repeats, locks the lists, applies and records, all in one transaction. `keepLast`: a
 * repeated (list, id) keeps the last row and is no bad row (`importEntries`). With `direct` (the
 * one list of the import), the rows go straight into `entries` instead; it returns `undefined`,
 * having written nothing, when that list holds entries (before any row is read) or a batch's ids
 * do not ascend (`direct.ordered`): the caller then imports them staged.
 */
async function copyImport<B>(
  ctx: PgContext,
  iterator: AsyncIterator<B, unknown> | Iterator<B, unknown>,
  resolved: ResolvedImport,
  onError: 'fail' | 'skip',
  keepLast: boolean,
  stageBatch: (batch: B, stage: Stage) => void,
  direct?: { readonly list: string; readonly ordered: (batch: B) => boolean },
): Promise<ImportDone | undefined> {
  const source = resolved.source ?? '<rows>';
  let gaveUp = false;
  const done = await inTransaction(ctx, 'import', async (client, rowsFailed) => {
    // Passed through inTransaction unchanged, as the rows' own errors are, and rolled back.
    const giveUp = (): NotDirect => {
      gaveUp = true;
      const error = new NotDirect();
      rowsFailed(error);
      return error;
    };
    const intoEntries = direct !== undefined;
    if (intoEntries && !(await lockEmpty(client, direct.list))) {
      await iterator.return?.();
      throw giveUp();
    }
    if (!intoEntries) await client.query(STAGING);
    const bad = new BadRows(onError);
    const order = new ListOrder(resolved, bad);
    const where = (line: number | null | undefined): string =>
      line === undefined || line === null ? source : `${source}:${line}`;
    const copy = client.query(ctx.copyFrom(intoEntries ? COPY_ENTRIES : COPY_STAGED));
    let copyError: unknown;
    copy.on('error', (error) => (copyError ??= error));
    let text = '';
    let seq = 0;
    // While each list's ids only ascend, none can repeat: the rows need no settling (a sort).
    let ascending = true;
    const lastIds = new Map<string, string>();
    const follows = (list: string, id: string): void => {
      if (!ascending) return;
      const last = lastIds.get(list);
      if (last !== undefined && !(id > last)) ascending = false;
      else lastIds.set(list, id);
    };
    const push = ([list, id, op, algorithm, hash, label, metadata, line]: StagedParameters): void => {
      // PostgreSQL's text holds no NUL character (SQLite's does): such a row is a bad row, refused
      // or skipped, rather than a COPY failure refusing the whole import without naming it.
      if (NUL.test(list) || NUL.test(id) || (label !== null && NUL.test(label))) {
        bad.row(line, `${where(line)}: a NUL character in the list, id or label, which PostgreSQL cannot store`);
        return;
      }
      follows(list, id);
      seq++;
      text += intoEntries
        ? `${copyField(list)}\t${copyField(id)}\t${copyField(algorithm)}\t\\\\x${hash}\t${copyField(label)}\t${copyField(metadata)}\n`
        : `${seq}\t${copyField(list)}\t${copyField(id)}\t${op}\t${copyField(algorithm)}\t${hash ?? '\\N'}\t${copyField(label)}\t${copyField(metadata)}\t${line ?? '\\N'}\n`;
    };
    const stage: Stage = {
      order,
      direct: intoEntries,
      where,
      add: push,
      remove(list, id, line, at) {
        if (resolved.replace.size > 0) throw removalInReplace(at());
        // Into an empty list whose ids ascend, a removal removes nothing: the list is only touched.
        if (order.see(list, line, at) && !intoEntries) push([list, id, 1, null, null, null, null, line]);
      },
      append(rows, count) {
        text += rows;
        seq += count;
      },
      next: () => seq + 1,
      follows,
    };
    const flush = async (): Promise<void> => {
      if (copyError !== undefined) throw copyError;
      if (text.length === 0) return;
      const chunk = text;
      text = '';
      if (!copy.write(chunk)) await drained(copy);
      if (copyError !== undefined) throw copyError;
    };
    let returned: unknown;
    try {
      // `drain` hands batches over synchronously; the COPY stream is written between them.
      const batches = iterator;
      const paced: AsyncIterator<B, unknown> = {
        next: async () => {
          if (text.length >= COPY_CHUNK_BYTES) await flush();
          const step = await batches.next();
          if (intoEntries && step.done !== true && !direct.ordered(step.value)) throw giveUp();
          return step;
        },
        return: async (value) => (await batches.return?.(value)) ?? { done: true, value: undefined },
      };
      returned = await drain(paced, rowsFailed, (batch) => stageBatch(batch, stage));
      await flush();
      copy.end();
      await once(copy, 'finish');
      if (copyError !== undefined) throw copyError;
    } catch (error) {
      copy.destroy(new Error('import abandoned'));
      throw error;
    }
    // Staged ids out of order into an empty list: inserted sorted without settling, unless one repeats.
    const inserted = intoEntries || ascending ? undefined : await insertSorted(client, order, resolved);
    if (!intoEntries && inserted === undefined)
      await settle(client, bad, where, resolved.dedupe === 'merge', keepLast, seq, ascending);
    const summaries = await apply(ctx, client, order, resolved, intoEntries ? seq : inserted);
    return {
      result: Object.freeze({
        summaries: Object.freeze(summaries),
        skipped: Object.freeze(bad.shown),
        skippedCount: bad.count,
      }),
      returned,
      direct: intoEntries,
    };
  }).catch((error: unknown) => {
    if (gaveUp && error instanceof NotDirect) return undefined;
    throw error;
  });
  return done;
}

/** Whether `list` holds no entries. */
async function isEmpty(client: PoolClient, list: string): Promise<boolean> {
  return (await client.query('SELECT 1 FROM entries WHERE list = $1 LIMIT 1', [list])).rowCount === 0;
}

/**
 * Whether an import of the one list `list` may go straight into `entries`: only that list is
 * replaced, if any (a replace of another deletes in it, which is the staged way), and it holds no
 * entries. Looked at outside any transaction, so that the usual answer, a list that holds entries,
 * costs no transaction given up (its connection closed).
 */
async function mayGoStraight(ctx: PgContext, resolved: ResolvedImport, list: string): Promise<boolean> {
  if ([...resolved.replace].some((name) => name !== list)) return false;
  return withClient(ctx, 'import', (client) => isEmpty(client, list)).catch((error: unknown) => {
    throw pgError(ctx, error);
  });
}

/**
 * Takes the lock of `list`, the one list of an import, before its rows are read, and says whether
 * it is still empty: another import may have filled it since {@link mayGoStraight} looked.
 */
async function lockEmpty(client: PoolClient, list: string): Promise<boolean> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_SPACE, list]);
  return isEmpty(client, list);
}

/** The staged adds, sorted by id: the order of the key, so that each insert lands at its end. */
const INSERT_SORTED = `INSERT INTO entries (list, id, algorithm, hash, label, metadata)
SELECT list, id, algorithm, decode(hash, 'hex'), label, metadata FROM hw_staged WHERE op = 0 ORDER BY id`;

/** PostgreSQL's SQLSTATE for a unique violation: a staged id that repeats. */
const UNIQUE_VIOLATION = '23505';

/**
 * Inserts the staged rows of an import of one list, empty under its lock and holding no removal,
 * straight from the staging table sorted by id, inside a savepoint: settling them first (a sorted
 * copy of every row, then the insert from it) writes every row twice where a first import of ids in
 * random order needs no more than one sorted insert. Returns the rows inserted, or `undefined`,
 * having written nothing, when the import is not such an import or an id repeats (the unique key
 * refuses the insert): the caller then settles, so that repeats are reported as always. A removal
 * keeps the usual way, which orders it among the adds of the same id.
 */
async function insertSorted(
  client: PoolClient,
  order: ListOrder,
  resolved: ResolvedImport,
): Promise<number | undefined> {
  const [list] = order.lists;
  if (list === undefined || order.lists.length !== 1 || [...resolved.replace].some((name) => name !== list))
    return undefined;
  if ((await client.query('SELECT 1 FROM hw_staged WHERE op = 1 LIMIT 1')).rowCount !== 0) return undefined;
  // Looked at before the lock too, so that an import into a list that holds entries does not hold
  // that list's lock while it settles (other imports of the list wait for it only while it applies).
  if (!(await isEmpty(client, list)) || !(await lockEmpty(client, list))) return undefined;
  await client.query('SAVEPOINT hw_sorted');
  try {
    const inserted = (await client.query(INSERT_SORTED)).rowCount ?? 0;
    await client.query('RELEASE SAVEPOINT hw_sorted');
    return inserted;
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== UNIQUE_VIOLATION) throw error;
    await client.query('ROLLBACK TO SAVEPOINT hw_sorted');
    return undefined;
  }
}

/**
 * Adds the rows of a packed batch as COPY text in one go, when none of its fields needs an escape
 * and none holds a NUL (the packer then hands `text`): the per-field checks and the row arrays of
 * the row-by-row way (`stagePacked`) cost the importing thread more than PostgreSQL's COPY of the
 * rows. Returns false, having added nothing, for a batch that needs the row-by-row way.
 */
function copyPacked(batch: PackedBatch, stage: Stage): boolean {
  if (batch.text === undefined || COPY_SPECIAL.test(batch.text)) return false;
  const fields = packedFields(batch);
  const { lines, ops, count } = batch;
  let first = stage.next();
  let text = '';
  let rows = 0;
  let allowed: string | undefined;
  for (let r = 0, f = 0; r < count; r++, f += PACKED_FIELDS) {
    const list = fields[f] as string;
    const id = fields[f + 1] as string;
    const line = lines[r] as number;
    if (ops[r] === 1) {
      // The removal is staged after the rows before it, and numbered after them.
      stage.append(text, rows);
      text = '';
      rows = 0;
      stage.remove(list, id, line, () => stage.where(line));
      first = stage.next();
      continue;
    }
    if (list !== allowed) {
      if (!stage.order.see(list, line, () => stage.where(line))) continue;
      allowed = list;
    }
    stage.follows(list, id);
    const rest = `${fields[f + 2]}\t${stage.direct ? '\\\\x' : ''}${fields[f + 3]}\t${fields[f + 4] || '\\N'}\t${fields[f + 5] || '\\N'}`;
    text += stage.direct ? `${list}\t${id}\t${rest}\n` : `${first + rows}\t${list}\t${id}\t0\t${rest}\t${line}\n`;
    rows++;
  }
  stage.append(text, rows);
  return true;
}

/**
 * Keeps one staged row per (list, id) in `hw_settled` (the first, or the last with `keepLast`; all
 * of them, renamed, when each list's ids came in ascending order, so none repeats) and
 * reports the repeats as bad rows, as the SQLite store does (a repeat that is the same row, without
 * ids of its own, dropped under dedupe `merge`).
 */
async function settle(
  client: PoolClient,
  bad: BadRows,
  where: (line: number | null) => string,
  merge: boolean,
  keepLast: boolean,
  staged: number,
  ascending: boolean,
): Promise<void> {
  if (ascending) {
    await client.query('ALTER TABLE hw_staged RENAME TO hw_settled');
    await client.query('ANALYZE hw_settled');
    return;
  }
  await client.query(
    `CREATE TEMP TABLE hw_settled ON COMMIT DROP AS SELECT DISTINCT ON (list, id) * FROM hw_staged ORDER BY list, id, seq${keepLast ? ' DESC' : ''}`,
  );
  await client.query('ANALYZE hw_settled');
  if (keepLast) return;
  const settled = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM hw_settled')).rows[0]?.n);
  let repeats = staged - settled;
  if (repeats === 0) return;
  const join = 'FROM hw_staged AS a JOIN hw_settled AS s ON s.list = a.list AND s.id = a.id WHERE s.seq <> a.seq';
  if (merge)
    repeats -= Number((await client.query<{ n: string }>(`SELECT count(*) AS n ${join} AND ${SAME_ROW}`)).rows[0]?.n);
  if (repeats === 0) return;
  const shown = await client.query<{ list: string; id: string; line: number | null; first: number | null }>(
    `SELECT a.list, a.id, a.line, s.line AS first ${join} AND NOT ($1 AND ${SAME_ROW}) ORDER BY a.seq LIMIT $2`,
    [merge, bad.onError === 'fail' ? 1 : MAX_SKIPPED],
  );
  for (const row of shown.rows) {
    bad.row(
      row.line,
      `${where(row.line)}: Duplicate id ${JSON.stringify(row.id)} in list ${JSON.stringify(row.list)}${row.first === null ? '' : `, first on line ${row.first}`}`,
    );
  }
  bad.count += repeats - shown.rows.length;
}

async function count(client: PoolClient, sql: string, params: unknown[]): Promise<number> {
  return Number((await client.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0);
}

/**
 * Applies the settled rows, list by list, under each list's advisory lock (or counts the `direct`
 * rows, copied or inserted sorted straight into the one list, empty before): refuses a replace that would empty a
 * list, bumps versions, removes, upserts, removes what a replace did not hold, refuses removals
 * that emptied a list (rolled back with the rest), records the import.
 */
async function apply(
  ctx: PgContext,
  client: PoolClient,
  order: ListOrder,
  resolved: ResolvedImport,
  direct: number | undefined,
): Promise<ImportSummary[]> {
  const now = new Date().toISOString();
  const lists = [...order.lists, ...[...resolved.replace].filter((name) => !order.has(name))];
  for (const list of [...lists].sort()) {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_SPACE, list]);
  }
  const size = (list: string): Promise<number> =>
    count(client, 'SELECT count(*) AS n FROM entries WHERE list = $1', [list]);
  const adds = new Map<string, number>();
  for (const list of lists) {
    const staged =
      direct ?? (await count(client, 'SELECT count(*) AS n FROM hw_settled WHERE list = $1 AND op = 0', [list]));
    adds.set(list, staged);
    if (resolved.replace.has(list) && !resolved.allowEmpty && staged === 0)
      throw emptiedList(resolved, list, await size(list));
  }
  const versions = new Map<string, number>();
  for (const list of lists) {
    const bumped = await client.query<{ version: number }>(
      `INSERT INTO lists (name, version, created_at, updated_at) VALUES ($1, 1, $2, $2)
       ON CONFLICT (name) DO UPDATE SET version = lists.version + 1, updated_at = excluded.updated_at RETURNING version`,
      [list, now],
    );
    versions.set(list, bumped.rows[0]?.version as number);
  }
  const tallies: Tally[] = [];
  for (const list of lists) {
    const staged = adds.get(list) ?? 0;
    if (direct !== undefined) {
      // Copied into the list, empty before: every row is a new entry.
      tallies.push({ list, added: staged, updated: 0, unchanged: 0, removed: 0 });
      continue;
    }
    const before = await size(list);
    const removed =
      (
        await client.query(
          'DELETE FROM entries AS e USING hw_settled AS s WHERE s.list = $1 AND s.op = 1 AND e.list = s.list AND e.id = s.id',
          [list],
        )
      ).rowCount ?? 0;
    // Into a list that was empty nothing can conflict: a plain insert skips the upsert's check of each row.
    const upsert = before === 0 ? INSERT_SETTLED : staged >= before * JOIN_MIN_SHARE ? UPSERT_CHANGED : UPSERT_SETTLED;
    const changed = (await client.query(upsert, [list])).rowCount ?? 0;
    let after = await size(list);
    const outside =
      resolved.replace.has(list) && after > staged
        ? ((
            await client.query(
              'DELETE FROM entries AS e WHERE e.list = $1 AND NOT EXISTS (SELECT 1 FROM hw_settled AS s WHERE s.list = e.list AND s.id = e.id)',
              [list],
            )
          ).rowCount ?? 0)
        : 0;
    after -= outside;
    if (after === 0 && before > 0 && !resolved.allowEmpty) throw emptiedList(resolved, list, before);
    const added = after - before + removed + outside;
    tallies.push({ list, added, updated: changed - added, unchanged: staged - changed, removed: removed + outside });
  }
  const mode: ImportMode = resolved.replace.size > 0 ? 'replace' : 'merge';
  if (resolved.checkpoint !== undefined) {
    await client.query(
      'INSERT INTO checkpoints (key, value, at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at',
      [resolved.checkpoint.key, resolved.checkpoint.value, now],
    );
  }
  const summaries: ImportSummary[] = [];
  for (const t of tallies) {
    const version = versions.get(t.list) as number;
    await client.query(
      'INSERT INTO imports (list, version, source, added, updated, unchanged, removed, mode, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
      [t.list, version, resolved.source, t.added, t.updated, t.unchanged, t.removed, mode, now],
    );
    summaries.push(Object.freeze({ ...t, version, mode }));
  }
  return summaries;
}

/** Stages one normal entry (a vPDQ entry's hash as the hex of its packed frames, as every import writes it). */
function addEntry(stage: Stage, entry: ListEntry, line: number | null): void {
  stage.add([
    entry.list,
    entry.id,
    0,
    entry.algorithm,
    entry.algorithm === VPDQ_ALGORITHM ? vpdqPackedHex(entry.hash) : entry.hash,
    entry.label ?? null,
    metadataJson(entry.metadata),
    line,
  ]);
}

/** {@link PgHashStore.importEntries}. */
export async function importEntries(
  ctx: PgContext,
  entries: Iterable<ListEntry>,
  options?: ImportOptions,
): Promise<ImportSummary[]> {
  const resolved = resolveEntries(entries, options);
  let index = 0;
  const iterator = entries[Symbol.iterator]();
  const { result } = (await copyImport(ctx, iterator, resolved, 'fail', true, (input: ListEntry, stage) => {
    const n = ++index;
    const entry = normalizeEntryAt(input, () => `Entry ${n}`);
    stage.order.see(entry.list, null, () => `Entry ${n}`);
    addEntry(stage, entry, null);
  })) as ImportDone;
  return [...result.summaries];
}

/** {@link PgHashStore.importRows}. */
export async function importRows(
  ctx: PgContext,
  batches: AsyncIterable<RowBatch> | Iterable<RowBatch>,
  options?: ImportRowsOptions,
): Promise<ImportResult> {
  const { iterator, resolved, onError } = resolveRows(batches, options);
  const { result } = (await copyImport(ctx, iterator, resolved, onError, false, (batch: RowBatch, stage) => {
    for (const row of batch.rows) {
      const at = (): string => stage.where(row.line);
      eachRow(
        row,
        at,
        stage.order,
        (entry) => addEntry(stage, entry, row.line ?? null),
        (list, id) => stage.remove(list, id, row.line ?? null, at),
      );
    }
  })) as ImportDone;
  return result;
}

/**
 * {@link PgHashStore.importFile}: the SQLite store's reader and options. A file of one list that is
 * empty, whose ids ascend, is copied straight into `entries` (`ordered: true`); any other is staged,
 * read again when the first way gave up at an id out of order.
 */
export async function importFile(ctx: PgContext, path: string, options: ImportFileOptions): Promise<ImportFileResult> {
  const { resolved, onError, thread, onProgress, read } = await resolveFileImport(path, options);
  const progress = progressReporter(path, onProgress);
  // Watching the order, the reader stops at the first id out of order: only the first way does.
  const reading = (checkOrder: boolean) => readPacked({ path, options: read, checkOrder }, thread);
  const writer = () => {
    const report = progress();
    return (batch: PackedBatch, stage: Stage): void => {
      report(batch);
      if (!copyPacked(batch, stage)) stagePacked(batch, stage, stage.add);
    };
  };
  const only = resolved.only;
  if (only !== undefined && (await mayGoStraight(ctx, resolved, only))) {
    const direct = await copyImport(ctx, reading(true), resolved, onError, false, writer(), {
      list: only,
      ordered: (batch: PackedBatch) => batch.unordered === undefined,
    });
    if (direct !== undefined) return fileResult(direct);
  }
  return fileResult((await copyImport(ctx, reading(false), resolved, onError, false, writer())) as ImportDone);
}

function fileResult({ result, returned, direct }: ImportDone): ImportFileResult {
  return Object.freeze({ ...result, read: returned as ListStreamSummary, ordered: direct });
}
