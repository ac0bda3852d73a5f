/**
 * The PostgreSQL seen store's tables, beside the list store's in the same database (names prefixed
 * `seen_`), checked as the list store's are (src/postgres/schema.ts): created in a database holding
 * none of them, refused when altered, holding a trigger, or of another version. The rescan tables
 * are the SQLite seen store's (src/seen/schema.ts, docs/retroactive.md): `known` keeps each entry
 * taken into account with the list version it was found new in (`since`) and the round that found
 * it; `state` the last finished round; `cursor` the round under way.
 */
import { MAX_HASHES_BYTES, MAX_VERSIONS_BYTES } from '../seen/record.js';
import type { PgContext } from './context.js';
import type { PoolClient } from './driver.js';
import { prepareSchema, type SchemaSpec } from './schema.js';

/**
 * The PostgreSQL seen store's schema version (1), kept as the comment of `seen_uploads`: a store
 * with another is refused rather than guessed at.
 *
 * @example
 * ```ts
 * console.log(`hashwarden PostgreSQL seen schema v${PG_SEEN_SCHEMA_VERSION}`);
 * ```
 */
export const PG_SEEN_SCHEMA_VERSION = 1;

/**
 * The first key of the seen store's advisory locks: "seen" in ASCII, apart from the list store's
 * ("hash") and from an application's own. The second is one of {@link SEEN_LOCKS}.
 */
export const SEEN_LOCK_SPACE = 0x7365656e;

/**
 * The seen store's advisory locks, under {@link SEEN_LOCK_SPACE}. `rescan`: held by the rescan
 * under way (session-scoped, on its own connection). `record`: taken shared by each record's
 * transaction, exclusive by a round fixing its last sequence number (seen-rescan.ts says why).
 */
export const SEEN_LOCKS = { schema: 0, rescan: 1, record: 2 } as const;

/**
 * PostgreSQL's earliest time (4714-11-24 BC), in ms since the epoch. A JavaScript Date reaches
 * further back; a bound before it (an `expire` date, a rescan's `since`, whose default is the
 * earliest safe integer) excludes nothing, so it is taken as this one rather than sent out of range.
 */
const PG_EARLIEST_MS = -210_866_803_200_000;

/**
 * `$n` (ms since the epoch, at or after {@link PG_EARLIEST_MS}) as a `timestamptz`, exactly: whole
 * milliseconds, no float seconds.
 */
export function pgTime(param: number): string {
  return `(timestamptz 'epoch' + $${param}::bigint * interval '1 millisecond')`;
}

/** A bound in ms since the epoch as {@link pgTime} takes it: one before PostgreSQL's earliest time is that time. */
export function pgBound(ms: number): number {
  return Math.max(ms, PG_EARLIEST_MS);
}

/** `seen_uploads.versions` as reads take it: NULL when over the bound a record writes, never read. */
export const PG_SEEN_VERSIONS_COLUMN = `CASE WHEN octet_length(versions) > ${MAX_VERSIONS_BYTES} THEN NULL ELSE versions END AS versions`;

/**
 * The columns of `seen_uploads` as reads take them (src/seen/record.ts's `SeenRow`): the time in
 * ms since the epoch, hashes and versions NULL when over the bounds a record writes, never read.
 */
export const PG_SEEN_READ_COLUMNS = `content_id, (extract(epoch FROM at) * 1000)::float8 AS at, ${PG_SEEN_VERSIONS_COLUMN},
  CASE WHEN octet_length(hashes) > ${MAX_HASHES_BYTES} THEN NULL ELSE hashes END AS hashes`;

const SQL = `
CREATE TABLE seen_uploads (
  seq bigserial PRIMARY KEY,
  content_id text COLLATE "C" NOT NULL UNIQUE,
  at timestamptz NOT NULL,
  versions text NOT NULL,
  hashes bytea NOT NULL
);
CREATE INDEX seen_uploads_at ON seen_uploads (at);
CREATE TABLE seen_known (
  list text COLLATE "C" NOT NULL,
  key bytea NOT NULL,
  id text COLLATE "C" NOT NULL,
  algorithm text NOT NULL,
  hash bytea NOT NULL,
  since integer NOT NULL,
  round bigint NOT NULL,
  PRIMARY KEY (list, key)
);
CREATE INDEX seen_known_round ON seen_known (round);
CREATE TABLE seen_known_lists (
  list text COLLATE "C" PRIMARY KEY,
  version integer NOT NULL
);
CREATE TABLE seen_state (
  one integer PRIMARY KEY,
  round bigint NOT NULL,
  scanned bigint NOT NULL
);
CREATE TABLE seen_cursor (
  one integer PRIMARY KEY,
  seq bigint NOT NULL,
  round bigint NOT NULL,
  scanned bigint NOT NULL,
  upto bigint NOT NULL
);
COMMENT ON TABLE seen_uploads IS 'hashwarden seen schema ${PG_SEEN_SCHEMA_VERSION}';
`;

const SEEN_SCHEMA: SchemaSpec = {
  kind: 'seen store',
  lock: [SEEN_LOCK_SPACE, SEEN_LOCKS.schema],
  tables: ['seen_uploads', 'seen_known', 'seen_known_lists', 'seen_state', 'seen_cursor'],
  sql: SQL,
  columns: {
    seen_uploads: [
      'seq bigint NO',
      'content_id text NO C',
      'at timestamp with time zone NO',
      'versions text NO',
      'hashes bytea NO',
    ],
    seen_known: [
      'list text NO C',
      'key bytea NO',
      'id text NO C',
      'algorithm text NO',
      'hash bytea NO',
      'since integer NO',
      'round bigint NO',
    ],
    seen_known_lists: ['list text NO C', 'version integer NO'],
    seen_state: ['one integer NO', 'round bigint NO', 'scanned bigint NO'],
    seen_cursor: ['one integer NO', 'seq bigint NO', 'round bigint NO', 'scanned bigint NO', 'upto bigint NO'],
  },
  markPrefix: 'hashwarden seen schema',
  version: PG_SEEN_SCHEMA_VERSION,
};

/** Checks (creating when allowed) the seen store's tables; see {@link prepareSchema}. */
export function prepareSeenSchema(ctx: PgContext, client: PoolClient, create: boolean): Promise<void> {
  return prepareSchema(ctx, client, create, SEEN_SCHEMA);
}
