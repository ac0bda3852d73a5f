/**
 * Reading an upload: its bytes pinned at call time, or its file read within the byte limit. Free of
 * sharp, so the core entry's matcher can pin a caller's buffer before it loads the image module.
 */
import { readFile, stat } from 'node:fs/promises';
import { HashwardenError, readError } from '../errors.js';
import { invalid } from '../validate.js';

/** An upload: its bytes, or the path of a file. */
export type ImageInput = Uint8Array | string;

/**
 * Checks an upload's type and, for bytes, the byte limit: `ERR_IMAGE_TOO_LARGE` before anything is
 * copied, so a huge buffer costs nothing. A path's size is checked when it is read.
 */
export function checkInput(input: ImageInput, maxBytes: number): void {
  if (input instanceof Uint8Array) {
    if (input.length > maxBytes) {
      throw new HashwardenError(
        'ERR_IMAGE_TOO_LARGE',
        `The input has ${input.length} bytes, above the limit of ${maxBytes}`,
      );
    }
    return;
  }
  if (typeof input !== 'string' || input.length === 0) invalid('Buffer, Uint8Array or file path', 'input', input);
}

/**
 * The upload as the call will read it, fixed now: bytes are copied, so a caller that reuses or
 * pools its buffer once the call has started cannot change what is hashed; a path is kept, to be
 * read inside the call. Synchronous: call it, after {@link checkInput}, before the first `await`.
 */
export function pinInput(input: ImageInput): ImageInput {
  // `new Uint8Array(view)` copies the view's bytes (a Buffer's `slice` would not: it shares memory).
  return input instanceof Uint8Array ? new Uint8Array(input) : input;
}

/**
 * Reads an upload checked by {@link checkInput} and pinned by {@link pinInput} into bytes: a path's
 * size is checked against the limit before the file is read.
 */
export async function readInput(input: ImageInput, maxBytes: number): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  let size: number;
  try {
    const info = await stat(input);
    if (!info.isFile()) throw new Error('not a regular file');
    size = info.size;
  } catch (error) {
    throw readError(input, error);
  }
  if (size > maxBytes)
    throw new HashwardenError('ERR_IMAGE_TOO_LARGE', `${input} has ${size} bytes, above the limit of ${maxBytes}`);
  try {
    return await readFile(input);
  } catch (error) {
    throw readError(input, error);
  }
}
