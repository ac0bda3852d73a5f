/**
 * The PostgreSQL store's schema: the tables of the SQLite store (src/store/schema.ts), with
 * PostgreSQL's types (hashes as `bytea`, times as `timestamptz`), created in an empty database and
 * checked in one that holds them. Names and ids are `COLLATE "C"`, so that the primary key's order
 * is byte order, as SQLite's: `entries()` reads in key order whatever the database's locale.
 * `entries.list` has no foreign key to `lists`: every import writes the list's row first, in its
 * own transaction, and the key's check of each inserted row cost about as much as the insert
 * (the SQLite store turns its own check off during imports for the same reason).
 *
 * Version 2 added each list's action and entry quarantine (src/postgres/quarantine.ts): a writer
 * connecting to a version 1 store upgrades it, under the schema's advisory lock, in the
 * transaction that checks it; a read-only connection reads it as it is (every list a block list,
 * nothing quarantined).
 */
import { HashwardenError } from '../errors.js';
import { pgError, type PgContext } from './context.js';
import type { PoolClient } from './driver.js';
import { PG_SCHEMA_VERSION } from './types.js';

/**
 * The first key of the advisory locks the store takes (the second names the list, or 0 for the
 * schema): "hash" in ASCII, so that they are told apart from an application's own locks.
 */
export const LOCK_SPACE = 0x68617368;

/**
 * What a store's tables are: the list store's here, the seen store's in seen-schema.ts. Checked by
 * {@link prepareSchema} the same way for both.
 */
export interface SchemaSpec {
  /** The store as messages call it ("store", "seen store"). */
  readonly kind: string;
  /** The second key of the schema's advisory lock, under its first ({@link LOCK_SPACE} or the seen store's). */
  readonly lock: readonly [number, number];
  /** The tables, in order; the first carries the mark. */
  readonly tables: readonly string[];
  /** The SQL that creates them. */
  readonly sql: string;
  /** Each table's columns as `name type nullable collation`, in order, as this release creates them. */
  readonly columns: Readonly<Record<string, readonly string[]>>;
  /** The comment on the first table: `<prefix> <version>`. */
  readonly markPrefix: string;
  readonly version: number;
  /**
   * The older versions a writer upgrades (and a read-only connection reads as they are), by
   * version: their tables and columns, and the SQL that takes one to the next version (setting the mark).
   */
  readonly older?: Readonly<Record<number, OlderSchema>>;
}

/** An older version of a schema: what it holds, and the SQL that upgrades it by one version. */
export interface OlderSchema {
  readonly tables: readonly string[];
  readonly columns: Readonly<Record<string, readonly string[]>>;
  readonly upgrade: string;
}

const TABLES = ['lists', 'entries', 'imports', 'checkpoints', 'quarantine', 'entry_events'] as const;

/**
 * Entries disabled by hand (quarantine.ts), keyed by list and id, not by the import that brought
 * the entry, so that a quarantine outlives re-imports and replaces of the list; and the entry each
 * `disable`/`enable` record of `imports` names (its `seq`), with the reason and end: SQLite's tables.
 */
const QUARANTINE_TABLES = `CREATE TABLE quarantine (
  list text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  reason text NOT NULL,
  since timestamptz NOT NULL,
  until timestamptz,
  PRIMARY KEY (list, id)
);
CREATE TABLE entry_events (
  seq bigint PRIMARY KEY,
  id text COLLATE "C" NOT NULL,
  reason text,
  until timestamptz
);`;

/** A list's action: what every list was before version 2 is the default. */
const ACTION_COLUMN = "action text NOT NULL DEFAULT 'block' CHECK (action IN ('block', 'allow'))";

const SCHEMA = `
CREATE TABLE lists (
  name text COLLATE "C" PRIMARY KEY,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  label text,
  thresholds text,
  enabled boolean NOT NULL DEFAULT true,
  ${ACTION_COLUMN}
);
CREATE TABLE entries (
  list text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  algorithm text NOT NULL,
  hash bytea NOT NULL,
  label text,
  metadata text,
  PRIMARY KEY (list, id)
);
CREATE TABLE imports (
  seq bigserial PRIMARY KEY,
  list text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  source text,
  added integer NOT NULL,
  updated integer NOT NULL,
  unchanged integer NOT NULL,
  removed integer NOT NULL,
  mode text NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX imports_list ON imports (list, seq);
CREATE TABLE checkpoints (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  at timestamptz NOT NULL
);
${QUARANTINE_TABLES}
COMMENT ON TABLE lists IS 'hashwarden store schema ${PG_SCHEMA_VERSION}';
`;

/** Each table's columns as `name type nullable collation`, in order, as this release creates them. */
const EXPECTED: Readonly<Record<(typeof TABLES)[number], readonly string[]>> = {
  lists: [
    'name text NO C',
    'version integer NO',
    'created_at timestamp with time zone NO',
    'updated_at timestamp with time zone NO',
    'label text YES',
    'thresholds text YES',
    'enabled boolean NO',
    'action text NO',
  ],
  entries: [
    'list text NO C',
    'id text NO C',
    'algorithm text NO',
    'hash bytea NO',
    'label text YES',
    'metadata text YES',
  ],
  imports: [
    'seq bigint NO',
    'list text NO C',
    'version integer NO',
    'source text YES',
    'added integer NO',
    'updated integer NO',
    'unchanged integer NO',
    'removed integer NO',
    'mode text NO',
    'at timestamp with time zone NO',
  ],
  checkpoints: ['key text NO C', 'value text NO', 'at timestamp with time zone NO'],
  quarantine: [
    'list text NO C',
    'id text NO C',
    'reason text NO',
    'since timestamp with time zone NO',
    'until timestamp with time zone YES',
  ],
  entry_events: ['seq bigint NO', 'id text NO C', 'reason text YES', 'until timestamp with time zone YES'],
};

/**
 * Version 1 (hashwarden before allow lists and quarantine): no action, no quarantine tables. Its
 * upgrade adds them; the column's default makes every list a block list, as it was.
 */
const VERSION_1: OlderSchema = {
  tables: TABLES.slice(0, 4),
  columns: {
    lists: EXPECTED.lists.filter((c) => !c.startsWith('action ')),
    entries: EXPECTED.entries,
    imports: EXPECTED.imports,
    checkpoints: EXPECTED.checkpoints,
  },
  upgrade: `ALTER TABLE lists ADD COLUMN ${ACTION_COLUMN};
${QUARANTINE_TABLES}
COMMENT ON TABLE lists IS 'hashwarden store schema 2';`,
};

/** The list store's tables. */
const LIST_SCHEMA: SchemaSpec = {
  kind: 'store',
  lock: [LOCK_SPACE, 0],
  tables: TABLES,
  sql: SCHEMA,
  columns: EXPECTED,
  markPrefix: 'hashwarden store schema',
  version: PG_SCHEMA_VERSION,
  older: { 1: VERSION_1 },
};

function notAStore(ctx: PgContext, spec: SchemaSpec, why: string): HashwardenError {
  return new HashwardenError('ERR_STORE', `PostgreSQL store ${ctx.label}: not a hashwarden ${spec.kind} (${why})`);
}

/**
 * Checks the schema in the connection's `search_path`, creating it when the database holds none of
 * its tables and `create` allows; refuses tables whose columns differ, a trigger on them (it would
 * run inside every import), or a version it does not know (a newer one: upgrade hashwarden). An
 * older version ({@link SchemaSpec.older}) is upgraded when the store is writable, and read as it
 * is when read-only; `ctx.schemaVersion` is set to the version the store has then. Runs under an
 * advisory lock, so that two processes connecting to a new or old database at once create or
 * upgrade it once (the second, waiting on the lock, finds it done).
 */
export async function prepareSchema(
  ctx: PgContext,
  client: PoolClient,
  create: boolean,
  spec: SchemaSpec = LIST_SCHEMA,
): Promise<void> {
  const [first] = spec.tables as [string];
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...spec.lock]);
    let present = await tablesPresent(client, spec.tables);
    if (present.length === 0) {
      if (!create) throw notAStore(ctx, spec, 'the database holds none of its tables');
      await client.query(spec.sql);
    }
    let version = await markedVersion(ctx, client, spec, first);
    const older = spec.older?.[version];
    if (version !== spec.version && older === undefined) {
      const why = version > spec.version ? 'newer than this hashwarden supports; upgrade hashwarden' : 'unknown';
      throw new HashwardenError(
        'ERR_STORE',
        `PostgreSQL store ${ctx.label}: ${spec.kind} schema version ${version} is ${why} (this hashwarden reads version ${spec.version})`,
      );
    }
    const shape = older ?? spec;
    present = await tablesPresent(client, shape.tables);
    const missing = shape.tables.filter((t) => !present.includes(t));
    if (missing.length > 0) throw notAStore(ctx, spec, `tables missing: ${missing.join(', ')}`);
    // Before anything is written: an altered store is refused, never upgraded.
    await refuseAltered(ctx, client, spec, shape);
    if (older !== undefined && !ctx.readonly) {
      for (let step = spec.older?.[version]; step !== undefined; step = spec.older?.[version]) {
        await client.query(step.upgrade);
        version = await markedVersion(ctx, client, spec, first);
      }
      await refuseAltered(ctx, client, spec, spec);
    }
    await client.query('COMMIT');
    ctx.schemaVersion = version;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw pgError(ctx, error);
  }
}

/** The version the first table's comment gives; `ERR_STORE` when it carries none. */
async function markedVersion(ctx: PgContext, client: PoolClient, spec: SchemaSpec, first: string): Promise<number> {
  const mark = await client.query<{ mark: string | null }>(
    "SELECT obj_description(to_regclass($1), 'pg_class') AS mark",
    [first],
  );
  const found = mark.rows[0]?.mark ?? null;
  const tail = found?.startsWith(`${spec.markPrefix} `) ? found.slice(spec.markPrefix.length + 1) : '';
  if (!/^\d{1,9}$/.test(tail)) throw notAStore(ctx, spec, `its ${first} table carries no hashwarden schema version`);
  return Number(tail);
}

/** Those of `tables` the connection's `search_path` finds. */
async function tablesPresent(client: PoolClient, tables: readonly string[]): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    'SELECT t AS name FROM unnest($1::text[]) AS t WHERE to_regclass(quote_ident(t)) IS NOT NULL',
    [tables],
  );
  return result.rows.map((row) => row.name);
}

/** Refuses tables whose columns are not those of `shape` (a version of the schema), and triggers on them. */
async function refuseAltered(
  ctx: PgContext,
  client: PoolClient,
  spec: SchemaSpec,
  shape: Pick<SchemaSpec, 'tables' | 'columns'>,
): Promise<void> {
  for (const table of shape.tables) {
    const columns = await client.query<{ shape: string }>(
      `SELECT concat_ws(' ', a.attname, format_type(a.atttypid, NULL), CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END,
         CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END) AS shape
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [table],
    );
    const have = columns.rows.map((row) => row.shape);
    const want = shape.columns[table] as readonly string[];
    if (have.length !== want.length || have.some((shape, i) => shape !== want[i])) {
      throw notAStore(
        ctx,
        spec,
        `its table ${JSON.stringify(table)} is not the one the hashwarden schema defines: altered by hand; it is not used`,
      );
    }
  }
  const triggers = await client.query<{ name: string; table: string }>(
    `SELECT tgname AS name, tgrelid::regclass::text AS table FROM pg_trigger
     WHERE NOT tgisinternal AND tgrelid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)`,
    [shape.tables],
  );
  const trigger = triggers.rows[0];
  if (trigger !== undefined) {
    throw notAStore(
      ctx,
      spec,
      `it holds trigger ${JSON.stringify(trigger.name)} on ${JSON.stringify(trigger.table)}, which the hashwarden schema does not define; it is not used`,
    );
  }
}
