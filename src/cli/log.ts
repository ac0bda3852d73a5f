/**
 * `hashwarden log verify`: proves a decision log's chain unbroken, or names the first bad record.
 * Exit 0 when whole, 1 when broken (as `match` exits 1 on what needs a look), 2 for a usage error
 * or a file that cannot be read.
 */
import { verifyLog } from '../index.js';
import { EXIT, UsageError, type Command } from './command.js';
import { jsonLine, textLine } from './escape.js';

export const logCommand: Command = {
  name: 'log',
  usage: 'verify FILE|DIR... [--head SHA256] [--json]',
  summary: 'Verify the hash chain of a decision log (`match --log`, `MatcherOptions.decisionLog`).',
  help: `
Subcommands:
  verify FILE|DIR...    check that each record follows the one before it (its sequence number
                        and the SHA-256 of its line), across the files in the order given; a
                        directory stands for its decisions-*.ndjson files, in chain order.
                        Finds a changed byte, a removed, inserted or reordered record, a
                        removed or misplaced file and a torn last line, and names the first
                        bad record as FILE:LINE with the reason

Options:
  --head SHA256         the hash the last record must have (the log's head, kept elsewhere):
                        finds records cut from the end of the newest file at a line boundary,
                        which the chain alone cannot tell from records never written
  --json                one JSON object: {"ok","records",…} as verifyLog returns it
  -h, --help            this text

Exit status: 0 when the chain is whole, 1 when it is broken, 2 for a usage error or a file
that cannot be read.`,
  options: {
    head: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const [sub, ...files] = positionals;
    if (sub !== 'verify')
      throw new UsageError(
        sub === undefined ? 'Missing subcommand verify' : `Unknown subcommand ${JSON.stringify(sub)}`,
      );
    if (files.length === 0) throw new UsageError('Missing FILE');
    const head = values.head as string | undefined;
    if (head !== undefined && !/^[0-9a-fA-F]{64}$/.test(head))
      throw new UsageError(`Expected a SHA-256 in hex for --head but received ${JSON.stringify(head)}`);
    const result = verifyLog(files, head === undefined ? {} : { head });
    if (values.json === true) io.out(jsonLine(result));
    else if (result.ok)
      io.out(
        textLine(
          `ok        ${result.records} records (${result.firstSeq}-${result.head.seq}) in ${result.files.length} files, head ${result.head.hash}${result.firstSeq > 1 ? '  (starts after record 1: earlier files not given)' : ''}`,
        ),
      );
    else
      io.out(
        textLine(
          `BROKEN    ${result.file}:${result.line}: ${result.reason} (${result.records} records whole before it)`,
        ),
      );
    return result.ok ? EXIT.ok : EXIT.matched;
  },
};
