/**
 * Writing an output file (a snapshot, an exported list) atomically: written to a temporary file
 * beside it, flushed, then renamed over it, so a reader sees the old file or the new one, never
 * half of one. The rename replaces the old file's inode, and with it its mode and owner: an
 * export after `chmod 640` and `chgrp` would leave a service of that group unable to read it. So
 * the new file takes the old one's owner and mode before the rename, or the write fails.
 */
import type { Stats } from 'node:fs';
import { type FileHandle, lstat, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HashwardenError, isHashwardenError } from './errors.js';
import { fileMode } from './validate.js';

/** The mode of a new output: owner only, as the hashes of abuse material are themselves sensitive (docs/security.md). */
export const NEW_FILE_MODE = 0o600;

/** Where and how to write, resolved. */
export interface OutputFile {
  readonly path: string;
  /** Permission bits; undefined: those of the file replaced, or {@link NEW_FILE_MODE} for a new one. */
  readonly mode: number | undefined;
  /** The code of every failure (a snapshot's writer has its own), and what the message calls the file. */
  readonly code: 'ERR_OUTPUT_WRITE' | 'ERR_STORE';
  readonly what: string;
}

/**
 * An output's `mode` option: undefined when absent (keep the old file's mode), else permission
 * bits 0 to 0o777 (a RangeError otherwise).
 *
 * @example
 * ```ts
 * outputMode(undefined, 'options.mode'); // undefined
 * outputMode(0o640, 'options.mode'); // 0o640
 * ```
 */
export function outputMode(value: unknown, name: string): number | undefined {
  return value === undefined ? undefined : fileMode(value, name);
}

/**
 * Writes all of `bytes` at `position` (a write may take fewer bytes than it is given).
 *
 * @example
 * ```ts
 * await writeAll(file, header, 0);
 * ```
 */
export async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** The file `path` names now, when it is a regular file: a symlink is replaced, not followed, so it has nothing to keep. */
async function replaced(path: string): Promise<Stats | undefined> {
  try {
    const stats = await lstat(path);
    return stats.isFile() ? stats : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes `output.path` through `write`, given the temporary file (empty, open for writing), and
 * renames it over the path. When a regular file is there, the new one takes its owner (uid and
 * gid) and, unless `output.mode` is given, its mode; a new file takes `output.mode` or
 * {@link NEW_FILE_MODE}; the mode is set whatever the umask. An owner this process cannot give
 * (EPERM: not root, or not in that group) fails the write before anything is written. Any failure
 * is a `HashwardenError` of `output.code` (those `write` throws pass as they are), and leaves the
 * old file as it was and no temporary file.
 *
 * @example
 * ```ts
 * await writeOutputFile({ path, mode: undefined, code: 'ERR_OUTPUT_WRITE', what: '' }, (file) => writeAll(file, bytes, 0));
 * ```
 */
export async function writeOutputFile<T>(output: OutputFile, write: (file: FileHandle) => Promise<T>): Promise<T> {
  const { path, code, what } = output;
  const failure = (error: unknown, why = (error as Error).message): HashwardenError =>
    isHashwardenError(error)
      ? error
      : new HashwardenError(code, `Cannot write ${what}${path}: ${why}`, { cause: error });
  let old: Stats | undefined;
  let file: FileHandle;
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    old = await replaced(path);
    file = await open(temporary, 'wx', NEW_FILE_MODE);
  } catch (error) {
    throw failure(error);
  }
  try {
    if (old !== undefined && process.platform !== 'win32') {
      const made = await file.stat();
      if (made.uid !== old.uid || made.gid !== old.gid) {
        try {
          await file.chown(old.uid, old.gid);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
          throw failure(
            error,
            `it belongs to uid ${old.uid}, gid ${old.gid}, an owner this process (uid ${made.uid}) cannot give the new file; the file is left as it was (remove it first to replace it with a file of this user)`,
          );
        }
      }
    }
    // After chown, which may clear set-id bits; through the umask, the creation mode could not say it.
    await file.chmod(output.mode ?? (old === undefined ? NEW_FILE_MODE : old.mode & 0o777));
    const result = await write(file);
    await file.sync();
    await file.close();
    await rename(temporary, path);
    return result;
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw failure(error);
  }
}
