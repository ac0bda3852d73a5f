/**
 * Reading the list samples of test-vectors/list-formats through both readers, for the tests of
 * the formats of other tools (issue 21): `readListFile` and `streamListFile` must read each alike.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { hasDefaultId, type ListEntry } from '../lists/entry.js';
import type { ReadListFileOptions } from '../lists/formats.js';
import { readListFile } from '../lists/parse.js';
import { streamListFile } from '../lists/stream.js';

/** test-vectors/list-formats: samples of other tools' list layouts. */
export const SAMPLES = join(import.meta.dirname, '..', '..', 'test-vectors', 'list-formats');

/** The entries of a sample as readListFile reads it, checked to be what streamListFile yields. */
export async function readBoth(
  name: string,
  options: Omit<ReadListFileOptions, 'list'> = {},
): Promise<readonly ListEntry[]> {
  const path = join(SAMPLES, name);
  const parsed = await readListFile(path, { list: 'peer', ...options });
  const streamed: ListEntry[] = [];
  const reader = streamListFile(path, { list: 'peer', ...options, batchSize: 2 });
  let step = await reader.next();
  // The stream leaves repeats to the store: drop those the whole-file reader merges (dedupe 'merge').
  const seen = new Set<string>();
  for (; step.done !== true; step = await reader.next()) {
    for (const row of step.value.rows) {
      if (row.op !== 'add') continue;
      const key = `${row.entry.list}\0${row.entry.id}`;
      if (seen.has(key) && hasDefaultId(row.entry)) continue;
      seen.add(key);
      streamed.push(row.entry);
    }
  }
  expect(step.value.format).toBe(parsed.format);
  expect(streamed).toEqual(parsed.entries);
  return parsed.entries;
}

/** What a reader rejects with, for both readers. */
export async function refusals(name: string, options: Omit<ReadListFileOptions, 'list'> = {}): Promise<unknown[]> {
  const path = join(SAMPLES, name);
  const stream = async (): Promise<void> => {
    for await (const _ of streamListFile(path, { list: 'peer', ...options })) {
      // drained for its error
    }
  };
  return [
    await readListFile(path, { list: 'peer', ...options }).catch((error: unknown) => error),
    await stream().catch((error: unknown) => error),
  ];
}
