/**
 * The shape of a CLI command and the argument helpers they share. Parsing is node:util parseArgs;
 * every command prints its own `--help`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HashwardenError, isHashwardenError } from '../index.js';

/** Where a command writes; tests pass string sinks. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stdout is a terminal (tables get colour-free padding either way). */
  readonly isTTY: boolean;
  /** True when stderr is a terminal: progress bars are drawn there, and only then. */
  readonly errIsTTY?: boolean;
}

/** Exit statuses shared by the commands. */
export const EXIT = { ok: 0, matched: 1, error: 2 } as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/** A command: its help text, its options, and what it does. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Help text after the usage line. */
  readonly help: string;
  readonly usage: string;
  readonly options: Options;
  run(
    values: Record<string, string | boolean | string[] | undefined>,
    positionals: string[],
    io: CliIo,
  ): Promise<number>;
}

/** A usage problem: printed with a hint to `--help`, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * A refusal to go on that is no usage mistake (nothing to match against, nothing imported):
 * printed without the hint to `--help`, exit status 2.
 */
export class CliRefusal extends Error {
  override name = 'CliRefusal';
}

/** Levenshtein distance of two short strings (option names). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/**
 * The known option nearest to `given` (without dashes), when it is close enough to be a typo:
 * at most a third of its letters off (`thresold` → `threshold`, not `db` → `out`).
 */
export function nearestOption(given: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const distance = editDistance(given, name);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(given.length / 3)) ? best : undefined;
}

/**
 * Parses `argv` for `command`, adding `--help`. Unknown options are usage errors naming the
 * nearest known option when one is close.
 */
export function parse(
  command: Command,
  argv: readonly string[],
): { values: Parameters<Command['run']>[0]; positionals: string[] } {
  const options: Options = { ...command.options, help: { type: 'boolean', short: 'h' } };
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    // No option is both multiple and boolean, so a list is always of strings.
    return { values: values as Parameters<Command['run']>[0], positionals };
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      throw new UsageError((error as Error).message);
    // Node's message quotes the option as given: "Unknown option '--thresold'. To specify …".
    const given = /'(-[^']*)'/.exec((error as Error).message)?.[1] ?? '';
    const name = given.replace(/^--?/, '').split('=')[0] ?? '';
    const nearest = given.startsWith('--') ? nearestOption(name, Object.keys(options)) : undefined;
    throw new UsageError(`Unknown option ${given}.${nearest === undefined ? '' : ` Did you mean --${nearest}?`}`);
  }
}

/** The full help text of a command. */
export function helpText(command: Command): string {
  return `Usage: hashwarden ${command.name} ${command.usage}\n\n${command.summary}\n\n${command.help.trim()}\n`;
}

/** `{ code, message }` for any thrown value, for JSON output. */
export function errorJson(error: unknown): { code: string; message: string } {
  if (isHashwardenError(error)) return error.toJSON();
  if (error instanceof TypeError || error instanceof RangeError)
    return { code: 'ERR_INVALID_ARGUMENT', message: error.message };
  return { code: 'ERR_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** Parses `name=value,name=value` threshold lists (`--threshold blockhash=8`). */
export function parseThresholds(values: readonly string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of (values ?? []).flatMap((v) => v.split(','))) {
    const [name, value, extra] = item.split('=');
    if (!name || value === undefined || extra !== undefined || !/^\d+$/.test(value.trim())) {
      throw new UsageError(`Expected ALGORITHM=INTEGER for --threshold but received ${JSON.stringify(item)}`);
    }
    out[name.trim()] = Number(value);
  }
  return out;
}

/** Splits a comma-separated option value, dropping empty items. */
export function commaList(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

/**
 * An option value that must be a whole number, as a number; anything else goes on to the option
 * validator as the text it is, so the usage error quotes it.
 *
 * @example
 * ```ts
 * resolveImageOptions({ maxFrames: integerArgument(values['max-frames']) });
 * ```
 */
export function integerArgument(value: string): number {
  return (/^\d+$/.test(value.trim()) ? Number(value) : value) as number;
}

/**
 * `check()`'s value, its error (a TypeError or RangeError from an option validator) turned into a
 * usage error.
 *
 * @example
 * ```ts
 * const options = usage(() => resolveImageOptions({ resolution: values.resolution }));
 * ```
 */
export function usage<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    // Only argument errors are the user's mistake: a data error keeps its code.
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * `--mode OCTAL` as a file mode: owner read and write (the owner updates the file) and no write
 * for group or others (anyone who can write a hash list can empty it); `fallback` when absent
 * (undefined for an output, which then keeps the mode of the file it replaces).
 *
 * @example
 * ```ts
 * fileMode('640', 0o600); // 0o640
 * fileMode(undefined, undefined); // undefined
 * ```
 */
export function fileMode<F extends number | undefined>(value: unknown, fallback: F): number | F {
  if (value === undefined) return fallback;
  const text = String(value).trim();
  const mode = /^0?[0-7]{3}$/.test(text) ? Number.parseInt(text, 8) : Number.NaN;
  if (Number.isNaN(mode) || (mode & 0o600) !== 0o600 || (mode & 0o022) !== 0) {
    throw new UsageError(
      `Expected an octal mode with owner read and write and no group or other write (600, 640, 644) for --mode but received ${JSON.stringify(text)}`,
    );
  }
  return mode;
}

/** Throws a usage error unless `value` is a non-empty string. */
export function required(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`Missing ${flag}`);
  return value;
}

export { HashwardenError };
