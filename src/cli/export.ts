/**
 * `hashwarden export`: write the lists of a SQLite store (all, or the named ones) to a binary
 * snapshot that `hashwarden match --snapshot` and `Matcher.open` load without parsing entries.
 * The snapshot is written to a temporary file and renamed, so a failed export leaves no file.
 * Unlike the other commands, it reaches past the public entries for one thing: the store's entries
 * read straight into the packed tables a snapshot holds (`packedEntries`, `writePackedSnapshot`),
 * which no public call offers, so that an export costs what `Matcher.open` on the store does.
 */
import { extname, resolve } from 'node:path';
import {
  ALGORITHM_NAMES,
  EXPORT_FORMATS,
  isAlgorithmName,
  MAX_SUBSTRING_BITS,
  MIN_SUBSTRING_BITS,
  SEARCH_TIERS as TIERS,
  writeListFile,
  type AlgorithmName,
  type ExportFormat,
  type ListEntry,
  type SearchTierOptions,
  type SnapshotAlgorithm,
  type SnapshotList,
  type SnapshotQuarantine,
} from '../index.js';
import { formatAlgorithms } from '../lists/write.js';
import { buildPackedTables, resolveSearch, type MatcherTable } from '../search/tables.js';
import { writePackedSnapshot } from '../snapshot/write.js';
import { HashStore } from '../store/index.js';
import { distinctHashes, listHeaders, packedEntries, packedVideos, type ListHeader } from '../store/store.js';
import { ENTRY_ALGORITHMS } from '../store/vpdq.js';
import type { PackedVpdq } from '../search/vpdq.js';
import { CliRefusal, EXIT, fileMode, integerArgument, required, usage, UsageError, type Command } from './command.js';
import { readKeyFile } from './keygen.js';
import { integerInRange } from '../validate.js';
import { textLine } from './escape.js';
import { connectPostgres, isPostgresUrl, postgresDbHelp } from './postgres.js';
import { snapshotLists } from '../matcher/store-source.js';
import type { SnapshotSummary } from '../snapshot/format.js';

type Tier = (typeof TIERS)[number];

/** `--tier` and `--substring-bits` as `writeSnapshot`'s `search`; undefined when neither is given. */
function searchOptions(values: Record<string, unknown>): SearchTierOptions | undefined {
  const tier = values.tier as string | undefined;
  const bits = values['substring-bits'] as string | undefined;
  if (tier !== undefined && !(TIERS as readonly string[]).includes(tier)) {
    throw new UsageError(`Expected one of ${TIERS.join(', ')} for --tier but received ${JSON.stringify(tier)}`);
  }
  // Checked here rather than by writeSnapshot, so a bad value fails before the store is read.
  if (
    bits !== undefined &&
    (!/^\d+$/.test(bits.trim()) || Number(bits) < MIN_SUBSTRING_BITS || Number(bits) > MAX_SUBSTRING_BITS)
  ) {
    throw new UsageError(
      `Expected integer between ${MIN_SUBSTRING_BITS} and ${MAX_SUBSTRING_BITS} for --substring-bits but received ${JSON.stringify(bits)}`,
    );
  }
  if (tier === undefined && bits === undefined) return undefined;
  return {
    ...(tier === undefined ? {} : { tier: tier as Tier }),
    ...(bits === undefined ? {} : { substringBits: Number(bits) }),
  };
}

function describeSearch(a: SnapshotAlgorithm): string {
  if (a.search.tier !== 'mih') return a.search.tier;
  const widths = a.search.substringBits;
  return `mih (${widths.length} tables: ${widths.join(',')})`;
}

/** The lists named (enabled or not), or every enabled one; an unknown name is a usage error. */
function chooseLists<L extends ListHeader>(known: readonly L[], names: readonly string[] | undefined, db: string): L[] {
  const unknown = (names ?? []).filter((n) => !known.some((l) => l.name === n));
  if (unknown.length > 0) {
    const have = known.length === 0 ? 'the store has no lists' : `known lists: ${known.map((l) => l.name).join(', ')}`;
    throw new UsageError(`Unknown list ${unknown.map((n) => JSON.stringify(n)).join(', ')} in ${db} (${have})`);
  }
  return names === undefined ? known.filter((l) => l.enabled) : known.filter((l) => names.includes(l.name));
}

/**
 * Refuses to write an export of no entries unless `allowEmpty`: an empty snapshot or list file
 * loaded by a matcher answers "no match" to everything.
 */
function refuseEmpty(chosen: readonly ListHeader[], held: boolean, allowEmpty: boolean): void {
  if (allowEmpty || held) return;
  const what =
    chosen.length === 0
      ? 'the store has no enabled lists'
      : `list${chosen.length === 1 ? '' : 's'} ${chosen.map((l) => l.name).join(', ')} hold${chosen.length === 1 ? 's' : ''} no entries`;
  throw new CliRefusal(
    `nothing to export: ${what}; a matcher loading an empty export would pass every upload. Give --allow-empty to write it anyway`,
  );
}

/**
 * Reads the chosen lists (default: the enabled ones) with their policy, and their entries, in one
 * read transaction, so a concurrent import cannot give a snapshot whose versions and entries
 * disagree; an unknown list name is a usage error. The entries go straight into the packed tables
 * the snapshot holds (`packedEntries`), indexed under `search`: no object per entry.
 */
function readStore(
  db: string,
  names: readonly string[] | undefined,
  allowEmpty: boolean,
  search: SearchTierOptions | undefined,
): { lists: SnapshotList[]; tables: Map<AlgorithmName, MatcherTable>; videos: PackedVpdq | undefined } {
  const resolved = resolveSearch(search, 'search');
  const store = HashStore.open(db, { readonly: true });
  try {
    return store.read(() => {
      const chosen = chooseLists(listHeaders(store), names, db);
      const chosenNames = chosen.map((l) => l.name);
      const packed = packedEntries(store, chosenNames);
      const videos = packedVideos(store, chosenNames);
      refuseEmpty(
        chosen,
        [...packed.values()].some((p) => p.columns.listIndex.length > 0) || videos !== undefined,
        allowEmpty,
      );
      const quarantined = (list: string): SnapshotQuarantine[] =>
        store
          .quarantined(list)
          .map((q) => ({ id: q.id, reason: q.reason, ...(q.until === undefined ? {} : { until: q.until }) }));
      return {
        lists: snapshotLists(chosen, quarantined),
        tables: buildPackedTables(packed, resolved, { defer: true }),
        videos,
      };
    });
  } finally {
    store.close();
  }
}

/** What an export to a list file wrote, and what it left out because the format cannot hold it. */
interface ListFileExport {
  /** Lines written (in text, hex and pytx, each hash once). */
  readonly entries: number;
  readonly lists: string[];
  /** Entries of the chosen algorithms the format cannot hold, by algorithm. */
  readonly omitted: ReadonlyMap<AlgorithmName, number>;
  readonly written: readonly AlgorithmName[];
}

/** Names as a sentence lists them: `pdq, md5 and vpdq`. */
function joined(names: readonly string[], word: 'and' | 'or'): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} ${word} ${names.at(-1)}`;
}

/** Why a format leaves out the algorithms it cannot hold, as the warning says it. */
const LEFT_OUT_BECAUSE: Readonly<Partial<Record<ExportFormat, string>>> = {
  pytx: 'python-threatexchange has no signal type for them (it reads pdq, video_md5 and vpdq)',
  hex: "a vPDQ hash (a video's frames) is not one hex string",
  'pdq-tools': 'the PDQ tools read PDQ hashes only',
};

/**
 * Writes the chosen lists (default: the enabled ones) to a list file, in one read transaction:
 * the entries of `algorithm` (default every one) the format can hold. Formats without ids (text,
 * hex, pytx) get each hash once, from SQLite (`distinctHashes`); `hex` takes one algorithm, so
 * lists holding several need `algorithm`.
 */
async function exportListFile(
  db: string,
  names: readonly string[] | undefined,
  out: string,
  format: ExportFormat,
  algorithm: AlgorithmName | undefined,
  mode: number | undefined,
  allowEmpty: boolean,
): Promise<ListFileExport> {
  const store = HashStore.open(db, { readonly: true });
  try {
    return await store.readAsync(async () => {
      const lists = chooseLists(store.lists(), names, db);
      const held = new Map<AlgorithmName, number>();
      for (const list of lists) {
        for (const [name, n] of Object.entries(list.counts) as [AlgorithmName, number][]) {
          held.set(name, (held.get(name) ?? 0) + n);
        }
      }
      const requested = algorithm === undefined ? [...held.keys()] : [algorithm];
      if (format === 'hex' && requested.length > 1) {
        throw new UsageError(
          `The lists hold ${requested.sort().join(', ')} hashes and a hex file holds one algorithm: give --algorithm`,
        );
      }
      const holdable = formatAlgorithms(format) ?? ENTRY_ALGORITHMS;
      const written = requested.filter((a) => holdable.includes(a));
      const omitted = new Map(
        requested.filter((a) => !holdable.includes(a)).map((a) => [a, held.get(a) ?? 0] as const),
      );
      const writable = written.some((a) => (held.get(a) ?? 0) > 0);
      if (!writable && lists.some((l) => l.total > 0) && !allowEmpty) {
        const what = algorithm ?? joined(formatAlgorithms(format) ?? [], 'or');
        throw new CliRefusal(
          `nothing to export: the lists hold no ${what} entries${format === 'pytx' || format === 'pdq-tools' ? ` (${format} holds ${what} only)` : ''}; a matcher loading an empty export would pass every upload. Give --allow-empty to write it anyway`,
        );
      }
      refuseEmpty(lists, writable, allowEmpty);
      const chosen = lists.map((l) => l.name);
      const everyAlgorithm = [...held.keys()].every((a) => written.includes(a));
      // Text, hex and pytx hold no id or list: each hash once, or a hash two lists share would import as a duplicate id.
      function* entries(): Generator<ListEntry> {
        if (format === 'text' || format === 'hex' || format === 'pytx') {
          yield* distinctHashes(store, chosen, written);
          return;
        }
        for (const list of chosen) {
          if (everyAlgorithm) yield* store.entries({ list });
          else for (const a of written) yield* store.entries({ list, algorithm: a });
        }
      }
      return { entries: await writeListFile(out, entries, format, { mode }), lists: chosen, omitted, written };
    });
  } finally {
    store.close();
  }
}

/** The warnings of a list file export: what was left out and why, and pytx's name for MD5. */
function exportWarnings(format: ExportFormat, written: ListFileExport): string[] {
  const lines: string[] = [];
  const left = [...written.omitted].filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1));
  if (left.length > 0) {
    const total = left.reduce((sum, [, n]) => sum + n, 0);
    lines.push(
      `left out ${total} entr${total === 1 ? 'y' : 'ies'} (${left.map(([a, n]) => `${a} ${n}`).join(', ')}): ${LEFT_OUT_BECAUSE[format] ?? ''}`,
    );
  }
  if (format === 'pytx' && written.written.includes('md5')) {
    lines.push(
      "md5 hashes are written as video_md5, pytx's only MD5 type since it dropped photo_md5 (2022): pytx matches them with `threatexchange match video`, not `match photo`",
    );
  }
  return lines;
}

const FORMAT_BY_EXTENSION: Readonly<Record<string, ExportFormat>> = {
  '.csv': 'csv',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.txt': 'text',
};

export const exportCommand: Command = {
  name: 'export',
  usage:
    '--db PATH (--snapshot FILE [--tier auto|linear|mih] [--substring-bits N] [--sign KEYFILE] [--sequence N] | --out FILE [--format csv|ndjson|text|pytx|hex|pdq-tools] [--algorithm A]) [--list NAME]... [--mode OCTAL] [--allow-empty]',
  summary: 'Export the lists of a store to a binary snapshot, or of a SQLite store to a list file.',
  help: `
Options:
  --db PATH             the SQLite store (see \`hashwarden import\`),
${postgresDbHelp(24)}
                        (--snapshot only), read through read-only transactions
  --snapshot FILE       the snapshot to write (replaced if it exists)
  --out FILE            a list file to write instead (replaced if it exists)
  --format F            the list file's format: ndjson (lossless: \`import --multi-list\` gives
                        the same entries), csv (id,list,algorithm,hash,label, then one column
                        per metadata key; metadata comes back as text), or text
                        (\`<algorithm> <hash>\`, each hash once: ids, lists, labels and metadata
                        are lost; \`import FILE --list NAME\` reads it into one list); for
                        other tools: pytx (\`pdq <hex>\`, \`video_md5 <hex>\` for
                        python-threatexchange's file collab), hex (one bare hash a line, one
                        algorithm: pytx \`match --hashes\`), pdq-tools (\`<hex>,<quality>,<id>\`
                        for the PDQ tools); hashes a format cannot hold are left out and
                        counted on standard error. Default: from --out's extension (.csv,
                        .ndjson or .jsonl, .txt)
  --algorithm A         only this algorithm's hashes in the list file (required for hex
                        when the lists hold several)
  --list NAME           only this list (repeatable, enabled or not); default every
                        enabled list
  --tier T              perceptual index to store: auto (default: by list size), linear or
                        mih (multi-index hashing); every tier gives the same matches
  --substring-bits N    MIH substring width, ${MIN_SUBSTRING_BITS}-${MAX_SUBSTRING_BITS}, when MIH is used (--tier mih, or auto
                        on a large list); default: from the list size
  --sign KEYFILE        sign the snapshot with this Ed25519 private key (\`hashwarden keygen\`):
                        a matcher given the public key (\`match --trust\`, trustedKeys) then
                        refuses any snapshot not signed by it, or changed since
  --sequence N          the snapshot's sequence, which must grow from one export to the next
                        (a matcher refuses to reload to a lower one); default: the time of
                        the export in milliseconds since 1970
  --mode OCTAL          the written file's permissions; 640 lets the file's group read it,
                        e.g. an upload service running as another user (chgrp the file to
                        that service's group). Default: a file replaced keeps its mode, owner
                        and group (the export fails if it cannot give that owner); a new file
                        is 600, owner only. Group or other write is refused
  --allow-empty         write the file even when the chosen lists hold no entries (refused
                        otherwise: a matcher loading it would pass every upload)
  -h, --help            this text

From a PostgreSQL store the lists and entries are read in one REPEATABLE READ transaction; an
unknown --list or lists holding no entries (without --allow-empty) are refused the same way.
The snapshot keeps each list's name, version, thresholds and label (\`hashwarden list set\`);
\`hashwarden match --snapshot FILE\` and Matcher.open(FILE) load it. Either file is read from
one version of the store, written to a temporary file and renamed, so a failed export leaves the
previous file, if any, unchanged. A list file is written as the entries are read, whatever its
size.
Exit status: 0 on success, 2 on error (and when there is nothing to export, without
--allow-empty).`,
  options: {
    db: { type: 'string' },
    snapshot: { type: 'string' },
    mode: { type: 'string' },
    'allow-empty': { type: 'boolean' },
    out: { type: 'string' },
    format: { type: 'string' },
    algorithm: { type: 'string' },
    list: { type: 'string', multiple: true },
    tier: { type: 'string' },
    'substring-bits': { type: 'string' },
    sign: { type: 'string' },
    sequence: { type: 'string' },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}`);
    const db = required(values.db, '--db');
    if ((values.snapshot === undefined) === (values.out === undefined))
      throw new UsageError('Expected one of --snapshot and --out');
    const names = values.list as string[] | undefined;
    // Absent: a file replaced keeps its mode (and owner), a new one is 600.
    const mode = fileMode(values.mode, undefined);
    const allowEmpty = values['allow-empty'] === true;
    const postgres = isPostgresUrl(db);
    if (values.out !== undefined) {
      if (postgres) throw new UsageError('--out reads a SQLite store: export a PostgreSQL store with --snapshot');
      const out = required(values.out, '--out');
      if (resolve(db) === resolve(out)) throw new UsageError('--out must not be the --db file');
      if (
        values.tier !== undefined ||
        values['substring-bits'] !== undefined ||
        values.sign !== undefined ||
        values.sequence !== undefined
      )
        throw new UsageError('--tier, --substring-bits, --sign and --sequence are for --snapshot');
      const format = (values.format as string | undefined) ?? FORMAT_BY_EXTENSION[extname(out).toLowerCase()];
      if (format === undefined)
        throw new UsageError(
          `Cannot tell the format of ${out} from its extension: give --format ${EXPORT_FORMATS.join(', ')}`,
        );
      if (!(EXPORT_FORMATS as readonly string[]).includes(format))
        throw new UsageError(
          `Expected one of ${EXPORT_FORMATS.join(', ')} for --format but received ${JSON.stringify(format)}`,
        );
      const algorithm = values.algorithm as string | undefined;
      if (algorithm !== undefined && !isAlgorithmName(algorithm))
        throw new UsageError(
          `Expected one of ${ALGORITHM_NAMES.join(', ')} for --algorithm but received ${JSON.stringify(algorithm)}`,
        );
      const holdable = formatAlgorithms(format as ExportFormat);
      if (algorithm !== undefined && holdable !== undefined && !holdable.includes(algorithm))
        throw new UsageError(`--format ${format} holds ${joined(holdable, 'and')} hashes, not ${algorithm}`);
      const written = await exportListFile(db, names, out, format as ExportFormat, algorithm, mode, allowEmpty);
      for (const line of exportWarnings(format as ExportFormat, written)) io.err(textLine(line));
      io.out(
        textLine(
          `wrote ${out} (${written.entries} entries of ${written.lists.length === 0 ? 'no lists' : written.lists.join(', ')}, ${format})`,
        ),
      );
      return EXIT.ok;
    }
    if (values.format !== undefined || values.algorithm !== undefined)
      throw new UsageError('--format and --algorithm are for --out');
    const file = required(values.snapshot, '--snapshot');
    if (!postgres && resolve(db) === resolve(file)) throw new UsageError('--snapshot must not be the --db file');
    const search = searchOptions(values);
    const sequence =
      values.sequence === undefined
        ? undefined
        : usage(() =>
            integerInRange(integerArgument(values.sequence as string), 0, Number.MAX_SAFE_INTEGER, '--sequence'),
          );
    const privateKey = values.sign === undefined ? undefined : await readKeyFile(values.sign as string, '--sign');
    const written = {
      mode,
      ...(sequence === undefined ? {} : { sequence }),
      ...(privateKey === undefined ? {} : { sign: { privateKey } }),
    };
    let summary: SnapshotSummary;
    if (postgres) {
      const store = await connectPostgres(db, { readonly: true }, io);
      try {
        summary = await store.exportSnapshot(file, {
          ...written,
          ...(names === undefined ? {} : { lists: names }),
          ...(search === undefined ? {} : { search }),
          allowEmpty,
        });
      } finally {
        await store.close();
      }
    } else {
      const { lists, tables, videos } = readStore(db, names, allowEmpty, search);
      summary = await writePackedSnapshot(file, { lists, source: db, ...written }, tables, videos);
    }
    const nameWidth = Math.max(0, ...summary.algorithms.map((a) => a.name.length));
    const countWidth = Math.max(0, ...summary.algorithms.map((a) => String(a.count).length));
    for (const a of summary.algorithms) {
      io.out(
        textLine(`${a.name.padEnd(nameWidth)}  ${String(a.count).padStart(countWidth)} entries  ${describeSearch(a)}`),
      );
    }
    if (summary.videos !== undefined && summary.videos.count > 0)
      io.out(textLine(`vpdq  ${summary.videos.count} videos, ${summary.videos.frames} frames`));
    io.out(
      textLine(
        `wrote ${file} (${summary.entries} entries, ${summary.bytes} bytes, sequence ${summary.sequence}${summary.keyId === undefined ? '' : `, signed by key ${summary.keyId}`})`,
      ),
    );
    return EXIT.ok;
  },
};
