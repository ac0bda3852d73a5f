/**
 * `hashwarden fetch PROGRAMME`: one sync of a store's list from a hash-sharing programme (NCMEC,
 * StopNCII, ThreatExchange, TAT), resumed from its checkpoint; and `hashwarden feedback
 * PROGRAMME`: an opinion on one entry, sent to the programme that shared it. Each programme's
 * flags and client come from its own file (fetch-<programme>.ts). SIGINT and SIGTERM stop a sync
 * between requests, keeping the pages fetched whole.
 */
import {
  EXCHANGE_NAMES,
  ExchangeHttp,
  readCredentials,
  syncExchange,
  type ExchangeClient,
  type ExchangeHttpOptions,
  type ExchangeName,
  type SyncProgress,
} from '../exchanges/index.js';
import { HashStore } from '../store/index.js';
import { CliRefusal, EXIT, integerArgument, required, usage, UsageError, type Command, type CliIo } from './command.js';
import { jsonLine, textLine } from './escape.js';
import type { CommonFetchFlags, FetchProgramme, FlagValues } from './fetch-programme.js';
import { stopnciiProgramme } from './fetch-stopncii.js';
import { ncmecProgramme } from './fetch-ncmec.js';
import { tatProgramme } from './fetch-tat.js';
import { threatexchangeProgramme } from './fetch-threatexchange.js';

/** The programmes `fetch` and `feedback` know, by name. */
const PROGRAMMES: ReadonlyMap<ExchangeName, FetchProgramme> = new Map<ExchangeName, FetchProgramme>(
  [ncmecProgramme, stopnciiProgramme, threatexchangeProgramme, tatProgramme].map((p) => [p.name, p]),
);

const COMMON_OPTIONS = {
  db: { type: 'string' },
  list: { type: 'string' },
  credentials: { type: 'string' },
  environment: { type: 'string' },
  'base-url': { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  'min-interval': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Every programme's own flags, for parseArgs; a flag of another programme is refused by name. */
function programmeOptions(): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  const all: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const programme of PROGRAMMES.values()) Object.assign(all, programme.options);
  return all;
}

/** The programme a positional names, or a usage error listing the known ones. */
function programmeOf(positionals: readonly string[]): FetchProgramme {
  const [name, extra] = positionals;
  if (name === undefined) throw new UsageError(`Missing PROGRAMME (${EXCHANGE_NAMES.join(', ')})`);
  if (extra !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(extra)}`);
  const programme = PROGRAMMES.get(name as ExchangeName);
  if (programme === undefined) {
    throw new UsageError(
      `Unknown programme ${JSON.stringify(name)}: expected one of ${[...PROGRAMMES.keys()].join(', ')}`,
    );
  }
  return programme;
}

/** Refuses flags that belong to another programme (parseArgs accepted them for the union). */
function refuseForeignFlags(programme: FetchProgramme, values: FlagValues): void {
  for (const other of PROGRAMMES.values()) {
    if (other === programme) continue;
    for (const flag of Object.keys(other.options)) {
      if (values[flag] !== undefined && !(flag in programme.options)) {
        throw new UsageError(`--${flag} is a flag of ${other.name}, not of ${programme.name}`);
      }
    }
  }
}

/** The HTTP options from `--timeout SECONDS`, `--retries N`, `--min-interval MS`. */
function httpOptions(values: FlagValues): ExchangeHttpOptions {
  const seconds = values.timeout === undefined ? undefined : integerArgument(String(values.timeout));
  const options: ExchangeHttpOptions = {
    ...(seconds === undefined ? {} : { timeoutMs: typeof seconds === 'number' ? seconds * 1000 : seconds }),
    ...(values.retries === undefined ? {} : { retries: integerArgument(String(values.retries)) }),
    ...(values['min-interval'] === undefined ? {} : { minIntervalMs: integerArgument(String(values['min-interval'])) }),
  };
  usage(() => new ExchangeHttp(options));
  return options;
}

/** The client of `programme` from the flags and the credentials (file, or environment). */
async function clientOf(programme: FetchProgramme, values: FlagValues, forFeedback = false): Promise<ExchangeClient> {
  refuseForeignFlags(programme, values);
  const common: CommonFetchFlags = {
    ...(values.environment === undefined ? {} : { environment: String(values.environment) }),
    ...(values['base-url'] === undefined ? {} : { baseUrl: String(values['base-url']) }),
  };
  const credentials = await readCredentials(
    programme.name,
    forFeedback ? (programme.feedbackCredentialFields ?? programme.credentialFields) : programme.credentialFields,
    values.credentials === undefined ? {} : { file: String(values.credentials) },
  );
  return usage(() => programme.create(values, credentials, common));
}

const PROGRAMME_HELP = (): string =>
  [...PROGRAMMES.values()]
    .map((p) => `\n${p.name} (credentials: ${p.credentialFields.join(', ')}):\n${p.help}`)
    .join('');

const CREDENTIALS_HELP = `Credentials come from --credentials FILE (a JSON object of the programme's fields, e.g.
{"username": "…", "password": "…"}), else from HASHWARDEN_<PROGRAMME>_<FIELD> (e.g.
HASHWARDEN_NCMEC_PASSWORD), else from the file named by HASHWARDEN_<PROGRAMME>_<FIELD>_FILE.
They are never printed: errors name the file or variable, not the value.`;

export const fetchCommand: Command = {
  name: 'fetch',
  usage: 'PROGRAMME --db PATH --list NAME [--credentials FILE] [--environment E] [--restart] [options]',
  summary: 'Sync a list from a hash-sharing programme (ncmec, stopncii, threatexchange, tat), resuming.',
  get help(): string {
    return `
Options:
  --db PATH             the SQLite store (created if missing)
  --list NAME           the store list the programme's entries go into
  --credentials FILE    the programme's credentials (see below)
  --environment E       the programme's environment (its test environment among them)
  --base-url URL        the service's URL instead of the environment's (a proxy)
  --restart             start from the programme's beginning, not the stored checkpoint
  --batch-rows N        rows per transaction (default 10000)
  --timeout SECONDS     deadline of one request (default 60)
  --retries N           retries of a request that failed in a way that may pass (default 4)
  --min-interval MS     least time between two requests (default 0)
  --json                the result as one JSON object
  -h, --help            this text

Each batch of pages is committed with the checkpoint after it, in one transaction: after a
failure or a kill, the next run resumes after the last page committed, nothing lost or repeated.
Deletions and withdrawals remove their entries. SIGINT or SIGTERM stops between requests, keeping
what was fetched.
${CREDENTIALS_HELP}
${PROGRAMME_HELP()}
Exit status: 0 on success, 2 on error (the pages before the error are kept).`;
  },
  get options() {
    return {
      ...COMMON_OPTIONS,
      restart: { type: 'boolean' },
      'batch-rows': { type: 'string' },
      ...programmeOptions(),
    } as const;
  },
  async run(values, positionals, io) {
    const programme = programmeOf(positionals);
    const dbPath = required(values.db, '--db');
    const list = required(values.list, '--list');
    const http = httpOptions(values);
    const batchRows = values['batch-rows'] === undefined ? undefined : integerArgument(String(values['batch-rows']));
    const client = await clientOf(programme, values);
    const store = HashStore.open(dbPath);
    const controller = new AbortController();
    const stop = (signal: NodeJS.Signals): void =>
      controller.abort(new CliRefusal(`Stopped by ${signal}; the pages fetched whole are kept`));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let last: SyncProgress | undefined;
    try {
      const result = await syncExchange(store, client, {
        list,
        http,
        signal: controller.signal,
        restart: values.restart === true,
        ...(batchRows === undefined ? {} : { batchRows }),
        onProgress: (progress) => {
          last = progress;
        },
      }).catch((error: unknown) => {
        if (last !== undefined) {
          io.err(
            textLine(
              `${programme.name}: ${last.pages} pages (${last.rows} rows) committed before the failure; run again to resume`,
            ),
          );
        }
        throw error;
      });
      io.out(
        values.json === true
          ? jsonLine({ programme: programme.name, ...result })
          : textLine(
              `${programme.name} → ${list}: ${result.pages} pages, +${result.added} ~${result.updated} -${result.removed} =${result.unchanged}, ${result.ignored} ignored, ${result.commits} commits, ${result.requests} requests${result.checkpoint === result.from ? ' (nothing new)' : ''}`,
            ),
      );
      return EXIT.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      store.close();
    }
  },
};

export const feedbackCommand: Command = {
  name: 'feedback',
  usage: 'PROGRAMME --db PATH --list NAME --id ENTRY_ID --vote up|down [--reason TEXT] [--credentials FILE]',
  summary: 'Tell the programme that shared an entry whether it was right (upvote) or a false positive (downvote).',
  get help(): string {
    return `
Options:
  --db PATH             the SQLite store the entry is in
  --list NAME           its list
  --id ENTRY_ID         its id (as \`hashwarden match\` reports it)
  --vote up|down        up: the entry is what the programme says; down: it is not
  --reason TEXT         why (some programmes require it for a downvote, or take a code)
  --credentials FILE, --environment E, --base-url URL, --timeout SECONDS, --retries N:
                        as for \`hashwarden fetch\`
  --json                the result as one JSON object
  -h, --help            this text

Programmes that take feedback: ncmec, stopncii, threatexchange (TAT has no feedback API).
${CREDENTIALS_HELP}
Exit status: 0 when the programme took it, 2 on error.`;
  },
  get options() {
    return {
      ...COMMON_OPTIONS,
      id: { type: 'string' },
      vote: { type: 'string' },
      reason: { type: 'string' },
      ...programmeOptions(),
    } as const;
  },
  async run(values, positionals, io: CliIo) {
    const programme = programmeOf(positionals);
    const dbPath = required(values.db, '--db');
    const list = required(values.list, '--list');
    const id = required(values.id, '--id');
    const vote = required(values.vote, '--vote');
    if (vote !== 'up' && vote !== 'down')
      throw new UsageError(`Expected up or down for --vote but received ${JSON.stringify(vote)}`);
    const http = new ExchangeHttp(httpOptions(values));
    const client = await clientOf(programme, values, true);
    if (client.feedback === undefined) throw new CliRefusal(`${programme.name} takes no feedback`);
    const store = HashStore.open(dbPath, { readonly: true });
    let entry;
    try {
      entry = store.entry(list, id);
    } finally {
      store.close();
    }
    if (entry === undefined)
      throw new CliRefusal(`The list ${JSON.stringify(list)} holds no entry ${JSON.stringify(id)}`);
    const reason = values.reason === undefined ? {} : { reason: String(values.reason) };
    await client.feedback({ entry, vote, ...reason }, { list, http }).catch((error: unknown) => {
      // A reason the programme does not take is the user's mistake, not the programme's.
      if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    });
    io.out(
      values.json === true
        ? jsonLine({ programme: programme.name, list, id, vote, sent: true })
        : textLine(`${programme.name}: ${vote}vote sent for ${list} ${id}`),
    );
    return EXIT.ok;
  },
};
