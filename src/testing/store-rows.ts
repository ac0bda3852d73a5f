/**
 * What the two stores' tests (src/store/store.test.ts, src/postgres/store.test.ts) import with:
 * entries of the list `demo`, rows in batches as a reader yields them, and a rejection's error.
 */
import { expect } from 'vitest';
import { HashwardenError } from '../errors.js';
import { normalizeEntry, type ListEntry, type ListEntryInput } from '../lists/entry.js';
import type { ImportRow } from '../store/types.js';

export const MD5_A = '0cc175b9c0f1b6a831c399e269772661';
export const MD5_B = '92eb5ffee6ae2fec3ad71c777531578f';
export const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';

/** An entry of list `demo`, MD5 `MD5_A` unless `input` says otherwise. */
export const entry = (input: Partial<ListEntryInput>): ListEntry =>
  normalizeEntry({ list: 'demo', algorithm: 'md5', hash: MD5_A, ...input });

/** `rows` in batches of `size`, each after a turn of the event loop, as a file reader yields them. */
export async function* batches(rows: readonly ImportRow[], size = 2): AsyncGenerator<{ rows: readonly ImportRow[] }> {
  for (let i = 0; i < rows.length; i += size) {
    await new Promise((resolve) => setImmediate(resolve));
    yield { rows: rows.slice(i, i + size) };
  }
}

/** An add row of {@link entry}`(input)`. */
export const add = (input: Partial<ListEntryInput>, line?: number): ImportRow => ({
  op: 'add',
  entry: entry(input),
  ...(line === undefined ? {} : { line }),
});

/** A removal row. */
export const remove = (id: string, line?: number, list = 'demo'): ImportRow => ({
  op: 'remove',
  list,
  id,
  ...(line === undefined ? {} : { line }),
});

/** The HashwardenError `promise` rejects with; fails the test when it resolves or rejects with another. */
export async function rejected(promise: Promise<unknown>): Promise<HashwardenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HashwardenError);
    return error as HashwardenError;
  }
  throw new Error('expected a rejection');
}
