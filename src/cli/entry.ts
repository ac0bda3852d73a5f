/**
 * `hashwarden entry disable|enable|list`: quarantining one entry of a list by hand (a shared
 * list's hash of a common image blocking innocent uploads) without editing the list's file. It
 * takes effect for matchers at their next open or reload, and in the next snapshot export.
 */
import { HashStore, type QuarantinedEntry } from '../store/index.js';
import { EXIT, UsageError, required, type Command } from './command.js';
import { jsonLine, textLine } from './escape.js';
import { connectPostgres, isPostgresUrl, postgresDbHelp } from './postgres.js';

const ACTIONS = ['disable', 'enable', 'list'] as const;

/** One line of `entry list`. */
function describe(q: QuarantinedEntry): string {
  return `${q.list}  ${q.id}  since ${q.since}  until ${q.until ?? 'lifted'}  ${q.reason}`;
}

/** `--until` as a date: an ISO 8601 date or date and time (a bare date is midnight UTC). */
function untilDate(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) || Number.isNaN(date.getTime()))
    throw new UsageError(`--until ${JSON.stringify(value)} is not an ISO 8601 date (2027-01-31 or 2027-01-31T12:00Z)`);
  return date;
}

export const entryCommand: Command = {
  name: 'entry',
  usage:
    'disable ID --list L --reason TEXT [--until DATE] --db PATH | enable ID --list L --db PATH | list [--list L] --db PATH [--json]',
  summary: 'Quarantine one entry of a list (never matched), lift it, or list those quarantined.',
  help: `
Actions:
  disable ID    quarantine entry ID of list L: never matched, whatever later imports of the list do,
                until lifted or --until passes (an ID the list does not hold yet is quarantined
                before it arrives; the command says so)
  enable ID     lift the quarantine of entry ID
  list          the entries quarantined now, of list L or of every list

Options:
  --db PATH       the SQLite store,
${postgresDbHelp(18)}
  --list L        the list
  --reason TEXT   why (required by disable): kept in the history and shown by list
  --until DATE    when the quarantine ends by itself: an ISO 8601 date or time in the future
                  (2027-01-31, 2027-01-31T12:00Z); default: until enabled
  --json          entry list: one JSON object per entry (list, id, reason, since, until)
  -h, --help      this text

disable and enable write a record to the list's history and give the list a new version;
matchers see the change at their next open or reload, snapshots at their next export.
Exit status: 0 on success (enable of an entry not quarantined too, saying so), 2 on error.`,
  options: {
    db: { type: 'string' },
    list: { type: 'string' },
    reason: { type: 'string' },
    until: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const [action, id, extra] = positionals;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(
        action === undefined
          ? `Missing action: ${ACTIONS.join(', ')}`
          : `Unknown action ${JSON.stringify(action)} (known: ${ACTIONS.join(', ')})`,
      );
    const takesId = action !== 'list';
    if (takesId && id === undefined) throw new UsageError('Missing ID');
    const unexpected = takesId ? extra : id;
    if (unexpected !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(unexpected)}`);
    if (action !== 'disable' && (values.reason !== undefined || values.until !== undefined))
      throw new UsageError(`--reason and --until are for disable, not ${action}`);
    if (action !== 'list' && values.json === true) throw new UsageError('--json is for list');
    const db = required(values.db, '--db');
    const list = takesId ? required(values.list, '--list') : (values.list as string | undefined);
    const reason = action === 'disable' ? required(values.reason, '--reason') : undefined;
    const until = values.until === undefined ? undefined : untilDate(values.until as string);
    const options = { create: false, readonly: action === 'list' };
    const store = isPostgresUrl(db) ? await connectPostgres(db, options, io) : HashStore.open(db, options);
    try {
      if (action === 'disable') {
        const held = (await store.entry(list as string, id as string)) !== undefined;
        const q = await store.disableEntry(list as string, id as string, {
          reason: reason as string,
          ...(until === undefined ? {} : { until }),
        });
        io.out(textLine(`disabled ${describe(q)}`));
        if (!held)
          io.err(textLine(`note: list ${q.list} holds no entry ${q.id} yet: it is quarantined before it arrives`));
      } else if (action === 'enable') {
        const lifted = await store.enableEntry(list as string, id as string);
        io.out(textLine(lifted ? `enabled ${list} ${id}` : `${list} ${id} was not quarantined (or had expired)`));
      } else {
        const rows = await store.quarantined(list);
        for (const q of rows) io.out(values.json === true ? jsonLine(q) : textLine(describe(q)));
        if (rows.length === 0 && values.json !== true) io.out('no entries quarantined\n');
      }
    } finally {
      await store.close();
    }
    return EXIT.ok;
  },
};
