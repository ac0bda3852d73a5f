/**
 * Assertions shared by the list reader tests (formats.test.ts, stream.test.ts): a promise's
 * rejection, and an ERR_LIST_FORMAT error naming `source:line`.
 */
import { expect } from 'vitest';
import { HashwardenError } from '../errors.js';

/** What `promise` rejected with; throws when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Asserts an ERR_LIST_FORMAT error whose message starts `source:line: `. */
export function expectRowError(error: unknown, source: string, line: number): HashwardenError {
  expect(error).toBeInstanceOf(HashwardenError);
  const e = error as HashwardenError;
  expect(e.code).toBe('ERR_LIST_FORMAT');
  expect(e.message.startsWith(`${source}:${line}: `), e.message).toBe(true);
  return e;
}
