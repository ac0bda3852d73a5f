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
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[], io: CliIo): Promise<number>;
}

/** A usage problem: printed with a hint to `--help`, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses `argv` for `command`, adding `--help`. Unknown options are usage errors. */
export function parse(command: Command, argv: readonly string[]) {
  return usage(() => parseArgs({
    args: [...argv],
    options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  }));
}

/** The full help text of a command. */
export function helpText(command: Command): string {
  return `Usage: hashwarden ${command.name} ${command.usage}\n\n${command.summary}\n\n${command.help.trim()}\n`;
}

/** `{ code, message }` for any thrown value, for JSON output. */
export function errorJson(error: unknown): { code: string; message: string } {
  if (isHashwardenError(error)) return error.toJSON();
  if (error instanceof TypeError || error instanceof RangeError) return { code: 'ERR_INVALID_ARGUMENT', message: error.message };
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
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
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
    throw new UsageError((error as Error).message);
  }
}

/** Throws a usage error unless `value` is a non-empty string. */
export function required(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`Missing ${flag}`);
  return value;
}

export { HashwardenError };
