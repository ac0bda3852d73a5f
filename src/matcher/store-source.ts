/**
 * What `Matcher.open` shares between the stores it reads lists from: choosing the lists (every
 * enabled one, or those named), the signature that tells a reload whether anything changed, and
 * the state built from the lists' packed entries (and, for `hashwarden export` and
 * `PgHashStore.exportSnapshot`, the lists as a snapshot keeps them). A store the core does not load itself (the
 * PostgreSQL store, `hashwarden/postgres`) registers a {@link StoreSource} here when it is
 * connected, so that `Matcher.open(store)` reads it without the core importing `pg` or the store's
 * module: the dependency points from the store to the matcher, never back.
 */
import type { AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError } from '../errors.js';
import type { PackedEntries } from '../search/entry-table.js';
import type { PackedVpdq } from '../search/vpdq.js';
import type { SnapshotList, SnapshotQuarantine } from '../snapshot/format.js';
import type { ListHeader } from '../store/types.js';

/** The lists a store holds for a matcher, their entries packed, read from one version of the store. */
export interface PackedLists {
  /** What {@link listSignature} gives for every list the store holds. */
  readonly signature: string;
  /** The lists chosen, in the order the packed entries number them. */
  readonly lists: readonly ListHeader[];
  readonly packed: ReadonlyMap<AlgorithmName, PackedEntries>;
  /** The chosen lists' vPDQ entries (one video each), numbered as `packed`'s; absent when none. */
  readonly videos?: PackedVpdq | undefined;
}

/** A store a matcher reads through a connection of the store's own (`Matcher.open(store)`). */
export interface StoreSource {
  /** The store as messages name it (`PostgreSQL store postgresql://host:port/database`). */
  readonly label: string;
  /**
   * The lists chosen by `names` (see {@link chooseLists}) with their entries packed, read in one
   * transaction; undefined when the store's lists still give the signature `unless`.
   */
  readPacked(names: readonly string[] | undefined, unless: string | undefined): Promise<PackedLists | undefined>;
}

/**
 * A store `Matcher.open` takes in place of a path: a connected `PgHashStore` (`hashwarden/postgres`).
 * Typed by its shape so the core names no store module; any other object is a TypeError.
 */
export interface ConnectedStore {
  close(): Promise<void>;
}

const sources = new WeakMap<object, StoreSource>();

/** Makes `store` one `Matcher.open` takes. */
export function registerStoreSource(store: object, source: StoreSource): void {
  sources.set(store, source);
}

/** The source registered for `value`, if any. */
export function storeSourceOf(value: unknown): StoreSource | undefined {
  return value !== null && typeof value === 'object' ? sources.get(value) : undefined;
}

/**
 * The versions and policy (action included: a policy change gives no new version) of every list
 * held, and how many of its entries are quarantined now (a quarantine that ends by itself changes
 * it, with no new version): equal signatures, nothing for a reload to read.
 */
export function listSignature(held: readonly ListHeader[]): string {
  return JSON.stringify(
    held.map((l) => [
      l.name,
      l.version,
      l.thresholds,
      l.label ?? null,
      l.enabled,
      l.quarantined ?? 0,
      l.action ?? 'block',
    ]),
  );
}

/**
 * The lists named (enabled or not; names trimmed), or every enabled one: a name the store does
 * not hold is `ERR_STORE` naming the store (`label`).
 */
export function chooseLists(
  held: readonly ListHeader[],
  names: readonly string[] | undefined,
  label: string,
): ListHeader[] {
  const missing = names?.filter((name) => !held.some((l) => l.name === name.trim())) ?? [];
  if (missing.length > 0)
    throw new HashwardenError(
      'ERR_STORE',
      `${label}: no list named ${missing.map((n) => JSON.stringify(n)).join(', ')}`,
    );
  return held.filter((l) => (names === undefined ? l.enabled : names.some((name) => name.trim() === l.name)));
}

/**
 * The lists as a snapshot's META keeps them: name, version, the policy each sets, and the entries
 * of each quarantined (`quarantined(list)`, for a store that has quarantine), which its tables
 * leave out.
 */
export function snapshotLists(
  chosen: readonly ListHeader[],
  quarantined?: (list: string) => readonly SnapshotQuarantine[],
): SnapshotList[] {
  return chosen.map((l) => {
    const off = quarantined === undefined || (l.quarantined ?? 0) === 0 ? [] : quarantined(l.name);
    return {
      name: l.name,
      version: l.version,
      ...(Object.keys(l.thresholds).length === 0 ? {} : { thresholds: l.thresholds }),
      ...(l.label === undefined ? {} : { label: l.label }),
      ...(l.action === 'allow' ? { action: l.action } : {}),
      ...(off.length === 0 ? {} : { quarantined: off }),
    };
  });
}
