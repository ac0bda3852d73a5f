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
  LIST_FORMATS,
  MAX_SUBSTRING_BITS,
  MIN_SUBSTRING_BITS,
  SEARCH_TIERS as TIERS,
  writeListFile,
  type AlgorithmName,
  type ListEntry,
  type ListFormat,
  type SearchTierOptions,
  type SnapshotAlgorithm,
  type SnapshotList,
} from '../index.js';
import { buildPackedTables, resolveSearch, type MatcherTable } from '../search/tables.js';
import { writePackedSnapshot } from '../snapshot/write.js';
import { HashStore } from '../store/index.js';
import { distinctHashes, listHeaders, packedEntries, type ListHeader } from '../store/store.js';
import { CliRefusal, EXIT, fileMode, integerArgument, required, usage, UsageError, type Command } from './command.js';
import { readKeyFile } from './keygen.js';
import { integerInRange } from '../validate.js';
import { textLine } from './escape.js';

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
): { lists: SnapshotList[]; tables: Map<AlgorithmName, MatcherTable> } {
  const resolved = resolveSearch(search, 'search');
  const store = HashStore.open(db, { readonly: true });
  try {
    return store.read(() => {
      const chosen = chooseLists(listHeaders(store), names, db);
      const packed = packedEntries(
        store,
        chosen.map((l) => l.name),
      );
      refuseEmpty(
        chosen,
        [...packed.values()].some((p) => p.columns.listIndex.length > 0),
        allowEmpty,
      );
      const tables = buildPackedTables(packed, resolved, { defer: true });
      const lists = chosen.map((l) => ({
        name: l.name,
        version: l.version,
        ...(Object.keys(l.thresholds).length === 0 ? {} : { thresholds: l.thresholds }),
        ...(l.label === undefined ? {} : { label: l.label }),
      }));
      return { lists, tables };
    });
  } finally {
    store.close();
  }
}

/** Writes the chosen lists (default: the enabled ones) to a list file, in one read transaction. */
async function exportListFile(
  db: string,
  names: readonly string[] | undefined,
  out: string,
  format: ListFormat,
  mode: number | undefined,
  allowEmpty: boolean,
): Promise<{ entries: number; lists: string[] }> {
  const store = HashStore.open(db, { readonly: true });
  try {
    return await store.readAsync(async () => {
      const lists = chooseLists(store.lists(), names, db);
      refuseEmpty(
        lists,
        lists.some((l) => l.total > 0),
        allowEmpty,
      );
      const chosen = lists.map((l) => l.name);
      // Text holds no id or list: each hash once, or a hash two lists share would import as a duplicate id.
      function* entries(): Generator<ListEntry> {
        if (format === 'text') yield* distinctHashes(store, chosen, ALGORITHM_NAMES);
        else for (const list of chosen) yield* store.entries({ list });
      }
      return { entries: await writeListFile(out, entries, format, { mode }), lists: chosen };
    });
  } finally {
    store.close();
  }
}

const FORMAT_BY_EXTENSION: Readonly<Record<string, ListFormat>> = {
  '.csv': 'csv',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.txt': 'text',
};

export const exportCommand: Command = {
  name: 'export',
  usage:
    '--db PATH (--snapshot FILE [--tier auto|linear|mih] [--substring-bits N] [--sign KEYFILE] [--sequence N] | --out FILE [--format csv|ndjson|text]) [--list NAME]... [--mode OCTAL] [--allow-empty]',
  summary: 'Export the lists of a SQLite store to a binary snapshot or a list file.',
  help: `
Options:
  --db PATH             the SQLite store (see \`hashwarden import\`)
  --snapshot FILE       the snapshot to write (replaced if it exists)
  --out FILE            a list file to write instead (replaced if it exists)
  --format F            the list file's format: ndjson (lossless: \`import --multi-list\` gives
                        the same entries), csv (id,list,algorithm,hash,label, then one column
                        per metadata key; metadata comes back as text), or text
                        (\`<algorithm> <hash>\`, each hash once: ids, lists, labels and metadata
                        are lost; \`import FILE --list NAME\` reads it into one list); default:
                        from --out's extension (.csv, .ndjson or .jsonl, .txt)
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
    if (values.out !== undefined) {
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
        throw new UsageError(`Cannot tell the format of ${out} from its extension: give --format csv, ndjson or text`);
      if (!(LIST_FORMATS as readonly string[]).includes(format))
        throw new UsageError(`Expected csv, ndjson or text for --format but received ${JSON.stringify(format)}`);
      const written = await exportListFile(db, names, out, format as ListFormat, mode, allowEmpty);
      io.out(
        textLine(
          `wrote ${out} (${written.entries} entries of ${written.lists.length === 0 ? 'no lists' : written.lists.join(', ')}, ${format})`,
        ),
      );
      return EXIT.ok;
    }
    if (values.format !== undefined) throw new UsageError('--format is for --out');
    const file = required(values.snapshot, '--snapshot');
    if (resolve(db) === resolve(file)) throw new UsageError('--snapshot must not be the --db file');
    const search = searchOptions(values);
    const sequence =
      values.sequence === undefined
        ? undefined
        : usage(() =>
            integerInRange(integerArgument(values.sequence as string), 0, Number.MAX_SAFE_INTEGER, '--sequence'),
          );
    const privateKey = values.sign === undefined ? undefined : await readKeyFile(values.sign as string, '--sign');
    const { lists, tables } = readStore(db, names, allowEmpty, search);
    const summary = await writePackedSnapshot(
      file,
      {
        lists,
        source: db,
        mode,
        ...(sequence === undefined ? {} : { sequence }),
        ...(privateKey === undefined ? {} : { sign: { privateKey } }),
      },
      tables,
    );
    const nameWidth = Math.max(0, ...summary.algorithms.map((a) => a.name.length));
    const countWidth = Math.max(0, ...summary.algorithms.map((a) => String(a.count).length));
    for (const a of summary.algorithms) {
      io.out(
        textLine(`${a.name.padEnd(nameWidth)}  ${String(a.count).padStart(countWidth)} entries  ${describeSearch(a)}`),
      );
    }
    io.out(
      textLine(
        `wrote ${file} (${summary.entries} entries, ${summary.bytes} bytes, sequence ${summary.sequence}${summary.keyId === undefined ? '' : `, signed by key ${summary.keyId}`})`,
      ),
    );
    return EXIT.ok;
  },
};
