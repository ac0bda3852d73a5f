/**
 * What a matcher holds and checks outside its class: the lists given to it, the state a reload
 * swaps whole, where it was opened from, and its options resolved once.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { callThresholds, checkThresholds, type AlgorithmName, type Thresholds } from '../algorithms/registry.js';
import { MAX_CONCURRENCY } from '../concurrency.js';
import { HashwardenError, readError } from '../errors.js';
import type { HashImageOptions } from '../image/index.js';
import { resolveImageOptions } from '../image/options.js';
import { isSnapshot, SNAPSHOT_MAGIC } from '../snapshot/format.js';
import { resolveTrustedKeys, type TrustedKey } from '../snapshot/sign.js';
import { resolveSearch, type MatcherTable, type ResolvedSearch } from '../search/tables.js';
import type { VpdqIndex } from '../search/vpdq.js';
import { boolean, integerInRange, invalid, nonEmptyString, oneOf, optionsObject } from '../validate.js';
import { LIST_ACTIONS, type ListHeader } from '../store/types.js';
import type { StoreSource } from './store-source.js';
import { resolveStormOptions, type ResolvedStormOptions } from './storm.js';
import { DecisionLog } from '../log/decision-log.js';
import {
  DEFAULT_MATCH_CONCURRENCY,
  DEFAULT_MAX_QUEUED,
  type Match,
  type MatchImageOptions,
  type MatcherList,
  type MatcherOptions,
} from './types.js';

export function toMatch(
  table: MatcherTable,
  lists: ReadonlyMap<string, MatcherList>,
  index: number,
  hash: string,
  distance: number,
): Match {
  const { entries } = table;
  const match: Match = {
    list: entries.list(index),
    entryId: entries.id(index),
    algorithm: table.algorithm.name,
    distance,
    hash,
  };
  const label = entries.label(index);
  if (label !== undefined) Object.assign(match, { label });
  const metadata = entries.metadata(index);
  if (metadata !== undefined) Object.assign(match, { metadata });
  const list = lists.get(match.list);
  if (list?.label !== undefined) Object.assign(match, { listLabel: list.label });
  if (list?.version !== undefined) Object.assign(match, { listVersion: list.version });
  return match;
}

/** The lists a matcher is given, checked: names unique, thresholds in range, labels strings. */
export function checkLists(value: unknown, name: string): ReadonlyMap<string, MatcherList> {
  const out = new Map<string, MatcherList>();
  if (value === undefined) return out;
  if (!Array.isArray(value)) invalid('array of lists', name, value);
  (value as unknown[]).forEach((item, i) => {
    const l = optionsObject(item as MatcherList, `${name}[${i}]`);
    if (typeof l.name !== 'string' || l.name.trim() === '') invalid('non-empty string', `${name}[${i}].name`, l.name);
    const list: MatcherList = {
      name: l.name.trim(),
      ...(l.version === undefined
        ? {}
        : { version: integerInRange(l.version, 0, Number.MAX_SAFE_INTEGER, `${name}[${i}].version`) }),
      ...(l.thresholds === undefined
        ? {}
        : { thresholds: Object.freeze(checkThresholds(l.thresholds, `${name}[${i}].thresholds`)) }),
      ...(l.label === undefined ? {} : { label: nonEmptyString(l.label, `${name}[${i}].label`) }),
      ...(l.action === undefined || oneOf(l.action, LIST_ACTIONS, `${name}[${i}].action`) === 'block'
        ? {}
        : { action: 'allow' as const }),
    };
    if (out.has(list.name)) invalid('lists with unique names', `${name}[${i}].name`, l.name, true);
    out.set(list.name, Object.freeze(list));
  });
  return out;
}

/**
 * What a matcher searches, swapped whole by `reload`: a call takes it once at its start, so it
 * sees one version from beginning to end.
 */
export interface State {
  readonly tables: ReadonlyMap<AlgorithmName, MatcherTable>;
  readonly lists: ReadonlyMap<string, MatcherList>;
  /** The vPDQ entries of the lists (one video each), indexed by frame; undefined when there are none. */
  readonly videos: VpdqIndex | undefined;
  /** Entries held: every table's and every listed video. */
  readonly size: number;
  /** What `reload` compares to tell whether the source changed. */
  readonly signature: string;
  /** The snapshot's sequence (rollback protection); 0 for a store or entries. */
  readonly sequence: number;
}

export function makeState(
  tables: ReadonlyMap<AlgorithmName, MatcherTable>,
  lists: ReadonlyMap<string, MatcherList>,
  signature = '',
  sequence = 0,
  videos?: VpdqIndex,
): State {
  const held = videos !== undefined && videos.size > 0 ? videos : undefined;
  return Object.freeze({
    tables,
    lists,
    videos: held,
    size: [...tables.values()].reduce((n, t) => n + t.entries.count, held?.size ?? 0),
    signature,
    sequence,
  });
}

/** Where a matcher was opened from, for `reload`. */
export interface Origin {
  readonly path: string;
  readonly kind: 'snapshot' | 'store';
  readonly lists: readonly string[] | undefined;
  /** A store read through its own connection (PostgreSQL), rather than the file at `path`. */
  readonly store?: StoreSource;
}

export function byDistance(a: Match, b: Match): number {
  return (
    a.distance - b.distance ||
    (a.list < b.list ? -1 : a.list > b.list ? 1 : 0) ||
    (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0)
  );
}

/** True when the file at `path` begins with the snapshot magic; false when it cannot be read. */
export async function startsWithSnapshotMagic(path: string): Promise<boolean> {
  if (typeof path !== 'string' || path.length === 0) invalid('path of a snapshot or SQLite store', 'path', path);
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch {
    return false; // the store opener reports the problem in its own terms
  }
  try {
    const head = new Uint8Array(SNAPSHOT_MAGIC.length);
    let bytesRead: number;
    try {
      ({ bytesRead } = await file.read(head, 0, head.length, 0));
    } catch (error) {
      // A directory opens, then refuses to be read (EISDIR): the path's problem, not a bug.
      throw readError(path, error);
    }
    return isSnapshot(head.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

/** A file's identity and size: a snapshot rewritten (written aside, then renamed) changes it. */
export async function fileSignature(path: string): Promise<string> {
  try {
    const info = await stat(path);
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  } catch (error) {
    throw readError(path, error);
  }
}

/**
 * Refuses a source that cannot prove what the options require: a SQLite store carries no
 * signature (ERR_SNAPSHOT_SIGNATURE with trusted keys) and no sequence (ERR_SNAPSHOT_ROLLBACK
 * with a `minSequence`). Refused rather than served: a matcher told to trust only signed lists
 * must never serve lists nobody signed.
 */
export function refuseUnsigned(options: ResolvedMatcherOptions, source: string): void {
  if (options.trust !== undefined)
    throw new HashwardenError(
      'ERR_SNAPSHOT_SIGNATURE',
      `${source} carries no signature, and trusted keys are required (export a signed snapshot)`,
    );
  if (options.minSequence > 0)
    throw new HashwardenError(
      'ERR_SNAPSHOT_ROLLBACK',
      `${source} has no sequence, and minSequence ${options.minSequence} is required (export a snapshot)`,
    );
}

/** Matcher options, validated once. */
export interface ResolvedMatcherOptions {
  readonly thresholds: Thresholds;
  readonly image: Omit<HashImageOptions, 'algorithms'>;
  readonly search: ResolvedSearch | undefined;
  readonly allowEmpty: boolean;
  /** The largest upload `matchImage` takes, from `image.maxBytes`: checked before a Buffer is copied. */
  readonly maxBytes: number;
  readonly concurrency: number;
  readonly maxQueued: number;
  /** The keys a snapshot must be signed with; undefined: signatures not checked. */
  readonly trust: readonly TrustedKey[] | undefined;
  readonly minSequence: number;
  readonly allowRollback: boolean;
  readonly hashThreads: number;
  /** The match-rate alarm's options; undefined when it is off. */
  readonly storm: ResolvedStormOptions | undefined;
  readonly decisionLog: DecisionLog | undefined;
}

export function resolveMatcherOptions(options: MatcherOptions | undefined): ResolvedMatcherOptions {
  const o = optionsObject(options, 'options');
  const image = Object.freeze({ ...optionsObject(o.image, 'image') });
  return Object.freeze({
    thresholds: Object.freeze(checkThresholds(o.thresholds, 'thresholds')),
    image,
    search: resolveSearch(o.search, 'search'),
    allowEmpty: o.allowEmpty === undefined ? false : boolean(o.allowEmpty, 'allowEmpty'),
    maxBytes: resolveImageOptions(image).maxBytes,
    concurrency:
      o.concurrency === undefined
        ? DEFAULT_MATCH_CONCURRENCY
        : integerInRange(o.concurrency, 1, MAX_CONCURRENCY, 'concurrency'),
    maxQueued:
      o.maxQueued === undefined
        ? DEFAULT_MAX_QUEUED
        : o.maxQueued === Infinity
          ? Infinity
          : integerInRange(o.maxQueued, 0, Number.MAX_SAFE_INTEGER, 'maxQueued'),
    trust: resolveTrustedKeys(o.trustedKeys, 'trustedKeys'),
    minSequence:
      o.minSequence === undefined ? 0 : integerInRange(o.minSequence, 0, Number.MAX_SAFE_INTEGER, 'minSequence'),
    allowRollback: o.allowRollback === undefined ? false : boolean(o.allowRollback, 'allowRollback'),
    // At most MAX_CONCURRENCY: threads beyond the uploads a matcher holds at once never get work.
    // Off by default: on 2 cores with photos the threads cost more than they freed (benchmark.md).
    hashThreads: o.hashThreads === undefined ? 0 : integerInRange(o.hashThreads, 0, MAX_CONCURRENCY, 'hashThreads'),
    storm: resolveStormOptions(o.storm, o.onStorm),
    decisionLog: decisionLogOption(o.decisionLog),
  });
}

function decisionLogOption(value: unknown): DecisionLog | undefined {
  if (value !== undefined && !(value instanceof DecisionLog)) invalid('DecisionLog', 'decisionLog', value);
  return value;
}

/**
 * `state`, unless it holds no entry and the caller did not allow that: a matcher over nothing
 * would call every upload clean.
 */
export function nonEmpty(state: State, options: ResolvedMatcherOptions, source: string): State {
  if (state.size === 0 && !options.allowEmpty) {
    throw new HashwardenError(
      'ERR_NO_ENTRIES',
      `${source}: no entry to match (no list, or every list empty or disabled), so every upload would pass as clean; pass allowEmpty: true to accept that`,
    );
  }
  return state;
}

/** A call's `threshold` (or the deprecated `thresholds` of `matchImage`), checked once. */
export function thresholdOption(o: Partial<MatchImageOptions>): Thresholds {
  if (o.threshold !== undefined && o.thresholds !== undefined)
    invalid('threshold or thresholds, not both', 'options.thresholds', o.thresholds);
  return o.thresholds === undefined
    ? callThresholds(o.threshold, 'threshold')
    : callThresholds(o.thresholds, 'thresholds');
}

/** A matcher's state over the tables of `chosen`, with each list's version, thresholds and label. */
export function storeState(
  chosen: readonly ListHeader[],
  tables: ReadonlyMap<AlgorithmName, MatcherTable>,
  signature: string,
  options: ResolvedMatcherOptions,
  label: string,
  videos?: VpdqIndex,
): State {
  const lists = new Map(
    chosen.map((l) => [
      l.name,
      Object.freeze({
        name: l.name,
        version: l.version,
        thresholds: l.thresholds,
        ...(l.label === undefined ? {} : { label: l.label }),
        ...(l.action === 'allow' ? { action: l.action } : {}),
      }),
    ]),
  );
  return nonEmpty(makeState(tables, lists, signature, 0, videos), options, label);
}
