/**
 * The import progress bar: cli-progress on standard error, only when that is a terminal and
 * `--quiet` was not given, so pipes, logs and CI output stay clean.
 */
import { SingleBar } from 'cli-progress';
import type { CliIo } from './command.js';

/** Progress through a file, in bytes. */
export interface Progress {
  update(bytesRead: number, rows: number): void;
  stop(): void;
}

const SILENT: Progress = { update: () => undefined, stop: () => undefined };

/**
 * A bar over `total` bytes on standard error when it is a terminal and not `quiet`; otherwise
 * one that prints nothing.
 *
 * @example
 * ```ts
 * const bar = startProgress(io, size, quiet); bar.update(read, rows); bar.stop();
 * ```
 */
export function startProgress(io: CliIo, total: number, quiet: boolean): Progress {
  if (quiet || io.errIsTTY !== true || total <= 0) return SILENT;
  const bar = new SingleBar({
    format: '{bar} {percentage}% | {rows} rows | {eta_formatted} left',
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  });
  bar.start(total, 0, { rows: 0 });
  return {
    update: (bytesRead, rows) => bar.update(bytesRead, { rows: rows.toLocaleString('en-US') }),
    stop: () => bar.stop(),
  };
}
