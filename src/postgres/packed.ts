/**
 * Reading whole lists of the PostgreSQL store for a matcher (`Matcher.open(store)`) or a snapshot
 * (`PgHashStore.exportSnapshot`): the lists' headers and their entries in one REPEATABLE READ READ
 * ONLY transaction, so that versions and entries agree while another process imports, straight
 * into the packed layout a snapshot holds (src/store/load.ts does the same for SQLite), with no
 * object per entry. PostgreSQL does the per-row work: a list's rows come in batches by key, each
 * batch one row per algorithm of aggregates (the ids joined by zero bytes, which PostgreSQL's text
 * cannot hold, the hashes back to back), so JavaScript touches a batch, not a row. A batch holding
 * anything but the plain case (a label or metadata, a value over its bound, a hash of another
 * width, an algorithm no import writes) is read row by row as `entries()` reads it, with the same
 * checks and errors. Entries quarantined (quarantine.ts) at the moment of the read are left out in
 * SQL, for the lists that have any. vPDQ entries (a video's frames, not one fixed-size hash) are
 * read apart, row by row, into the `PackedVpdq` of `PackedLists.videos`, in the same transaction.
 */
import { ALGORITHM_NAMES, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import { VPDQ_ALGORITHM } from '../algorithms/vpdq.js';
import { HashwardenError } from '../errors.js';
import { MAX_FIELD_BYTES, MAX_FIELD_LENGTH } from '../lists/entry.js';
import { chooseLists, listSignature, type PackedLists } from '../matcher/store-source.js';
import { MAX_PACKED_LISTS, PackedBuilder, type PackedEntries } from '../search/entry-table.js';
import type { PackedVpdq } from '../search/vpdq.js';
import type { SnapshotQuarantine } from '../snapshot/format.js';
import type { ListHeader } from '../store/types.js';
import { packVideos, type StoredVideo } from '../store/vpdq.js';
import { inSnapshot, type PgContext } from './context.js';
import type { PoolClient } from './driver.js';
import { notQuarantined, quarantinedOn } from './quarantine.js';
import { listHeaders, READ_COLUMNS, toEntry, type Row } from './reads.js';

/**
 * Rows per batch: as the SQLite reader's, large enough that a round trip and its parsing are noise
 * beside the rows', small enough that a batch's aggregates stay well under a megabyte.
 */
const BATCH_ROWS = 8192;

/** Each algorithm's hash width in bytes, as SQL: NULL for a name no import writes. */
const WIDTH = `CASE algorithm ${ALGORITHM_NAMES.map((name) => `WHEN '${name}' THEN ${getAlgorithm(name).bits / 8}`).join(' ')} END`;

/** A row is the plain case: nothing but an id within its bound and a hash of its algorithm's width. */
const PLAIN = `label IS NULL AND metadata IS NULL AND octet_length(id) BETWEEN 1 AND ${MAX_FIELD_BYTES} AND octet_length(hash) = ${WIDTH}`;

/**
 * A batch's condition besides its list (`$1`) and range: for a list holding quarantines, leaving
 * out those in force at the time parameter that follows the `used` ones.
 */
const unquarantined = (filtered: boolean, used: number): string =>
  filtered ? ` AND ${notQuarantined(1, used + 1)}` : '';

/** Not a vPDQ entry: those are `readVideos`' part. */
const NOT_VIDEO = `algorithm <> '${VPDQ_ALGORITHM}'`;

/** The rows of one batch: the list's first, or those after an id. */
const batchRowsSql = (after: boolean, filtered: boolean): string =>
  `SELECT id, algorithm, hash, label, metadata FROM entries WHERE list = $1${after ? ' AND id > $2' : ''} AND ${NOT_VIDEO}${unquarantined(filtered, after ? 2 : 1)} ORDER BY id LIMIT ${BATCH_ROWS}`;

/**
 * One batch as aggregates per algorithm, in order of the first id holding each (the order the rows
 * meet them in); `odd` counts the rows that are not the plain case, whose values are never joined;
 * `last` is the batch's last id, in every row.
 */
const batchSql = (
  after: boolean,
  filtered: boolean,
): string => `SELECT left(algorithm, ${MAX_FIELD_LENGTH}) AS algorithm, count(*)::int AS n,
  (count(*) FILTER (WHERE NOT coalesce(${PLAIN}, false)))::int AS odd, max(max(id)) OVER () AS last,
  string_agg(convert_to(id, 'UTF8'), '\\x00'::bytea ORDER BY id) FILTER (WHERE ${PLAIN}) AS ids,
  string_agg(hash, ''::bytea ORDER BY id) FILTER (WHERE ${PLAIN}) AS hashes
  FROM (${batchRowsSql(after, filtered)}) AS b GROUP BY algorithm ORDER BY min(id)`;

/** The rows of a batch's range, bounded and checked as `entries()` reads them. */
const rowsSql = (after: boolean, filtered: boolean): string =>
  `SELECT ${READ_COLUMNS} FROM entries WHERE list = $1${after ? ' AND id > $3' : ''} AND id <= $2 AND ${NOT_VIDEO}${unquarantined(filtered, after ? 3 : 2)} ORDER BY id`;

/** A list's vPDQ entries, bounded and checked as `entries()` reads them. */
const videosSql = (filtered: boolean): string =>
  `SELECT ${READ_COLUMNS} FROM entries WHERE list = $1 AND algorithm = '${VPDQ_ALGORITHM}'${unquarantined(filtered, 1)} ORDER BY id`;

interface BatchRow {
  readonly algorithm: string;
  readonly n: number;
  readonly odd: number;
  readonly last: string;
  readonly ids: Buffer | null;
  readonly hashes: Buffer | null;
}

/**
 * The entries of the lists given, in that order, packed per algorithm in order of first appearance,
 * without those quarantined at `now` (for the lists whose header counts any).
 */
async function readLists(
  ctx: PgContext,
  client: PoolClient,
  headers: readonly ListHeader[],
  now: Date,
): Promise<Map<AlgorithmName, PackedEntries>> {
  const lists = headers.map((l) => l.name);
  if (lists.length > MAX_PACKED_LISTS)
    throw new HashwardenError(
      'ERR_STORE',
      `PostgreSQL store ${ctx.label}: ${lists.length} lists chosen, more than the ${MAX_PACKED_LISTS} a matcher or snapshot numbers: name fewer`,
    );
  const builders = new Map<AlgorithmName, PackedBuilder>();
  const builder = (name: AlgorithmName): PackedBuilder => {
    let b = builders.get(name);
    if (b === undefined) {
      b = new PackedBuilder(getAlgorithm(name).bits / 8);
      builders.set(name, b);
    }
    return b;
  };
  for (const [number, list] of lists.entries()) {
    const filtered = ((headers[number] as ListHeader).quarantined ?? 0) > 0;
    const at = filtered ? [now.toISOString()] : [];
    let after: string | undefined;
    for (;;) {
      const params = after === undefined ? [list, ...at] : [list, after, ...at];
      const groups = (await client.query<BatchRow>(batchSql(after !== undefined, filtered), params)).rows;
      if (groups.length === 0) break;
      const last = (groups[0] as BatchRow).last;
      if (groups.every((g) => g.odd === 0 && g.ids !== null && g.hashes !== null)) {
        // The SQL's checks are addBatch's: a group it still refuses is a server answering otherwise.
        for (const g of groups) {
          const name = getAlgorithm(g.algorithm).name;
          if (!builder(name).addBatch(number, g.n, g.hashes as Buffer, g.ids as Buffer, MAX_FIELD_BYTES))
            throw new HashwardenError(
              'ERR_STORE',
              `PostgreSQL store ${ctx.label}: list ${JSON.stringify(list)}: a batch of ${g.n} ${name} entries that cannot be read`,
            );
        }
      } else {
        const rows = await client.query<Row>(
          rowsSql(after !== undefined, filtered),
          after === undefined ? [list, last, ...at] : [list, last, after, ...at],
        );
        for (const row of rows.rows) {
          const entry = toEntry(ctx, row);
          const algorithm = getAlgorithm(entry.algorithm);
          builder(algorithm.name).add(number, algorithm.parse(entry.hash), entry);
        }
      }
      after = last;
    }
  }
  const out = new Map<AlgorithmName, PackedEntries>();
  for (const [name, b] of builders) out.set(name, b.done(lists));
  return out;
}

/**
 * The vPDQ entries of the lists given (numbered by their place, as `readLists` numbers them), less
 * those quarantined at `now`; undefined when they hold none. Each row is checked as `entries()`
 * checks it (its frames by `unpackVpdq`): a damaged one is `ERR_STORE` naming the list and id.
 */
async function readVideos(
  ctx: PgContext,
  client: PoolClient,
  headers: readonly ListHeader[],
  now: Date,
): Promise<PackedVpdq | undefined> {
  const videos: StoredVideo[] = [];
  for (const [number, header] of headers.entries()) {
    const filtered = (header.quarantined ?? 0) > 0;
    const rows = await client.query<Row>(
      videosSql(filtered),
      filtered ? [header.name, now.toISOString()] : [header.name],
    );
    for (const row of rows.rows) {
      const entry = toEntry(ctx, row);
      videos.push({
        list: number,
        id: entry.id,
        label: entry.label,
        metadata: entry.metadata,
        frames: row.hash as Buffer,
      });
    }
  }
  return packVideos(
    videos,
    headers.map((h) => h.name),
  );
}

/** {@link PackedLists} with, per chosen list holding any, the entries quarantined and left out (for a snapshot's META). */
export interface PgPackedLists extends PackedLists {
  readonly quarantined: ReadonlyMap<string, readonly SnapshotQuarantine[]>;
}

/**
 * The lists chosen by `names` (every enabled one when undefined) and their entries packed, less
 * those quarantined now, read in one REPEATABLE READ READ ONLY transaction; undefined when the
 * store's lists still give the signature `unless` (nothing changed since a matcher read them, no
 * quarantine began or ended). With `listQuarantines` (an export), the quarantines left out too;
 * a matcher does not read them, as SQLite's does not: a row written by hand then fails the export only.
 */
export async function readPacked(
  ctx: PgContext,
  names: readonly string[] | undefined,
  unless: string | undefined,
  listQuarantines = false,
): Promise<PgPackedLists | undefined> {
  return inSnapshot(ctx, async (client) => {
    // One moment for the whole read: the counts, the entries left out and the quarantines listed agree.
    const now = new Date();
    const held = await listHeaders(ctx, client, undefined, now);
    const signature = listSignature(held);
    if (signature === unless) return undefined;
    const chosen = chooseLists(held, names, `PostgreSQL store ${ctx.label}`);
    const packed = await readLists(ctx, client, chosen, now);
    const videos = await readVideos(ctx, client, chosen, now);
    const quarantined = new Map<string, SnapshotQuarantine[]>();
    for (const l of listQuarantines ? chosen : []) {
      if ((l.quarantined ?? 0) === 0) continue;
      const off = await quarantinedOn(ctx, client, l.name, now);
      quarantined.set(
        l.name,
        off.map((q) => ({ id: q.id, reason: q.reason, ...(q.until === undefined ? {} : { until: q.until }) })),
      );
    }
    return { signature, lists: chosen, packed, quarantined, ...(videos === undefined ? {} : { videos }) };
  });
}
