/**
 * The shapes of the prepared statements each way of importing makes once per connection (the
 * ordered import's and the staging table's), kept apart from both so that the connection's context
 * can hold them without importing the code that prepares them.
 */
import type { Statement } from './driver.js';

/** A value bound into a staged or packed row. */
export type StagedValue = string | number | null;

/** One staged row's values, in the staging table's column order. */
export type StagedParameters = [
  list: string,
  id: string,
  op: number,
  algorithm: string | null,
  hash: string | null,
  label: string | null,
  metadata: string | null,
  line: number | null,
];

/** The ordered import's statements, made once per connection. */
export interface OrderedStatements {
  /** `STAGE_CHUNK` packed rows (list, id, algorithm, hex hash, label, metadata) upserted. */
  readonly upsertChunk: Statement<[StagedValue[]]>;
  readonly upsertOne: Statement<[StagedValue[]]>;
  /** The same as plain inserts, for a list that was empty. */
  readonly insertChunk: Statement<[StagedValue[]]>;
  readonly insertOne: Statement<[StagedValue[]]>;
  /** `STAGE_CHUNK` bare rows (id, algorithm, hex hash) of the list `@list`, upserted or inserted. */
  readonly bareUpsertChunk: Statement<[StagedValue[], { list: string }]>;
  readonly bareInsertChunk: Statement<[StagedValue[], { list: string }]>;
  readonly removeOne: Statement<[string, string]>;
  /** The entries of a list (the store's count statement). */
  readonly size: (list: string) => number;
  /** In a replace: deletes the entries of a list (1st value) with 2nd < id <= 3rd other than the n ids that follow. */
  readonly gap: (n: number) => Statement<[StagedValue[]]>;
  /** In a replace: how many entries of a list lie in (2nd, 3rd]. */
  readonly range: Statement<[string, string, string], number>;
  /** In a replace: the entries after the last id. */
  readonly after: Statement<[string, string]>;
  readonly all: Statement<[string]>;
}

/** The staging statements of a connection. */
export interface Staging {
  readonly add: Statement<StagedParameters>;
  readonly addChunk: Statement<[StagedValue[]]>;
  /** For `importEntries`, where a repeated (list, id) keeps the last one. */
  readonly replaceAdd: Statement<StagedParameters>;
  readonly replaceAddChunk: Statement<[StagedValue[]]>;
  readonly line: Statement<[string, string], number | null>;
  readonly outside: Statement<[string], number>;
  readonly upsert: Statement<[string]>;
  readonly remove: Statement<[string]>;
  readonly stagedAdds: Statement<[string], number>;
  readonly removeOutside: Statement<[string]>;
  readonly clear: Statement<[]>;
  readonly arrive: Statement<StagedParameters>;
  readonly arriveChunk: Statement<[StagedValue[]]>;
  readonly settle: Statement<[]>;
  readonly repeated: Statement<
    [number, number],
    { list: string; id: string; line: number | null; first: number | null }
  >;
  readonly sameArrivals: Statement<[], number>;
  /**
   * 1 when the staged row of (list, id) is an add whose id is `<algorithm>:<hash>` (a vPDQ one of
   * that shape) and whose algorithm and hash are those given.
   */
  readonly sameStaged: Statement<[string, string, string | null, string | null], number>;
}
