/**
 * The `hashwarden` command line: dispatch, help and error handling. Commands use only the public
 * entries (`hashwarden`, `hashwarden/image`, `hashwarden/sqlite`, `hashwarden/seen`).
 */
import { demoCommand } from './demo.js';
import { entryCommand } from './entry.js';
import { CliRefusal, errorJson, EXIT, helpText, parse, UsageError, type CliIo, type Command } from './command.js';
import { textLine } from './escape.js';
import { exportCommand } from './export.js';
import { feedbackCommand, fetchCommand } from './fetch.js';
import { hashCommand } from './hash.js';
import { importCommand } from './import.js';
import { keygenCommand } from './keygen.js';
import { listCommand, listsCommand } from './lists.js';
import { logCommand } from './log.js';
import { matchCommand } from './match.js';
import { rescanCommand } from './rescan.js';
import { serveCommand } from './serve.js';

/** Every command, in help order. */
export const COMMANDS: readonly Command[] = [
  hashCommand,
  importCommand,
  listsCommand,
  listCommand,
  entryCommand,
  exportCommand,
  fetchCommand,
  feedbackCommand,
  matchCommand,
  rescanCommand,
  logCommand,
  serveCommand,
  keygenCommand,
  demoCommand,
];

function mainHelp(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`);
  return `Usage: hashwarden <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`hashwarden <command> --help\` for a command's options.\n`;
}

/**
 * Runs the CLI with `argv` (without node and script) and returns the exit status.
 *
 * @example
 * ```ts
 * const status = await runCli(['hash', 'a.jpg'], { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), isTTY: false });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(mainHelp());
    return name === undefined ? EXIT.error : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`${textLine(`hashwarden: unknown command ${JSON.stringify(name)}`)}\n${mainHelp()}`);
    return EXIT.error;
  }
  try {
    const { values, positionals } = parse(command, rest);
    if (values.help === true) {
      io.out(helpText(command));
      return EXIT.ok;
    }
    return await command.run(values, positionals, io);
  } catch (error) {
    // Messages quote file names, list names and rows as they came: escaped like every output line.
    if (error instanceof UsageError) {
      io.err(
        `${textLine(`hashwarden ${command.name}: ${error.message}`)}Run \`hashwarden ${command.name} --help\` for usage.\n`,
      );
    } else if (error instanceof CliRefusal) {
      io.err(textLine(`hashwarden ${command.name}: ${error.message}`));
    } else {
      const { code, message } = errorJson(error);
      io.err(textLine(`hashwarden ${command.name}: ${code}: ${message}`));
    }
    return EXIT.error;
  }
}
