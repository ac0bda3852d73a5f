/**
 * What the two ways of importing share (the staged one, `staged-import.ts`, and the ordered one,
 * `ordered-import.ts`): options, the transaction, the lists an import names, version bumps, the
 * history record, and the errors that refuse an import.
 */
import { HashwardenError, isHashwardenError } from '../errors.js';
import { MAX_FIELD_LENGTH, normalEntry, type ListEntry } from '../lists/entry.js';
import { boolean, invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { MAX_PATH_LENGTH, resolveDedupe, type DedupePolicy } from '../lists/formats.js';
import { storeError, type StoreContext } from './context.js';
import {
  MAX_CHECKPOINT_BYTES,
  type ImportMode,
  type ImportOptions,
  type ImportRow,
  type ImportRowsOptions,
  type ImportSummary,
} from './types.js';

/** Rows per multi-row insert (staging, and the ordered import): one call into SQLite for 128 rows. */
export const STAGE_CHUNK = 128;

/** The update of an upsert, skipped when nothing changed: the row and its pages stay as they are. */
export const UPSERT_SET = `algorithm = excluded.algorithm, hash = excluded.hash, label = excluded.label, metadata = excluded.metadata
WHERE NOT (entries.algorithm IS excluded.algorithm AND entries.hash IS excluded.hash AND entries.label IS excluded.label AND entries.metadata IS excluded.metadata)`;

/** {@link ImportOptions}, checked, with their defaults. */
export interface ResolvedImport {
  readonly source: string | null;
  readonly replace: ReadonlySet<string>;
  readonly allowEmpty: boolean;
  /** Rows repeating an identical earlier one without an id: dropped (`merge`) or bad rows (`fail`). */
  readonly dedupe: DedupePolicy;
  /**
   * The one list an import may touch (`importFile` without `multiList`): rows of any other are bad
   * rows. `undefined`: rows name their lists (`importEntries`, `importRows`, `multiList`).
   */
  readonly only: string | undefined;
  /** Written in the import's transaction: where a sync stopped (`ImportOptions.checkpoint`). */
  readonly checkpoint: { readonly key: string; readonly value: string } | undefined;
}

/** Checks an import's options (TypeError / RangeError) and fills in the defaults. */
export function resolveImport(options: ImportOptions | undefined): ResolvedImport {
  const o = optionsObject(options, 'options');
  const replace = new Set<string>();
  if (o.replace !== undefined) {
    if (!Array.isArray(o.replace)) invalid('array of list names', 'replace', o.replace);
    for (const name of o.replace as unknown[]) replace.add(nonEmptyString(name, 'replace[]', MAX_FIELD_LENGTH).trim());
  }
  return Object.freeze({
    source: o.source === undefined ? null : nonEmptyString(o.source, 'source', MAX_PATH_LENGTH),
    replace,
    allowEmpty: o.allowEmpty === undefined ? false : boolean(o.allowEmpty, 'allowEmpty'),
    dedupe: resolveDedupe((o as ImportRowsOptions).dedupe),
    only: undefined,
    checkpoint: resolveCheckpoint(o.checkpoint),
  });
}

/** Checks `ImportOptions.checkpoint`: a key and a value, each a bounded string. */
function resolveCheckpoint(value: ImportOptions['checkpoint']): ResolvedImport['checkpoint'] {
  if (value === undefined) return undefined;
  const c = optionsObject(value, 'checkpoint');
  const key = nonEmptyString(c.key, 'checkpoint.key', MAX_FIELD_LENGTH);
  if (typeof c.value !== 'string') invalid('string', 'checkpoint.value', c.value);
  if (Buffer.byteLength(c.value) > MAX_CHECKPOINT_BYTES) {
    invalid(`string of at most ${MAX_CHECKPOINT_BYTES} bytes`, 'checkpoint.value', c.value, true);
  }
  return Object.freeze({ key, value: c.value });
}

/** What one import did to one list, before its version is known. */
export interface Tally {
  readonly list: string;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly removed: number;
}

/** A removal row in a replace, refused: a replace holds the whole list. */
export function removalInReplace(at: string): HashwardenError {
  return new HashwardenError(
    'ERR_LIST_FORMAT',
    `${at}: a removal row in a replace (a replace holds the whole list; import removals without --replace)`,
  );
}

/**
 * An import that would leave a list that held entries empty (a replace without entries for it, or
 * removal rows taking its last ones): refused unless allowed, since a truncated download, or a
 * delta gone wrong, must not wipe a list and let everything it listed through.
 */
export function emptiedList(resolved: ResolvedImport, list: string, entries: number): HashwardenError {
  const how = resolved.replace.has(list)
    ? `no entries for list ${JSON.stringify(list)}, which a replace would empty`
    : `removal rows would empty list ${JSON.stringify(list)}`;
  return new HashwardenError(
    'ERR_LIST_FORMAT',
    `${resolved.source ?? 'the import'}: ${how} (${entries} entries); allow it explicitly (allowEmpty, --allow-empty)`,
  );
}

/** Most bad rows an import keeps the lines of under `onError: 'skip'` (the count is exact). */
export const MAX_SKIPPED = 1000;

/**
 * The rows an import itself finds bad (a repeated id, a row of a list it may not touch): each
 * refuses the import (`fail`) or is skipped and counted (`skip`).
 */
export class BadRows {
  readonly shown: { readonly line: number; readonly message: string }[] = [];
  count = 0;

  constructor(readonly onError: 'fail' | 'skip') {}

  /** Refuses the import with `message` (`source:line: …`), or counts the row as skipped. */
  row(line: number | null | undefined, message: string): void {
    if (this.onError === 'fail') throw new HashwardenError('ERR_LIST_FORMAT', message);
    this.count++;
    if (this.shown.length < MAX_SKIPPED) this.shown.push(Object.freeze({ line: line ?? 0, message }));
  }
}

/**
 * The lists an import names, in order of first appearance: only those it may touch (the replaced
 * ones in a replace, the one list of `importFile` without `multiList`). A row of any other is a bad
 * row, since one provider's file must not change another's list.
 */
export class ListOrder {
  readonly lists: string[] = [];
  readonly #seen = new Set<string>();

  constructor(
    readonly options: ResolvedImport,
    readonly bad: BadRows,
  ) {}

  /** True when rows of `list` may be imported; else the row is bad (the import refused, or the row skipped). */
  see(list: string, line: number | null | undefined, where: () => string): boolean {
    if (this.#seen.has(list)) return true;
    const refusal = this.#refusal(list);
    if (refusal !== undefined) {
      this.bad.row(line, `${where()}: ${refusal}`);
      return false;
    }
    this.#seen.add(list);
    this.lists.push(list);
    return true;
  }

  /** Why rows of `list` may not be imported, if they may not. */
  #refusal(list: string): string | undefined {
    const { replace, only } = this.options;
    const name = JSON.stringify(list);
    if (replace.size > 0) {
      if (replace.has(list)) return undefined;
      return `an entry of list ${name} in a replace of ${[...replace].map((n) => JSON.stringify(n)).join(', ')}`;
    }
    if (only === undefined || list === only) return undefined;
    return `a row of list ${name} in an import of list ${JSON.stringify(only)} (to import a file of several lists, allow it: multiList, --multi-list)`;
  }

  has(list: string): boolean {
    return this.#seen.has(list);
  }
}

/**
 * Hands each value of `iterator` to `each` until it ends; returns what it returned. An error from
 * the iterator itself is marked with `rowsFailed` (it passes through the rollback unchanged); the
 * iterator is closed if the loop is left early.
 */
export async function drain<B, R>(
  iterator: AsyncIterator<B, R> | Iterator<B, R>,
  rowsFailed: (error: unknown) => void,
  each: (value: B) => void,
): Promise<R> {
  let done = false;
  try {
    for (;;) {
      let step: IteratorResult<B, R>;
      try {
        step = await iterator.next();
      } catch (error) {
        rowsFailed(error);
        throw error;
      }
      if (step.done === true) {
        done = true;
        return step.value;
      }
      each(step.value);
    }
  } finally {
    if (!done) await iterator.return?.();
  }
}

/**
 * One transaction around an import that may await its rows: begun before the first, committed
 * after the last, rolled back on any failure (the error passing through `storeError`, except
 * the rows' own). `ctx.importing` keeps other calls off the connection meanwhile.
 */
export async function transaction<T>(
  ctx: StoreContext,
  body: (rowsFailed: (error: unknown) => void) => Promise<T>,
): Promise<T> {
  const db = ctx.db;
  ctx.importing = true;
  let sourceFailure: { error: unknown } | undefined;
  // Every entry an import writes belongs to a list whose row it wrote first (its version bump),
  // so the foreign key's check of each row, a lookup in `lists`, is skipped (SQLite reads the
  // setting only outside a transaction), a measurable part of each insert's work.
  db.pragma('foreign_keys = OFF');
  try {
    db.exec('BEGIN IMMEDIATE');
    const value = await body((error) => (sourceFailure = { error }));
    db.exec('COMMIT');
    return value;
  } catch (error) {
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } catch {
      // The import already failed; that error is the one to report.
    }
    if (sourceFailure !== undefined && error === sourceFailure.error) throw error;
    throw storeError(ctx.path, error);
  } finally {
    db.pragma('foreign_keys = ON');
    ctx.importing = false;
  }
}

/** Creates each list not yet stored (version 1) and bumps the others; the new versions. */
export function bumpVersions(ctx: StoreContext, lists: readonly string[], now: string): Map<string, number> {
  const versions = new Map<string, number>();
  for (const list of lists) versions.set(list, bumpVersion(ctx, list, now));
  return versions;
}

/** Creates a list not yet stored (version 1) or bumps its version; the new version. */
export function bumpVersion(ctx: StoreContext, list: string, now: string): number {
  const stored = ctx.selectList.get(list);
  if (stored === undefined) {
    ctx.insertList.run(list, now, now);
    return 1;
  }
  ctx.bumpList.run(stored.version + 1, now, list);
  return stored.version + 1;
}

/** Writes each list's import to the history; the summaries. */
export function record(
  ctx: StoreContext,
  tallies: readonly Tally[],
  versions: ReadonlyMap<string, number>,
  resolved: ResolvedImport,
  now: string,
): ImportSummary[] {
  const mode: ImportMode = resolved.replace.size > 0 ? 'replace' : 'merge';
  ctx.insertImport ??= ctx.db.prepare(
    'INSERT INTO imports (list, version, source, added, updated, unchanged, removed, mode, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const record = ctx.insertImport;
  if (resolved.checkpoint !== undefined) {
    ctx.db
      .prepare(
        'INSERT INTO checkpoints (key, value, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at',
      )
      .run(resolved.checkpoint.key, resolved.checkpoint.value, now);
  }
  return tallies.map((t) => {
    const version = versions.get(t.list) as number;
    record.run(t.list, version, resolved.source, t.added, t.updated, t.unchanged, t.removed, mode, now);
    return Object.freeze({ ...t, version, mode });
  });
}

/** A batch of import rows, as `importRows` takes them. */
export type RowBatch = { readonly rows: readonly ImportRow[] };

/**
 * `importEntries`' arguments, checked (TypeError / RangeError): the entries must be iterable; the
 * import's options resolved. Both stores (SQLite's, PostgreSQL's) take them so.
 */
export function resolveEntries(entries: Iterable<ListEntry>, options: ImportOptions | undefined): ResolvedImport {
  if (
    entries === null ||
    typeof entries !== 'object' ||
    typeof (entries as Iterable<ListEntry>)[Symbol.iterator] !== 'function'
  ) {
    invalid('iterable of list entries', 'entries', entries);
  }
  return resolveImport(options);
}

/**
 * `importRows`' arguments, checked (TypeError / RangeError): an iterator over the batches, the
 * import's options and the bad-row policy. Both stores (SQLite's, PostgreSQL's) take them so.
 */
export function resolveRows(
  batches: AsyncIterable<RowBatch> | Iterable<RowBatch>,
  options: ImportRowsOptions | undefined,
): { iterator: AsyncIterator<RowBatch> | Iterator<RowBatch>; resolved: ResolvedImport; onError: 'fail' | 'skip' } {
  const iterable = batches as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
  if (
    iterable === null ||
    typeof iterable !== 'object' ||
    (typeof iterable[Symbol.asyncIterator] !== 'function' && typeof iterable[Symbol.iterator] !== 'function')
  ) {
    invalid('iterable of row batches', 'batches', batches);
  }
  const resolved = resolveImport(options);
  const o = optionsObject(options, 'options');
  const onError = o.onError === undefined ? 'fail' : oneOf(o.onError, ['fail', 'skip'] as const, 'onError');
  const iterator =
    typeof (batches as AsyncIterable<RowBatch>)[Symbol.asyncIterator] === 'function'
      ? (batches as AsyncIterable<RowBatch>)[Symbol.asyncIterator]()
      : (batches as Iterable<RowBatch>)[Symbol.iterator]();
  return { iterator, resolved, onError };
}

/** `normalEntry`, its errors prefixed with where the row is (`source:line`, `Entry n`). */
export function normalizeEntryAt(input: ListEntry, at: () => string): ListEntry {
  try {
    return normalEntry(input);
  } catch (error) {
    const code = isHashwardenError(error) ? error.code : 'ERR_LIST_FORMAT';
    throw new HashwardenError(code, `${at()}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Hands one import row to `add` (its entry normal, when its list may be imported) or `remove` (its
 * list and id checked and trimmed); any other `op` is `ERR_LIST_FORMAT` at `at()`.
 */
export function eachRow(
  row: ImportRow,
  at: () => string,
  order: ListOrder,
  add: (entry: ListEntry) => void,
  remove: (list: string, id: string) => void,
): void {
  if (row.op === 'add') {
    const entry = normalizeEntryAt(row.entry, at);
    if (order.see(entry.list, row.line, at)) add(entry);
  } else if (row.op === 'remove') {
    remove(
      nonEmptyString(row.list, 'list', MAX_FIELD_LENGTH).trim(),
      nonEmptyString(row.id, 'id', MAX_FIELD_LENGTH).trim(),
    );
  } else {
    throw new HashwardenError(
      'ERR_LIST_FORMAT',
      `${at()}: Expected add or remove for op but received ${JSON.stringify((row as { op?: unknown }).op)}`,
    );
  }
}
