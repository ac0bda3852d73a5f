/**
 * `hashwarden rescan`: the entries a store's lists gained since the last rescan, searched against
 * every upload a seen store recorded; one line per (upload, entry) found. Exit 1 when any was
 * found, 0 when none, 2 on error. Interrupted (a crash, kill -9), the next run resumes from the
 * last batch whose lines were all written, repeating that batch's lines with the same ids. Both
 * stores SQLite files, or both PostgreSQL (`postgres://…` connection strings, hashwarden/postgres
 * loaded only then).
 */
import { HashStore } from '../store/index.js';
import { SeenStore, type RescanEvent, type RescanOptions } from '../seen/index.js';
import { EXIT, integerArgument, parseThresholds, required, usage, UsageError, type Command } from './command.js';
import { jsonLine, textLine } from './escape.js';

function describe(e: RescanEvent): string {
  const how = [e.transform, e.trimmed ? 'trimmed' : undefined, e.frame === undefined ? undefined : `frame ${e.frame}`]
    .filter((x) => x !== undefined)
    .join(', ');
  return textLine(
    `FOUND ${e.contentId}  ${e.list} v${e.listVersion}  ${e.entryId}  ${e.algorithm} distance ${e.distance}/${e.threshold}${how === '' ? '' : `  (${how})`}  recorded ${e.recordedAt.toISOString()}  id ${e.id}`,
  );
}

function sinceOption(value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(String(value));
  if (Number.isNaN(date.getTime()))
    throw new UsageError(`--since expects an ISO 8601 date, not ${JSON.stringify(value)}`);
  return date;
}

/** A `--db` or `--seen` naming a PostgreSQL database rather than a file. */
const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/**
 * The rescan's events from both stores, opened (SQLite) or connected (PostgreSQL), closed when
 * the loop ends however it ends. Options are checked before anything is opened.
 */
async function* rescanEvents(db: string, seenPath: string, options: RescanOptions): AsyncGenerator<RescanEvent> {
  if (POSTGRES_URL.test(db) !== POSTGRES_URL.test(seenPath))
    throw new UsageError('--db and --seen must both be PostgreSQL connection strings, or both SQLite files');
  if (POSTGRES_URL.test(db)) {
    const { PgHashStore, PgSeenStore } = await import('../postgres/index.js');
    const store = await PgHashStore.connect(db, { create: false });
    try {
      const seen = await PgSeenStore.connect(seenPath, { create: false });
      try {
        yield* usage(() => seen.rescan(store, options));
      } finally {
        await seen.close();
      }
    } finally {
      await store.close();
    }
    return;
  }
  const store = HashStore.open(db, { readonly: true });
  try {
    const seen = SeenStore.open(seenPath, { create: false });
    try {
      yield* usage(() => seen.rescan(store, options));
    } finally {
      seen.close();
    }
  } finally {
    store.close();
  }
}

export const rescanCommand: Command = {
  name: 'rescan',
  usage: '--db PATH|URL --seen PATH|URL [--json] [--since DATE] [--threshold ALGORITHM=N]... [--batch N]',
  summary: 'Search the entries lists gained since the last rescan against every recorded upload.',
  help: `
Options:
  --db PATH|URL            the list store (read only): a SQLite file, or a PostgreSQL
                           connection string (postgres://…, PgHashStore)
  --seen PATH|URL          the seen store (SeenStore, hashwarden/seen; or PgSeenStore with a
                           postgres:// string, both stores then PostgreSQL): recorded uploads and
                           where the last rescan stopped
  --json                   one JSON object per event: id, contentId, list, entryId, listVersion,
                           algorithm, distance, threshold, transform, trimmed, frame, recordedAt
  --since DATE             only uploads recorded at or after DATE (ISO 8601)
  --threshold ALGORITHM=N  threshold for lists whose policy sets none (default: the algorithm's)
  --batch N                uploads read and checkpointed at a time (default 1000)
  -h, --help               this text

The first rescan of a list takes every entry of it as new; uploads recorded against that version
or a later one are left out for it. Run it after each import (docs/retroactive.md). Killed, the
next run resumes from the last batch whose lines were all written: the lines of the batch in hand
come again, with the same id.
Exit status: 1 when any upload was found, 0 when none, 2 on error.`,
  options: {
    db: { type: 'string' },
    seen: { type: 'string' },
    json: { type: 'boolean' },
    since: { type: 'string' },
    threshold: { type: 'string', multiple: true },
    batch: { type: 'string' },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}`);
    const db = required(values.db, '--db');
    const seenPath = required(values.seen, '--seen');
    const since = sinceOption(values.since);
    const thresholds = parseThresholds(values.threshold as string[] | undefined);
    const batchSize = values.batch === undefined ? undefined : integerArgument(values.batch as string);
    const options = {
      thresholds,
      ...(since === undefined ? {} : { since }),
      ...(batchSize === undefined ? {} : { batchSize }),
    };
    let found = false;
    for await (const event of rescanEvents(db, seenPath, options)) {
      found = true;
      io.out(values.json === true ? jsonLine(event) : describe(event));
    }
    return found ? EXIT.matched : EXIT.ok;
  },
};
