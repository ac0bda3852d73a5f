/**
 * What the parts of the hostile-inputs corpus generator (test-vectors/hostile-lists.ts) share: the
 * manifest's types, the seeded store every list file is imported into, the metadata limits the
 * files are made from, and the byte helpers.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import * as entryLimits from '../../src/lists/entry.js';
import type { ListEntry } from '../../src/lists/entry.js';
import { mulberry32 } from '../../src/testing/prng.js';

/** The corpus's seed: random bytes come from mulberry32 seeded with it (plus a small offset per use). */
export const SEED = 20_261_206;

/** The limits src/lists/entry.ts must export (issue 18), and what to assume of each while it does not. */
const LIMITS = {
  MAX_METADATA_BYTES: 65_536,
  MAX_METADATA_KEYS: 1_024,
  MAX_METADATA_DEPTH: 32,
  MAX_CSV_COLUMNS: 1_024,
} as const;

/**
 * The metadata limits of src/lists/entry.ts, read by name: the list files probing them are made
 * from the values the code holds, and the manifest names the limits, never their values (so the
 * manifest does not change with them). `MAX_METADATA_BYTES` is fixed by issue 18 at 65,536; the
 * others are the reader's choice. A limit not exported yet takes the value in `LIMITS` and is named
 * in `missing` (the test fails on it).
 */
export function metadataLimits(): {
  readonly bytes: number;
  readonly keys: number;
  readonly depth: number;
  readonly columns: number;
  readonly missing: readonly string[];
} {
  const held = entryLimits as unknown as Partial<Record<keyof typeof LIMITS, number>>;
  const names = Object.keys(LIMITS) as (keyof typeof LIMITS)[];
  const value = (name: keyof typeof LIMITS): number => held[name] ?? LIMITS[name];
  return {
    bytes: value('MAX_METADATA_BYTES'),
    keys: value('MAX_METADATA_KEYS'),
    depth: value('MAX_METADATA_DEPTH'),
    columns: value('MAX_CSV_COLUMNS'),
    missing: names.filter((name) => typeof held[name] !== 'number'),
  };
}

/** The public call a case goes through (see run.ts, which makes it). */
export type OpenCall =
  | 'readListFile'
  | 'streamListFile'
  | 'importFile'
  | 'HashStore.open'
  | 'Matcher.open'
  | 'readSnapshot';

/** How a case's file is opened. */
export interface OpenSpec {
  readonly call: OpenCall;
  /** The call's options, as JSON. */
  readonly options?: Readonly<Record<string, unknown>>;
  /**
   * `importFile` of a list file: imported into a fresh store seeded with {@link SEEDED} (the
   * default). `importFile` of a store: the corpus list file imported into a copy of the store.
   */
  readonly import?: string;
}

/** Entry counts per list, as the store's `entries` table holds them (lists with none left out). */
export type ListCounts = Readonly<Record<string, number>>;

/** What the case must come to. */
export type HostileExpectation =
  | {
      readonly ok: {
        /** The store's lists afterwards (store and import cases). */
        readonly lists?: ListCounts;
        /** Entries read (readListFile), rows read (streamListFile) or loaded (Matcher.open). */
        readonly entries?: number;
        /** Bad rows skipped, with the lines they were on. */
        readonly skippedLines?: readonly number[];
      };
    }
  | {
      /** The `HashwardenError` code, or any one of several when the contract allows each. */
      readonly error: string | readonly string[];
      /** The store's lists afterwards: what the refused call must have left untouched. */
      readonly lists?: ListCounts;
    };

/** One case of the manifest. */
export interface HostileCase {
  /** Unique name of the case (a file may be opened by several cases). */
  readonly case: string;
  readonly file: string;
  readonly kind: 'list' | 'store' | 'snapshot';
  readonly what: string;
  readonly open: OpenSpec;
  readonly expect: HostileExpectation;
  /** Why this outcome is the one a trust-and-safety service wants. */
  readonly reason: string;
  /** The issue 18 finding it reproduces (number), or `held` for an attack that already failed. */
  readonly finding: number | 'held';
  /**
   * Allocated gigabytes before issue 18's fixes: run in a child process with a memory watchdog,
   * never in the test's own process.
   */
  readonly heavy?: true;
  /** Apparent size; absent when it depends on the limits or on SQLite's page layout. */
  readonly bytes?: number;
  /** Actual bytes on disk are far fewer: a sparse file. */
  readonly sparse?: true;
  readonly sha256?: string;
}

/** The lists of the store a list file is imported into: another provider's L1, and vendorA's own. */
export const SEEDED: ListCounts = Object.freeze({ L1: 2, vendorA: 1 });

export const hex = (algorithm: string, word: string): string => createHash(algorithm).update(word).digest('hex');

/** The entries of {@link SEEDED}: ids sort in the order given, as exports have them. */
export function seededEntries(): ListEntry[] {
  return [
    { id: 'l1-a', list: 'L1', algorithm: 'md5', hash: hex('md5', 'l1-a'), label: 'csam' },
    { id: 'l1-b', list: 'L1', algorithm: 'sha1', hash: hex('sha1', 'l1-b') },
    { id: 'va-1', list: 'vendorA', algorithm: 'md5', hash: hex('md5', 'va-1') },
  ].map((e) => entryLimits.normalizeEntry(e));
}

/** A file the generator writes, and the cases opening it. */
export interface Draft {
  readonly file: string;
  /** Its bytes, or a writer for big and sparse files (returns the apparent size). */
  readonly data: Uint8Array | ((path: string) => Promise<number>);
  /** Whether the manifest records size and digest (not for limit-dependent files or stores). */
  readonly record: boolean;
  readonly sparse?: boolean;
}

export const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
export const lines = (...rows: string[]): Buffer => utf8(`${rows.join('\n')}\n`);

/** Writes `count` copies of `piece` after `head` and before `tail`, in chunks (never the whole in memory). */
export async function repeated(
  path: string,
  head: string,
  piece: string,
  count: number,
  tail: string,
): Promise<number> {
  const file = await open(path, 'w');
  try {
    let size = 0;
    const write = async (text: string) => {
      const b = utf8(text);
      await file.write(b);
      size += b.length;
    };
    await write(head);
    const CHUNK = 1 << 16;
    const chunk = piece.repeat(CHUNK);
    for (let left = count; left > 0; left -= CHUNK) await write(left >= CHUNK ? chunk : piece.repeat(left));
    await write(tail);
    return size;
  } finally {
    await file.close();
  }
}

/** Appends `head`, then `count` × `piece`, then `tail` to `path`; returns the file's new size. */
export async function appendRepeated(
  path: string,
  piece: string,
  count: number,
  tail: string,
  head = '',
): Promise<number> {
  const file = await open(path, 'a');
  try {
    await file.write(utf8(head));
    const CHUNK = 1 << 16;
    const chunk = utf8(piece.repeat(CHUNK));
    for (let left = count; left > 0; left -= CHUNK) await file.write(left >= CHUNK ? chunk : utf8(piece.repeat(left)));
    await file.write(utf8(tail));
    return (await file.stat()).size;
  } finally {
    await file.close();
  }
}

/** `length` bytes from mulberry32 seeded with `seed`. */
export function random(seed: number, length: number): Buffer {
  const next = mulberry32(seed);
  return Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
}
