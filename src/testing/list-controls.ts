/**
 * The rules of allow lists and entry quarantine as a list store keeps them, one test body run over
 * both stores (src/store/quarantine.test.ts for SQLite, src/postgres/quarantine.test.ts for
 * PostgreSQL): a disabled entry is never matched by a matcher opened from the store or a snapshot
 * exported from it, whatever imports do to its list, until enabled or expired; an allow list's
 * action is stored, exported and read by `Matcher.open`. Each store's own cases (its schema
 * upgrades, crafted rows) stay in its own file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import type { HashwardenError } from '../errors.js';
import type { ListEntry } from '../lists/entry.js';
import { Matcher } from '../matcher/matcher.js';
import type { PgHashStore } from '../postgres/store.js';
import { readSnapshot } from '../snapshot/read.js';
import type { HashStore } from '../store/store.js';
import type { RescanEvent } from '../seen/events.js';
import type { ImageMatchResult } from '../matcher/types.js';
import { collect } from './rescan-property.js';
import { resultOf } from './seen.js';

/** Either list store: every call awaited, so the SQLite store's results and the PostgreSQL store's Promises read alike. */
export type AnyListStore = HashStore | PgHashStore;

/** A store under test, holding list `vendor` (md5 entries a, b, c, imported once: version 1). */
export interface ListControlsHarness {
  readonly store: AnyListStore;
  /** A matcher opened from the store (`Matcher.open`). */
  open(): Promise<Matcher>;
  /** Writes the store's enabled lists to a snapshot at `path` (`hashwarden export --snapshot`, `exportSnapshot`). */
  exportSnapshot(path: string): Promise<void>;
  /** The same store opened again read-only, closed with the harness. */
  readonly(): Promise<AnyListStore>;
  /** A folder for the test's files. */
  readonly dir: string;
}

/** What the cases run on: a new harness per test, and whether the store can run at all (a server started). */
export interface ListControlsSetup {
  make(): Promise<ListControlsHarness>;
  running?: () => boolean;
}

export const md5 = (c: string, list = 'vendor'): ListEntry => ({ list, id: c, algorithm: 'md5', hash: c.repeat(32) });
export const VENDOR = [md5('a'), md5('b'), md5('c')];

/** What `fn` threw or rejected with. */
export async function refusal(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

/** Which of a, b, c `matcher` matches. */
function matchedBy(matcher: Matcher): string[] {
  return ['a', 'b', 'c'].filter((c) => matcher.matchHash({ algorithm: 'md5', hash: c.repeat(32) }).length > 0);
}

/** Declares the cases in the current `describe`. */
export function listControlCases({ make, running = () => true }: ListControlsSetup): void {
  const test = (name: string, body: (h: ListControlsHarness) => Promise<void>): void => {
    it(name, async (t) => {
      if (!running()) return t.skip();
      try {
        await body(await make());
      } finally {
        vi.useRealTimers();
      }
    });
  };
  const matched = async (h: ListControlsHarness): Promise<string[]> => matchedBy(await h.open());

  test('leaves a disabled entry out of a matcher opened from the store, and enable brings it back', async (h) => {
    const { store } = h;
    const q = await store.disableEntry('vendor', 'b', { reason: 'matches a common meme' });
    expect(q).toMatchObject({ list: 'vendor', id: 'b', reason: 'matches a common meme' });
    expect(q.until).toBeUndefined();
    expect(await matched(h)).toEqual(['a', 'c']);
    // The list's contents are unchanged: only its matching.
    expect(await store.count({ list: 'vendor' })).toBe(3);
    expect((await store.lists())[0]).toMatchObject({ total: 3, quarantined: 1, version: 2 });
    expect(await store.enableEntry('vendor', 'b')).toBe(true);
    expect(await store.enableEntry('vendor', 'b')).toBe(false);
    expect(await store.quarantined()).toEqual([]);
    expect(await matched(h)).toEqual(['a', 'b', 'c']);
  });

  test('records disable and enable in the history with the entry, reason and end', async ({ store }) => {
    const until = new Date(Date.now() + 3_600_000);
    await store.disableEntry('vendor', 'a', { reason: 'flag image', until });
    await store.enableEntry('vendor', 'a');
    const [imported, disabled, enabled] = await store.history('vendor');
    expect(imported).toMatchObject({ mode: 'merge', version: 1 });
    expect(imported?.entry).toBeUndefined();
    expect(disabled).toMatchObject({
      mode: 'disable',
      version: 2,
      added: 0,
      removed: 0,
      entry: { id: 'a', reason: 'flag image', until: until.toISOString() },
    });
    expect(enabled).toMatchObject({ mode: 'enable', version: 3, entry: { id: 'a' } });
    expect(enabled?.entry).toEqual({ id: 'a' });
  });

  test('matches an entry again once its quarantine has expired, and a reload picks the expiry up', async (h) => {
    const { store } = h;
    const start = Date.parse('2030-01-01T00:00:00Z');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
    await store.disableEntry('vendor', 'c', { reason: 'until the vendor fixes it', until: new Date(start + 60_000) });
    const matcher = await h.open();
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'c'.repeat(32) })).toEqual([]);
    expect((await store.quarantined('vendor')).map((q) => q.id)).toEqual(['c']);
    vi.setSystemTime(start + 60_001);
    expect(await store.quarantined('vendor')).toEqual([]);
    expect((await store.lists())[0]?.quarantined).toBe(0);
    // No new version, but the signature counts quarantines in force: the reload reads again.
    expect(await matcher.reload()).toBe(true);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'c'.repeat(32) }).map((m) => m.entryId)).toEqual(['c']);
    expect(await matched(h)).toEqual(['a', 'b', 'c']);
    // Enabling an expired quarantine lifts nothing (and records nothing).
    expect(await store.enableEntry('vendor', 'c')).toBe(false);
    expect((await store.history('vendor')).map((r) => r.mode)).toEqual(['merge', 'disable']);
  });

  test('keeps an entry disabled across a re-import of the same list', async (h) => {
    const { store } = h;
    await store.disableEntry('vendor', 'a', { reason: 'false positive' });
    await store.importEntries(VENDOR, { source: 'vendor.csv' });
    await store.importRows([{ rows: VENDOR.map((entry) => ({ op: 'add' as const, entry })) }], { source: 'again' });
    expect((await store.quarantined('vendor')).map((q) => q.id)).toEqual(['a']);
    expect(await matched(h)).toEqual(['b', 'c']);
  });

  test('keeps an entry disabled when a replace drops it and a later import adds it back', async (h) => {
    const { store } = h;
    await store.disableEntry('vendor', 'a', { reason: 'false positive' });
    await store.importRows([{ rows: [md5('b'), md5('c')].map((entry) => ({ op: 'add' as const, entry })) }], {
      replace: ['vendor'],
    });
    expect(await store.entry('vendor', 'a')).toBeUndefined();
    expect((await store.quarantined('vendor')).map((q) => q.id)).toEqual(['a']);
    const file = join(h.dir, 'vendor.csv');
    await writeFile(file, `id,algorithm,hash\n${VENDOR.map((e) => `${e.id},md5,${e.hash}`).join('\n')}\n`);
    await store.importFile(file, { list: 'vendor', replace: ['vendor'] });
    expect(await store.entry('vendor', 'a')).toBeDefined();
    expect(await matched(h)).toEqual(['b', 'c']);
  });

  test('quarantines an id the list does not hold yet, so that it never matches when it arrives', async (h) => {
    const { store } = h;
    await store.disableEntry('vendor', 'd', { reason: 'known bad hash in the next delta' });
    await store.importEntries([md5('d')]);
    const matcher = await h.open();
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'd'.repeat(32) })).toEqual([]);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'a'.repeat(32) })).toHaveLength(1);
  });

  test('leaves the entry out of a snapshot exported from the store and records it there', async (h) => {
    const { store } = h;
    const until = new Date(Date.now() + 86_400_000);
    await store.disableEntry('vendor', 'b', { reason: 'blank screenshot', until });
    const snapshot = join(h.dir, 'quarantine.snap');
    await h.exportSnapshot(snapshot);
    const read = await readSnapshot(snapshot);
    expect(read.lists).toEqual([
      {
        name: 'vendor',
        version: 2,
        quarantined: [{ id: 'b', reason: 'blank screenshot', until: until.toISOString() }],
      },
    ]);
    expect(matchedBy(await Matcher.open(snapshot))).toEqual(['a', 'c']);
    expect((await Matcher.open(snapshot)).lists[0]?.quarantined).toEqual(read.lists[0]?.quarantined);
  });

  test('refuses bad arguments with TypeError or RangeError, writing nothing', async ({ store }) => {
    const cases: [() => unknown, ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor][] = [
      [() => store.disableEntry('vendor', 'a', undefined as never), TypeError],
      [() => store.disableEntry('vendor', 'a', { reason: '' }), RangeError],
      [() => store.disableEntry('vendor', 'a', { reason: 1 as never }), TypeError],
      [() => store.disableEntry('', 'a', { reason: 'r' }), RangeError],
      [() => store.disableEntry('vendor', 'a', { reason: 'r', until: '2031-01-01' as never }), TypeError],
      [() => store.disableEntry('vendor', 'a', { reason: 'r', until: new Date('nope') }), RangeError],
      [() => store.disableEntry('vendor', 'a', { reason: 'r', until: new Date(Date.UTC(10000, 0, 1)) }), RangeError],
      [() => store.enableEntry('vendor', 7 as never), TypeError],
      [() => store.quarantined(7 as never), TypeError],
    ];
    for (const [fn, type] of cases) expect(await refusal(fn)).toBeInstanceOf(type);
    const past = await refusal(() =>
      store.disableEntry('vendor', 'a', { reason: 'r', until: new Date(Date.now() - 1000) }),
    );
    expect(past).toBeInstanceOf(RangeError);
    expect((past as Error).message).toMatch(/^Expected Date after .* for until but received/);
    expect(await store.quarantined()).toEqual([]);
    expect(await store.history('vendor')).toHaveLength(1);
  });

  test('refuses a list the store does not hold, and a read-only store, with ERR_STORE', async (h) => {
    const { store } = h;
    const missing = (await refusal(() => store.disableEntry('vendr', 'a', { reason: 'typo' }))) as HashwardenError;
    expect([missing.code, missing.message]).toEqual(['ERR_STORE', expect.stringMatching(/no list named "vendr"/)]);
    expect(((await refusal(() => store.enableEntry('vendr', 'a'))) as HashwardenError).code).toBe('ERR_STORE');
    const readonly = await h.readonly();
    const refused = (await refusal(() => readonly.disableEntry('vendor', 'a', { reason: 'r' }))) as HashwardenError;
    expect(refused.code).toBe('ERR_STORE');
    expect(((await refusal(() => readonly.enableEntry('vendor', 'a'))) as HashwardenError).code).toBe('ERR_STORE');
    // Reading works read-only.
    expect(await readonly.quarantined()).toEqual([]);
    expect(await store.quarantined()).toEqual([]);
  });

  test('trims the list and id as imports store them, and disabling again replaces the reason', async ({ store }) => {
    await store.disableEntry(' vendor ', ' a ', { reason: 'first' });
    await store.disableEntry('vendor', 'a', { reason: 'second' });
    expect((await store.quarantined()).map((q) => [q.list, q.id, q.reason])).toEqual([['vendor', 'a', 'second']]);
    expect((await store.quarantined(' vendor ')).map((q) => q.id)).toEqual(['a']);
  });

  test('stores an allow list: a matcher lets its entries override block entries, a disabled one overrides nothing', async (h) => {
    const { store } = h;
    await store.importEntries([md5('a', 'fine')]);
    const hash = { algorithm: 'md5' as const, hash: 'a'.repeat(32) };
    expect(
      (await h.open())
        .matchHash(hash)
        .map((m) => m.list)
        .sort(),
    ).toEqual(['fine', 'vendor']);
    expect((await store.lists()).map((l) => [l.name, l.action])).toEqual([
      ['fine', undefined],
      ['vendor', undefined],
    ]);
    expect((await store.setListPolicy('fine', { action: 'allow' })).action).toBe('allow');
    const matcher = await h.open();
    expect(matcher.lists.find((l) => l.name === 'fine')?.action).toBe('allow');
    expect(matcher.matchHash(hash)).toEqual([]);
    // Other hashes of the block list still match.
    expect(matchedBy(matcher)).toEqual(['b', 'c']);
    await store.setListPolicy('fine', { enabled: false });
    expect((await h.open()).matchHash(hash).map((m) => m.entryId)).toEqual(['a']);
    await store.setListPolicy('fine', { enabled: true, action: 'block' });
    expect((await store.lists()).find((l) => l.name === 'fine')?.action).toBeUndefined();
    expect(await refusal(() => store.setListPolicy('fine', { action: 'pass' as 'allow' }))).toBeInstanceOf(RangeError);
    // A policy change gives no new version: the lists' versions are the imports'.
    expect((await store.lists()).map((l) => l.version)).toEqual([1, 1]);
  });

  test('reloads a matcher when a list becomes an allow list, though no version changed', async (h) => {
    const { store } = h;
    await store.importEntries([md5('a', 'fine')]);
    const matcher = await h.open();
    const hash = { algorithm: 'md5' as const, hash: 'a'.repeat(32) };
    expect(matcher.matchHash(hash)).toHaveLength(2);
    expect(await matcher.reload()).toBe(false);
    await store.setListPolicy('fine', { action: 'allow' });
    expect(await matcher.reload()).toBe(true);
    expect(matcher.matchHash(hash)).toEqual([]);
  });

  test('writes an allow list to a snapshot as META action, and a matcher opened from it allows', async (h) => {
    const { store } = h;
    await store.importEntries([md5('a', 'fine')]);
    await store.setListPolicy('fine', { action: 'allow' });
    const snapshot = join(h.dir, 'allow.snap');
    await h.exportSnapshot(snapshot);
    expect((await readSnapshot(snapshot)).lists).toEqual([
      { name: 'fine', version: 1, action: 'allow' },
      { name: 'vendor', version: 1 },
    ]);
    const matcher = await Matcher.open(snapshot);
    expect(matcher.matchHash({ algorithm: 'md5', hash: 'a'.repeat(32) })).toEqual([]);
    expect(matchedBy(matcher)).toEqual(['b', 'c']);
  });
}

/** A list store and a seen store, as the rescan cases drive them (SQLite's calls awaited as PostgreSQL's). */
export interface RescanControls {
  readonly lists: AnyListStore;
  record(contentId: string, result: ImageMatchResult): unknown;
  rescan(): AsyncIterable<RescanEvent>;
}

const hashOf = (i: number): string => i.toString(16).padStart(32, '0');
const md5Result = (hex: string): ImageMatchResult =>
  resultOf([{ algorithm: 'md5', hash: Uint8Array.from(Buffer.from(hex, 'hex')) }], {});

/** A rescan reports no hit for the new entries of an allow list, and reports those of a block list. */
export async function rescanSkipsAllowLists({ lists, record, rescan }: RescanControls): Promise<void> {
  const hex = hashOf(7);
  await lists.importEntries([{ list: 'fine', id: 'other', algorithm: 'md5', hash: 'ab'.repeat(16) }]);
  await lists.setListPolicy('fine', { action: 'allow' });
  await record('upload-1', md5Result(hex));
  await collect(rescan());
  await lists.importEntries([{ list: 'fine', id: 'ok', algorithm: 'md5', hash: hex }]);
  expect(await collect(rescan())).toEqual([]);
  await lists.importEntries([{ list: 'shared', id: 'x', algorithm: 'md5', hash: hex }]);
  expect((await collect(rescan())).map((e) => [e.contentId, e.list])).toEqual([['upload-1', 'shared']]);
}

/** A rescan reports no event for a quarantined entry, and reports it once the entry is enabled again. */
export async function rescanSkipsQuarantined({ lists, record, rescan }: RescanControls): Promise<void> {
  await lists.importEntries(
    Array.from({ length: 3 }, (_, i) => ({ list: 'l', id: `e${i}`, algorithm: 'md5' as const, hash: hashOf(i) })),
  );
  await lists.disableEntry('l', 'e1', { reason: 'false positive' });
  for (let i = 0; i < 3; i++) await record(`u${i}`, md5Result(hashOf(i)));
  expect((await collect(rescan())).map((e) => e.contentId).sort()).toEqual(['u0', 'u2']);
  await lists.enableEntry('l', 'e1');
  expect((await collect(rescan())).map((e) => e.contentId)).toEqual(['u1']);
}
