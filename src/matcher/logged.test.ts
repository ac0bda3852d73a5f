/**
 * A matcher's decision log: every matchImage, matchImages, matchHash and matchHashes outcome
 * appended with the call's content id, matches with the threshold they were found within, and "not checked" with its code;
 * the results themselves the same with a log as without.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashImage } from '../image/index.js';
import { DecisionLog } from '../log/decision-log.js';
import { verifyLog } from '../log/verify.js';
import { Matcher } from './matcher.js';

const vector = (file: string) => fileURLToPath(new URL(`../../test-vectors/images/${file}`, import.meta.url));
const mosaic = readFileSync(vector('mosaic-400x300.jpg'));

let entries: Parameters<typeof Matcher.fromEntries>[0];
beforeAll(async () => {
  const { hashes } = await hashImage(mosaic, { algorithms: ['pdq', 'md5'] });
  entries = [
    { id: 'p1', list: 'photos', algorithm: 'pdq', hash: hashes.pdq as string },
    { id: 'm1', list: 'exact', algorithm: 'md5', hash: hashes.md5 as string },
  ];
});

/** The hash of the `i`th entry, as listed. */
const hashOf = (i: number): string => ([...entries][i] as { hash: string }).hash;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-logged-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function records(log: DecisionLog): Promise<Record<string, unknown>[]> {
  await log.close();
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').slice(0, -1))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('MatcherOptions.decisionLog', () => {
  it('appends a matched decision with the content id, the hashes and each match with its threshold', async () => {
    const log = await DecisionLog.open(dir);
    const lists = [{ name: 'photos', thresholds: { pdq: 20 } }];
    const matcher = Matcher.fromEntries(entries, { decisionLog: log, lists });
    const result = await matcher.matchImage(mosaic, { contentId: 'upload-1' });
    const [record] = await records(log);
    expect(record).toMatchObject({ kind: 'decision', contentId: 'upload-1', matched: true, hashes: result.hashes });
    const matches = record?.matches as Record<string, unknown>[];
    expect(matches.map((m) => [m.entryId, m.threshold])).toEqual(
      result.matches.map((m) => [m.entryId, m.algorithm === 'pdq' ? 20 : undefined]),
    );
    expect(JSON.stringify(record)).not.toContain(mosaic.subarray(0, 16).toString('base64'));
  });

  it('logs the threshold the call set over the list and matcher ones', async () => {
    const log = await DecisionLog.open(dir);
    const matcher = Matcher.fromEntries(entries, { decisionLog: log, thresholds: { pdq: 40 } });
    await matcher.matchImage(mosaic, { threshold: 12 });
    const [record] = await records(log);
    const pdq = (record?.matches as Record<string, unknown>[]).find((m) => m.algorithm === 'pdq');
    expect(pdq?.threshold).toBe(12);
  });

  it('logs an upload that cannot be decoded as not checked, with its code, and still rejects', async () => {
    const log = await DecisionLog.open(dir);
    const matcher = Matcher.fromEntries(entries, { decisionLog: log });
    await expect(matcher.matchImage(Buffer.from('not an image'), { contentId: 'bad' })).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_FORMAT',
    });
    expect(await records(log)).toMatchObject([
      { kind: 'not-checked', contentId: 'bad', error: { code: 'ERR_UNSUPPORTED_FORMAT' } },
    ]);
  });

  it('logs a call refused with ERR_BUSY as not checked', async () => {
    const log = await DecisionLog.open(dir);
    const matcher = Matcher.fromEntries(entries, { decisionLog: log, concurrency: 1, maxQueued: 0 });
    const calls = [matcher.matchImage(mosaic, { contentId: 'a' }), matcher.matchImage(mosaic, { contentId: 'b' })];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected']);
    const logged = await records(log);
    expect(logged.map((r) => [r.contentId, r.kind])).toEqual([
      ['b', 'not-checked'],
      ['a', 'decision'],
    ]);
    expect(logged[0]).toMatchObject({ error: { code: 'ERR_BUSY' } });
  });

  it('appends each matchImages item with its index, failures included', async () => {
    const log = await DecisionLog.open(dir);
    const matcher = Matcher.fromEntries(entries, { decisionLog: log });
    const results = await matcher.matchImages([mosaic, Buffer.from('nope'), mosaic], { contentId: 'batch-7' });
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    const logged = await records(log);
    expect(logged.map((r) => [r.item, r.kind]).sort()).toEqual([
      [0, 'decision'],
      [1, 'not-checked'],
      [2, 'decision'],
    ]);
    expect(logged.every((r) => r.contentId === 'batch-7')).toBe(true);
    expect(verifyLog([dir])).toMatchObject({ ok: true, records: 3 });
  });

  it('gives the same result with a log as without, and a result when the log cannot be written', async () => {
    const plain = await Matcher.fromEntries(entries).matchImage(mosaic);
    const errors: unknown[] = [];
    const log = await DecisionLog.open(dir, { onError: (e) => errors.push(e) });
    await log.close();
    const withLog = await Matcher.fromEntries(entries, { decisionLog: log }).matchImage(mosaic);
    expect(withLog).toEqual(plain);
    expect(errors).toHaveLength(1);
  });

  it('refuses a contentId that is not a non-empty string, and a decisionLog that is not a DecisionLog', async () => {
    const matcher = Matcher.fromEntries(entries);
    await expect(matcher.matchImage(mosaic, { contentId: '' })).rejects.toThrow(RangeError);
    await expect(matcher.matchImage(mosaic, { contentId: 7 as never })).rejects.toThrow(
      'Expected non-empty string of at most 1024 characters for options.contentId but received 7 of type number',
    );
    expect(() => Matcher.fromEntries(entries, { decisionLog: {} as never })).toThrow(TypeError);
  });

  it('appends each lookup by hash with its query and matches, and a refused query as not checked', async () => {
    const log = await DecisionLog.open(dir);
    const matcher = Matcher.fromEntries(entries, { decisionLog: log });
    const pdq = hashOf(0);
    const found = matcher.matchHash({ algorithm: 'pdq', hash: pdq }, { threshold: 9, contentId: 'h-1' });
    const batch = matcher.matchHashes([
      { algorithm: 'md5', hash: hashOf(1) },
      { algorithm: 'md5', hash: 'not hex' },
    ]);
    expect(batch.map((r) => r.ok)).toEqual([true, false]);
    const logged = await records(log);
    expect(logged).toMatchObject([
      { kind: 'decision', contentId: 'h-1', matched: true, query: { algorithm: 'pdq', hash: pdq } },
      { kind: 'decision', item: 0, matched: true, query: { algorithm: 'md5' } },
      { kind: 'not-checked', item: 1, error: { code: 'ERR_HASH_FORMAT' } },
    ]);
    expect((logged[0]?.matches as Record<string, unknown>[]).map((m) => [m.entryId, m.threshold])).toEqual(
      found.map((m) => [m.entryId, 9]),
    );
    expect(verifyLog([dir])).toMatchObject({ ok: true, records: 3 });
  });

  it('neither logs nor counts a call made with decision: false, an upload hashed for a lookup to follow', async () => {
    const log = await DecisionLog.open(dir);
    const storms: unknown[] = [];
    const matcher = Matcher.fromEntries(entries, {
      decisionLog: log,
      storm: { threshold: 1, hold: true },
      onStorm: (event) => storms.push(event),
    });
    const hashed = await matcher.matchImage(mosaic, { decision: false, contentId: 'hash-only' });
    expect(hashed.matched).toBe(true);
    expect(hashed.review).toBeUndefined();
    const query = { algorithm: 'pdq', hash: hashOf(0) };
    expect(matcher.matchHash(query, { decision: false })[0]?.review).toBeUndefined();
    expect(matcher.matchHashes([query], { decision: false })[0]).toMatchObject({ ok: true });
    expect(storms).toHaveLength(0);
    expect(await records(log)).toEqual([]);
    // The lookup that decides is counted and logged.
    const log2 = await DecisionLog.open(join(dir, 'next'));
    const deciding = Matcher.fromEntries(entries, {
      decisionLog: log2,
      storm: { threshold: 1, hold: true },
      onStorm: () => {},
    });
    expect(deciding.matchHash(query)[0]?.review).toBe(true);
    await log2.close();
    expect(verifyLog([join(dir, 'next')])).toMatchObject({ ok: true, records: 2 });
  });

  it('refuses a decision option that is not a boolean', async () => {
    const matcher = Matcher.fromEntries(entries);
    await expect(matcher.matchImage(mosaic, { decision: 'no' as never })).rejects.toThrow(TypeError);
    expect(() => matcher.matchHash({ algorithm: 'md5', hash: hashOf(1) }, { decision: 0 as never })).toThrow(TypeError);
  });
});
