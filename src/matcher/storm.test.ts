import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecisionLog, verifyLog } from '../log/index.js';
import { image, LISTED, listedMatcher } from '../testing/uploads.js';
import { Matcher } from './matcher.js';
import { resolveStormOptions, StormCounter } from './storm.js';
import type { StormEvent, StormOptions } from './types.js';
import type { Match } from './types.js';

const hex = (text: string): string => createHash('md5').update(text).digest('hex');

/** A match of entry `id` of list `ncmec` (MD5; the counter does not look at the hash). */
const matchOf = (id: string): Match => ({
  list: 'ncmec',
  entryId: id,
  algorithm: 'md5',
  distance: 0,
  hash: '0'.repeat(32),
});

/** A counter with `options`, its events collected, on a clock the test moves. */
function counter(options: StormOptions) {
  const events: StormEvent[] = [];
  const clock = { now: 1_000_000 };
  const storm = new StormCounter(resolveStormOptions(options, (e: StormEvent) => events.push(e))!, () => clock.now);
  return { storm, events, clock };
}

afterEach(() => vi.restoreAllMocks());

describe('match-rate alarm (StormCounter)', () => {
  it('raises one event for a storm of 10,000 matches on one entry, and holds every match from the threshold on', () => {
    const { storm, events, clock } = counter({ threshold: 100, window: 600_000, hold: true });
    const held: boolean[] = [];
    for (let i = 0; i < 10_000; i++) {
      clock.now += 10; // 10,000 matches in 100 s, well within the window
      held.push(storm.observe([matchOf('meme')])[0]?.review === true);
    }
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      list: 'ncmec',
      entryId: 'meme',
      algorithm: 'md5',
      count: 100,
      threshold: 100,
      window: 600_000,
      held: true,
    });
    expect(events[0]!.at - events[0]!.since).toBeGreaterThanOrEqual(540_000);
    expect(events[0]!.at - events[0]!.since).toBeLessThanOrEqual(600_000);
    expect(held.indexOf(true)).toBe(99);
    expect(held.slice(99).every(Boolean)).toBe(true);
  });

  it('without hold, raises the event but leaves the matches as they are', () => {
    const { storm, events } = counter({ threshold: 10 });
    const matches = [matchOf('meme')];
    for (let i = 0; i < 50; i++) expect(storm.observe(matches)).toBe(matches);
    expect(events).toHaveLength(1);
    expect(events[0]!.held).toBe(false);
  });

  it('raises nothing and holds nothing below the threshold', () => {
    const { storm, events } = counter({ threshold: 100, hold: true });
    for (let i = 0; i < 99; i++) expect(storm.observe([matchOf('meme')])[0]?.review).toBeUndefined();
    expect(events).toEqual([]);
  });

  it('counts each entry apart, by list, algorithm and id', () => {
    const { storm, events } = counter({ threshold: 3 });
    for (let i = 0; i < 2; i++) {
      storm.observe([matchOf('a'), { ...matchOf('a'), list: 'other' }, { ...matchOf('a'), algorithm: 'sha1' }]);
    }
    expect(events).toEqual([]);
    storm.observe([matchOf('a')]);
    expect(events.map((e) => [e.list, e.algorithm, e.entryId])).toEqual([['ncmec', 'md5', 'a']]);
  });

  it('slides the window: matches older than it no longer count', () => {
    const { storm, events, clock } = counter({ threshold: 100, window: 10_000 });
    for (let i = 0; i < 60; i++) storm.observe([matchOf('meme')]);
    clock.now += 11_000; // the first 60 have left the window
    for (let i = 0; i < 60; i++) storm.observe([matchOf('meme')]);
    expect(events).toEqual([]);
    clock.now += 5_000; // the second 60 are still within it
    for (let i = 0; i < 40; i++) storm.observe([matchOf('meme')]);
    expect(events).toHaveLength(1);
    expect(events[0]!.count).toBe(100);
  });

  it('without hold, ends a storm when the count falls below half the threshold, and raises the next one again', () => {
    const { storm, events, clock } = counter({ threshold: 10, window: 10_000 });
    for (let i = 0; i < 10; i++) storm.observe([matchOf('meme')]);
    expect(events).toHaveLength(1);
    // A steady rate around the threshold stays one storm: the count stays above half of it.
    for (let i = 0; i < 20; i++) {
      clock.now += 1_000;
      storm.observe([matchOf('meme')]);
      expect(storm.storms()).toHaveLength(1);
    }
    expect(events).toHaveLength(1);
    clock.now += 20_000; // a quiet window: the storm is over
    expect(storm.storms()).toEqual([]);
    for (let i = 0; i < 10; i++) storm.observe([matchOf('meme')]);
    expect(events).toHaveLength(2);
  });

  it('with hold, keeps a storm held however quiet the entry becomes, until released', () => {
    const { storm, events, clock } = counter({ threshold: 10, window: 10_000, hold: true });
    for (let i = 0; i < 10; i++) storm.observe([matchOf('meme')]);
    clock.now += 60_000; // six quiet windows: the count is 0
    expect(storm.storms()).toMatchObject([{ entryId: 'meme', count: 0, held: true, released: false }]);
    expect(storm.observe([matchOf('meme')])[0]?.review).toBe(true);
    expect(events).toHaveLength(1);
  });

  it('blocks the matches of a released storm again, and holds the next storm after it ended', () => {
    const { storm, events, clock } = counter({ threshold: 10, window: 10_000, hold: true });
    for (let i = 0; i < 10; i++) storm.observe([matchOf('meme')]);
    expect(storm.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'meme' })).toBe(true);
    expect(storm.storms()).toMatchObject([{ entryId: 'meme', count: 10, held: false, released: true }]);
    // Released, still above half the threshold: the same storm, not held, not raised again.
    for (let i = 0; i < 30; i++) expect(storm.observe([matchOf('meme')])[0]?.review).toBeUndefined();
    expect(events).toHaveLength(1);
    clock.now += 20_000; // quiet: the released storm ends
    expect(storm.storms()).toEqual([]);
    for (let i = 0; i < 9; i++) expect(storm.observe([matchOf('meme')])[0]?.review).toBeUndefined();
    expect(storm.observe([matchOf('meme')])[0]?.review).toBe(true); // a new storm, held again
    expect(events).toHaveLength(2);
    expect(events[1]!.held).toBe(true);
  });

  it('lists the entries in storm newest first, with their counts, and releases only a storm that is there', () => {
    const { storm, clock } = counter({ threshold: 3, window: 10_000, hold: true });
    for (let i = 0; i < 3; i++) storm.observe([matchOf('old')]);
    clock.now += 1_500;
    for (let i = 0; i < 5; i++) storm.observe([matchOf('new'), matchOf('calm')].slice(0, i < 2 ? 2 : 1));
    expect(storm.storms()).toEqual([
      { list: 'ncmec', algorithm: 'md5', entryId: 'new', count: 5, since: 1_001_500, held: true, released: false },
      { list: 'ncmec', algorithm: 'md5', entryId: 'old', count: 3, since: 1_000_000, held: true, released: false },
    ]);
    expect(storm.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'calm' })).toBe(false); // below threshold
    expect(storm.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'never' })).toBe(false);
    expect(storm.releaseStorm({ list: 'other', algorithm: 'md5', entryId: 'new' })).toBe(false);
    expect(storm.releaseStorm({ list: 'ncmec', algorithm: 'sha1', entryId: 'new' })).toBe(false);
    expect(storm.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'new' })).toBe(true);
    expect(storm.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'new' })).toBe(true); // already released
    expect(storm.storms().map((s) => [s.entryId, s.held, s.released])).toEqual([
      ['new', false, true],
      ['old', true, false],
    ]);
  });

  it('refuses a bad release target with TypeError (RangeError for an empty name)', () => {
    const { storm } = counter({ hold: true });
    expect(() => storm.releaseStorm(undefined as never)).toThrow(TypeError);
    expect(() => storm.releaseStorm({ list: 'ncmec', algorithm: 'md5' } as never)).toThrow(
      new TypeError(
        'Expected non-empty string of at most 1024 characters for target.entryId ' +
          'but received undefined of type undefined',
      ),
    );
    expect(() => storm.releaseStorm({ list: '', algorithm: 'md5', entryId: 'a' })).toThrow(RangeError);
    expect(() => storm.releaseStorm({ list: 'ncmec', algorithm: 5, entryId: 'a' } as never)).toThrow(TypeError);
    const off = Matcher.fromEntries([], { allowEmpty: true, storm: false });
    expect(off.storms()).toEqual([]);
    expect(off.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'a' })).toBe(false);
    expect(() => off.releaseStorm({ list: 'ncmec' } as never)).toThrow(TypeError);
  });

  it('forgets a held storm whose entry is pushed out by maxTracked others, within the same bound', () => {
    const { storm, events } = counter({ threshold: 3, maxTracked: 100, hold: true });
    for (let i = 0; i < 3; i++) storm.observe([matchOf('meme')]);
    expect(storm.storms()).toHaveLength(1);
    for (let i = 0; i < 100_000; i++) storm.observe([matchOf(`flood-${i}`)]);
    expect(storm.tracked).toBe(100);
    expect(storm.storms()).toEqual([]);
    expect(storm.observe([matchOf('meme')])[0]?.review).toBeUndefined();
    expect(events).toHaveLength(1);
  });

  it('never tracks more than maxTracked entries when 1,000,000 distinct entries match, and raises nothing for them', () => {
    const { storm, events } = counter({ threshold: 2, maxTracked: 10_000 });
    let most = 0;
    for (let i = 0; i < 1_000_000; i++) {
      storm.observe([matchOf(`flood-${i}`)]);
      if (storm.tracked > most) most = storm.tracked;
    }
    expect(most).toBe(10_000);
    expect(events).toEqual([]);
  });

  it('still sees a storm amid a flood of distinct entries fewer than maxTracked between its matches', () => {
    const { storm, events } = counter({ threshold: 100, maxTracked: 1_000 });
    for (let i = 0; i < 100_000; i++) storm.observe([matchOf(i % 500 === 0 ? 'meme' : `flood-${i}`)]);
    expect(events.map((e) => e.entryId)).toEqual(['meme']);
  });

  it('forgets an entry pushed out by more than maxTracked others, and starts it again from nothing', () => {
    const { storm, events } = counter({ threshold: 3, maxTracked: 100 });
    storm.observe([matchOf('meme')]);
    storm.observe([matchOf('meme')]);
    for (let i = 0; i < 100; i++) storm.observe([matchOf(`flood-${i}`)]);
    storm.observe([matchOf('meme')]);
    expect(events).toEqual([]); // an evicted count is never inherited: no false storm either
    storm.observe([matchOf('meme')]);
    storm.observe([matchOf('meme')]);
    expect(events).toHaveLength(1);
  });

  it('counts a clock that went back into the newest bucket', () => {
    const { storm, events, clock } = counter({ threshold: 3, window: 10_000 });
    storm.observe([matchOf('meme')]);
    clock.now -= 60_000;
    storm.observe([matchOf('meme')]);
    storm.observe([matchOf('meme')]);
    expect(events).toHaveLength(1);
  });
});

describe('match-rate alarm options', () => {
  it('refuses bad options with the standard messages', () => {
    expect(() => resolveStormOptions({ threshold: 0 }, undefined)).toThrow(
      new RangeError(
        'Expected integer between 1 and 9007199254740991 for storm.threshold but received 0 of type number',
      ),
    );
    expect(() => resolveStormOptions({ window: 10 }, undefined)).toThrow(RangeError);
    expect(() => resolveStormOptions({ maxTracked: 2_000_000 }, undefined)).toThrow(RangeError);
    expect(() => resolveStormOptions({ hold: 'yes' }, undefined)).toThrow(TypeError);
    expect(() => resolveStormOptions(true, undefined)).toThrow(TypeError);
    expect(() => resolveStormOptions(undefined, 'log')).toThrow(
      new TypeError('Expected function for onStorm but received "log" of type string'),
    );
    expect(() => Matcher.fromEntries([], { allowEmpty: true, storm: { threshold: -1 } })).toThrow(RangeError);
  });

  it('is on by default with the documented values, and off with storm: false', () => {
    expect(resolveStormOptions(undefined, undefined)).toEqual({
      window: 600_000,
      threshold: 100,
      hold: false,
      maxTracked: 10_000,
      onStorm: undefined,
    });
    expect(resolveStormOptions(false, undefined)).toBeUndefined();
  });
});

describe('Matcher with the match-rate alarm', () => {
  const entries = [
    { list: 'ncmec', id: 'meme', algorithm: 'md5', hash: hex('meme') },
    { list: 'ncmec', id: 'rare', algorithm: 'md5', hash: hex('rare') },
  ];

  it('counts matchHash and matchHashes, raises once, and holds with review', () => {
    const events: StormEvent[] = [];
    const matcher = Matcher.fromEntries(entries, {
      storm: { threshold: 100, hold: true },
      onStorm: (e) => events.push(e),
    });
    const query = { algorithm: 'md5', hash: hex('meme') };
    for (let i = 0; i < 99; i++) expect(matcher.matchHash(query)[0]?.review).toBeUndefined();
    expect(matcher.matchHash(query)[0]).toMatchObject({ entryId: 'meme', review: true });
    const batch = matcher.matchHashes([query, { algorithm: 'md5', hash: hex('rare') }]);
    expect(batch.map((r) => r.ok && r.matches[0]?.review)).toEqual([true, undefined]);
    for (let i = 0; i < 9_899; i++) matcher.matchHash(query);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ list: 'ncmec', entryId: 'meme', count: 100, held: true });
  });

  it('goes on matching when onStorm throws, and writes the exception as a warning', () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const matcher = Matcher.fromEntries(entries, {
      storm: { threshold: 2, hold: true },
      onStorm: () => {
        throw new Error('pager down');
      },
    });
    const query = { algorithm: 'md5', hash: hex('meme') };
    matcher.matchHash(query);
    expect(matcher.matchHash(query)).toMatchObject([{ entryId: 'meme', review: true }]);
    expect(matcher.matchHash(query)).toHaveLength(1);
    expect(warnings).toHaveBeenCalledTimes(1);
    expect(String(warnings.mock.calls[0]![0])).toMatch(
      /^onStorm threw: pager down \(storm: entry "meme" of list "ncmec"/,
    );
    expect(warnings.mock.calls[0]![1]).toEqual({ type: 'HashwardenWarning' });
  });

  it('writes a storm as a warning when no onStorm is given, and counts nothing with storm: false', () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const query = { algorithm: 'md5', hash: hex('meme') };
    const off = Matcher.fromEntries(entries, { storm: false });
    for (let i = 0; i < 1_000; i++) expect(off.matchHash(query)[0]?.review).toBeUndefined();
    expect(warnings).not.toHaveBeenCalled();
    const on = Matcher.fromEntries(entries, { storm: { threshold: 3 } });
    for (let i = 0; i < 10; i++) expect(on.matchHash(query)[0]?.review).toBeUndefined();
    expect(warnings).toHaveBeenCalledTimes(1);
    expect(String(warnings.mock.calls[0]![0])).toMatch(
      /^Match storm: entry "meme" of list "ncmec" \(md5\) matched 3 times/,
    );
  });

  it('marks matchImage results review once the entry is in a held storm, and leaves other uploads alone', async () => {
    const events: StormEvent[] = [];
    const matcher = await listedMatcher({ storm: { threshold: 3, hold: true }, onStorm: (e) => events.push(e) });
    const upload = image(LISTED[0]);
    const first = await matcher.matchImage(upload);
    expect(first.matched).toBe(true);
    expect(first.review).toBeUndefined();
    expect(first.matches.some((m) => m.review)).toBe(false);
    await matcher.matchImage(upload);
    const third = await matcher.matchImage(upload);
    // Each of the upload's entries matched a third time: each in storm, each raised once.
    expect(first.matches.length).toBeGreaterThanOrEqual(2);
    expect(events.map((e) => e.algorithm).sort()).toEqual(first.matches.map((m) => m.algorithm).sort());
    expect(third).toMatchObject({ matched: true, review: true });
    expect(third.matches.length).toBe(first.matches.length);
    expect(third.matches.every((m) => m.review === true)).toBe(true);
    const other = await matcher.matchImage(image(LISTED[1]));
    expect(other.matched).toBe(true);
    expect(other.review).toBeUndefined();
  });

  it('records a storm raised and a storm released in the decision log, its chain still proved', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hashwarden-storm-log-'));
    try {
      const log = await DecisionLog.open(dir, { syncMs: 0 });
      const matcher = Matcher.fromEntries(entries, {
        storm: { threshold: 2, hold: true },
        decisionLog: log,
        onStorm: () => {},
      });
      const query = { algorithm: 'md5', hash: hex('meme') };
      for (let i = 0; i < 3; i++) matcher.matchHash(query);
      expect(matcher.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'meme' })).toBe(true);
      expect(matcher.releaseStorm({ list: 'ncmec', algorithm: 'md5', entryId: 'meme' })).toBe(true); // once in the log
      await log.close();
      const files = await readdir(dir);
      const records = (await readFile(join(dir, files[0]!), 'utf8'))
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const storm = { kind: 'storm', list: 'ncmec', algorithm: 'md5', entryId: 'meme' };
      const limits = { threshold: 2, window: 600_000 };
      // Each lookup by hash is a decision too; the storm is recorded before the decision that raised it.
      const decision = { kind: 'decision', query };
      expect(records).toMatchObject([
        { seq: 1, ...decision },
        { seq: 2, ...storm, ...limits, action: 'raised', count: 2, held: true },
        { seq: 3, ...decision, review: true },
        { seq: 4, ...decision, review: true },
        { seq: 5, ...storm, ...limits, action: 'released', count: 3, held: false },
      ]);
      expect(records[1]!.since).toBe(records[4]!.since);
      expect(typeof records[1]!.time).toBe('string');
      expect(verifyLog([dir])).toMatchObject({ ok: true, records: 5 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
