/**
 * `hashwarden lists` and `hashwarden list set`: what a store holds, list by list, and how each is
 * matched (thresholds, label, enabled, action: block or allow). Policy changes take effect for matchers at their next
 * open or `reload()`, and in the next snapshot export.
 */
import { ALGORITHM_NAMES, getAlgorithm, type AlgorithmName } from '../index.js';
import { HashStore, type ListAction, type ListInfo, type ListPolicyChange } from '../store/index.js';
import { EXIT, UsageError, parseThresholds, required, type Command } from './command.js';
import { jsonLine, textLine } from './escape.js';
import { connectPostgres, isPostgresUrl, postgresDbHelp } from './postgres.js';

/** One line of `lists`: the effective threshold per perceptual algorithm, `*` where the list sets it. */
function describe(list: ListInfo): string {
  // Videos (vpdq) last: one entry per listed video, counted with the rest in the total.
  const counts =
    [...ALGORITHM_NAMES, 'vpdq' as const]
      .filter((a) => list.counts[a] !== undefined)
      .map((a) => `${a} ${list.counts[a]}`)
      .join(', ') || 'empty';
  const thresholds = ALGORITHM_NAMES.filter((a) => getAlgorithm(a).kind === 'perceptual')
    .map(
      (a) =>
        `${a}=${list.thresholds[a] ?? getAlgorithm(a).defaultThreshold}${list.thresholds[a] === undefined ? '' : '*'}`,
    )
    .join(' ');
  const off = (list.quarantined ?? 0) > 0 ? `  ${list.quarantined} quarantined` : '';
  return `${list.name}  v${list.version}  ${list.enabled ? 'enabled' : 'disabled'}  ${list.action ?? 'block'}  ${list.label ?? '(no label)'}  ${list.total} entries (${counts})${off}  thresholds ${thresholds}  updated ${list.updatedAt}`;
}

/** `--action`'s value: a usage error for anything but block or allow. */
function listAction(value: string): ListAction {
  if (value !== 'block' && value !== 'allow')
    throw new UsageError(`Unknown --action ${JSON.stringify(value)} (known: block, allow)`);
  return value;
}

export const listsCommand: Command = {
  name: 'lists',
  usage: '--db PATH [--json]',
  summary: 'Show the lists of a store: versions, counts, thresholds, labels.',
  help: `
Options:
  --db PATH     the SQLite store,
${postgresDbHelp(16)}
  --json        one JSON object per list: name, version, enabled, label, thresholds (those the
                list sets), counts per algorithm, total, updatedAt, action (block or allow),
                quarantined (entries disabled now by \`hashwarden entry disable\`)
  -h, --help    this text

Text lines show whether the list is used, its action (block, or allow: an allow list's entries
are known-good images that keep block matches of the same algorithm from blocking), each
perceptual algorithm's threshold for the list, marked * where the list sets its own
(\`hashwarden list set\`) rather than the default, and how many entries are quarantined
(\`hashwarden entry list\`) when any are: they count in the totals but are never matched.
Exit status: 0 on success, 2 on error.`,
  options: {
    db: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}`);
    const db = required(values.db, '--db');
    const store = isPostgresUrl(db)
      ? await connectPostgres(db, { readonly: true }, io)
      : HashStore.open(db, { readonly: true });
    try {
      const lists = await store.lists();
      for (const list of lists)
        io.out(values.json === true ? jsonLine({ ...list, action: list.action ?? 'block' }) : textLine(describe(list)));
      if (lists.length === 0 && values.json !== true) io.out('no lists\n');
    } finally {
      await store.close();
    }
    return EXIT.ok;
  },
};

export const listCommand: Command = {
  name: 'list',
  usage:
    'set NAME --db PATH [--threshold ALGORITHM=N|default]... [--label TEXT | --no-label] [--enable | --disable] [--action block|allow]',
  summary: "Change a list's policy: thresholds, label, enabled, action.",
  help: `
Options:
  --db PATH                  the SQLite store,
${postgresDbHelp(29)}
  --threshold A=N            the list's threshold for algorithm A (repeatable, or A=N,B=M);
                             A=default goes back to the algorithm's default
  --label TEXT               what a match on this list means to the caller (block-and-report,
                             review…), reported with each match as listLabel
  --no-label                 remove the label
  --enable, --disable        whether matchers and snapshot exports use the list (a disabled
                             list is still imported and kept)
  --action block|allow       block (the default): a match blocks the upload; allow: the
                             list's entries are known-good images, and an upload matching one
                             within the list's threshold is not blocked by block-list matches
                             of the same algorithm (docs/lists.md, "Allow lists")
  -h, --help                 this text

Prints the list as \`hashwarden lists\` does. The version does not change (the entries are the
same); matchers see the new policy at their next open or reload.
Exit status: 0 on success, 2 on error.`,
  options: {
    db: { type: 'string' },
    threshold: { type: 'string', multiple: true },
    label: { type: 'string' },
    'no-label': { type: 'boolean' },
    enable: { type: 'boolean' },
    disable: { type: 'boolean' },
    action: { type: 'string' },
  },
  async run(values, positionals, io) {
    const [action, name, extra] = positionals;
    if (action !== 'set')
      throw new UsageError(
        action === undefined ? 'Missing action: set' : `Unknown action ${JSON.stringify(action)} (known: set)`,
      );
    if (name === undefined) throw new UsageError('Missing NAME');
    if (extra !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(extra)}`);
    if (values.enable === true && values.disable === true) throw new UsageError('Give --enable or --disable, not both');
    if (values.label !== undefined && values['no-label'] === true)
      throw new UsageError('Give --label or --no-label, not both');
    const raw = (values.threshold as string[] | undefined) ?? [];
    // A=default resets; the rest are numbers, checked against each algorithm's range by the store.
    const resets = raw.flatMap((v) => v.split(',')).filter((item) => /^[^=]+=\s*default\s*$/i.test(item));
    const numbers = raw.flatMap((v) => v.split(',')).filter((item) => !resets.includes(item));
    const thresholds: Partial<Record<AlgorithmName, number | null>> = {};
    for (const [algorithm, n] of Object.entries(parseThresholds(numbers))) thresholds[getAlgorithm(algorithm).name] = n;
    for (const item of resets) thresholds[getAlgorithm(item.split('=')[0] as string).name] = null;
    const change: ListPolicyChange = {
      ...(Object.keys(thresholds).length > 0 ? { thresholds } : {}),
      ...(values.label !== undefined
        ? { label: values.label as string }
        : values['no-label'] === true
          ? { label: null }
          : {}),
      ...(values.enable === true ? { enabled: true } : values.disable === true ? { enabled: false } : {}),
      ...(values.action === undefined ? {} : { action: listAction(values.action as string) }),
    };
    if (Object.keys(change).length === 0)
      throw new UsageError('Nothing to change: give --threshold, --label, --no-label, --enable, --disable or --action');
    const db = required(values.db, '--db');
    const store = isPostgresUrl(db)
      ? await connectPostgres(db, { create: false }, io)
      : HashStore.open(db, { create: false });
    try {
      io.out(textLine(describe(await store.setListPolicy(name, change))));
    } finally {
      await store.close();
    }
    return EXIT.ok;
  },
};
