import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
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

  it('ends a storm when the count falls below half the threshold, and raises the next one again', () => {
    const { storm, events, clock } = counter({ threshold: 10, window: 10_000, hold: true });
    for (let i = 0; i < 10; i++) storm.observe([matchOf('meme')]);
    expect(events).toHaveLength(1);
    // A steady rate around the threshold stays one storm: the count stays above half of it.
    for (let i = 0; i < 20; i++) {
      clock.now += 1_000;
      expect(storm.observe([matchOf('meme')])[0]?.review).toBe(true);
    }
    expect(events).toHaveLength(1);
    clock.now += 20_000; // a quiet window: the storm is over at the next match
    expect(storm.observe([matchOf('meme')])[0]?.review).toBeUndefined();
    for (let i = 0; i < 9; i++) storm.observe([matchOf('meme')]);
    expect(events).toHaveLength(2);
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
});
