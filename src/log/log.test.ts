/**
 * The decision log: records chained by the SHA-256 of the line before, across rotated files; a log
 * continued after a restart and after a crash that tore its last line; write failures reported,
 * never thrown; and `verifyLog` finding each kind of damage at the record it breaks.
 */
import { appendFileSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import type { ImageMatchResult } from '../matcher/types.js';
import { DecisionLog } from './decision-log.js';
import { GENESIS, lineHash } from './format.js';
import { verifyLog } from './verify.js';

/** A result as a matcher gives it (hashes and one match), `n` telling one record from another. */
function result(n: number): ImageMatchResult {
  return {
    matched: true,
    matches: [
      { list: 'l', entryId: `e${n}`, algorithm: 'pdq', distance: n % 32, hash: 'ab'.repeat(32), listVersion: 3 },
    ],
    hashes: { pdq: 'cd'.repeat(32), md5: 'ef'.repeat(16) },
    quality: { pdq: 100 },
    unusable: {},
    searched: 8,
    checked: true,
    image: { format: 'png', width: 64, height: 64 },
  } as unknown as ImageMatchResult;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(count: number, options = {}): Promise<DecisionLog> {
  const log = await DecisionLog.open(dir, options);
  for (let i = 1; i <= count; i++) log.logResult(result(i), { contentId: `c${i}`, threshold: () => 31 });
  await log.close();
  return log;
}

const files = () =>
  readdirSync(dir)
    .sort()
    .map((f) => join(dir, f));
const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);

describe('DecisionLog', () => {
  it('chains each record to the SHA-256 of the line before, from the genesis value', async () => {
    const log = await write(3);
    const lines = linesOf(files()[0] as string);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[0]?.prev).toBe(GENESIS);
    expect(records[1]?.prev).toBe(lineHash(lines[0] as string));
    expect(records[2]?.prev).toBe(lineHash(lines[1] as string));
    expect(log.head).toEqual({ seq: 3, hash: lineHash(lines[2] as string) });
  });

  it('records the content id, the hashes, each match with its threshold, and no image bytes', async () => {
    await write(1);
    const record = JSON.parse(linesOf(files()[0] as string)[0] as string) as Record<string, unknown>;
    expect(record).toMatchObject({
      kind: 'decision',
      contentId: 'c1',
      matched: true,
      hashes: { pdq: 'cd'.repeat(32), md5: 'ef'.repeat(16) },
      matches: [{ list: 'l', entryId: 'e1', distance: 1, listVersion: 3, threshold: 31 }],
    });
    expect(typeof record.time).toBe('string');
  });

  it('logs an upload that was not checked with its error code', async () => {
    const log = await DecisionLog.open(dir);
    log.logNotChecked(new HashwardenError('ERR_IMAGE_DECODE', 'corrupt'), { contentId: 'x' });
    await log.close();
    expect(JSON.parse(linesOf(files()[0] as string)[0] as string)).toMatchObject({
      kind: 'not-checked',
      contentId: 'x',
      error: { code: 'ERR_IMAGE_DECODE', message: 'corrupt' },
    });
  });

  it('rotates to a file named by its first record, and the chain runs on across files', async () => {
    await write(400, { maxFileBytes: 64 * 1024 });
    const names = readdirSync(dir).sort();
    expect(names.length).toBeGreaterThan(1);
    expect(names[0]).toBe('decisions-0000000000000001.ndjson');
    const second = JSON.parse(linesOf(join(dir, names[1] as string))[0] as string) as { seq: number; prev: string };
    expect(names[1]).toBe(`decisions-${String(second.seq).padStart(16, '0')}.ndjson`);
    expect(second.prev).toBe(lineHash(linesOf(join(dir, names[0] as string)).at(-1) as string));
    for (const f of files()) expect(readFileSync(f).length).toBeLessThanOrEqual(64 * 1024);
    expect(verifyLog([dir])).toMatchObject({ ok: true, records: 400, firstSeq: 1 });
  });

  it('continues the chain of an existing log when opened again', async () => {
    await write(2);
    const log = await write(2);
    expect(log.head.seq).toBe(4);
    expect(verifyLog(files())).toMatchObject({ ok: true, records: 4, head: log.head });
  });

  it('cuts a torn last line at open and records the cut in the chain', async () => {
    await write(3);
    const file = files()[0] as string;
    appendFileSync(file, '{"v":1,"seq":4,"prev":"ab');
    expect(verifyLog([file])).toMatchObject({ ok: false, line: 4 });
    const log = await write(1);
    const records = linesOf(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.slice(3).map((r) => r.kind)).toEqual(['recovered', 'decision']);
    expect(records[3]).toMatchObject({ seq: 4, tornBytes: 25, tornSha256: lineHash('{"v":1,"seq":4,"prev":"ab') });
    expect(verifyLog([file])).toMatchObject({ ok: true, records: 5, head: log.head });
  });

  it('refuses to continue a log whose last record does not parse', async () => {
    await write(1);
    writeFileSync(files()[0] as string, 'not json\n');
    await expect(DecisionLog.open(dir)).rejects.toMatchObject({ code: 'ERR_DECISION_LOG' });
  });

  it('reports a write failure to onError and returns false instead of throwing', async () => {
    const errors: HashwardenError[] = [];
    const log = await DecisionLog.open(dir, { onError: (e) => errors.push(e) });
    await log.close();
    expect(log.logResult(result(1))).toBe(false);
    expect(errors.map((e) => e.code)).toEqual(['ERR_DECISION_LOG']);
  });

  it('refuses bad options with the standard message', async () => {
    await expect(DecisionLog.open(dir, { maxFileBytes: 10 })).rejects.toThrow(
      'Expected integer between 65536 and 9007199254740991 for options.maxFileBytes but received 10 of type number',
    );
    await expect(DecisionLog.open(dir, { syncMs: -1 })).rejects.toThrow(RangeError);
  });

  it('syncs each record when syncMs is 0, and the chain is the same', async () => {
    await write(3, { syncMs: 0 });
    expect(verifyLog([dir])).toMatchObject({ ok: true, records: 3 });
  });
});

describe('verifyLog', () => {
  /** The one file of a 5-record log, its lines edited by `edit`, then verified. */
  async function damaged(edit: (lines: string[]) => string[]) {
    await write(5);
    const file = files()[0] as string;
    writeFileSync(file, `${edit(linesOf(file)).join('\n')}\n`);
    return verifyLog([file]);
  }

  it('proves an untouched log', async () => {
    const log = await write(5);
    expect(verifyLog(files(), { head: log.head.hash })).toMatchObject({ ok: true, records: 5, head: log.head });
  });

  it('finds a changed byte at the record after it', async () => {
    const r = await damaged((lines) => lines.map((l, i) => (i === 1 ? l.replace('"e2"', '"e7"') : l)));
    expect(r).toMatchObject({ ok: false, line: 3, records: 2 });
    expect(!r.ok && r.reason).toMatch(/prev does not match/);
  });

  it('finds a changed byte that breaks the JSON', async () => {
    const r = await damaged((lines) => lines.map((l, i) => (i === 2 ? l.replace('{', '[') : l)));
    expect(r).toMatchObject({ ok: false, line: 3 });
  });

  it('finds a removed record', async () => {
    const r = await damaged((lines) => lines.filter((_, i) => i !== 2));
    expect(r).toMatchObject({ ok: false, line: 3, reason: expect.stringMatching(/record 4 follows record 2/) });
  });

  it('finds a reordered pair', async () => {
    const r = await damaged((lines) => [lines[0], lines[2], lines[1], lines[3], lines[4]] as string[]);
    expect(r).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/record 3 follows record 1/) });
  });

  it('finds a torn tail, a file cut inside its last line', async () => {
    await write(5);
    const file = files()[0] as string;
    truncateSync(file, readFileSync(file).length - 10);
    expect(verifyLog([file])).toMatchObject({ ok: false, line: 5, reason: expect.stringMatching(/torn last line/) });
  });

  it('finds records cut from the end at a line boundary when given the head', async () => {
    const log = await damaged((lines) => lines.slice(0, 4));
    expect(log).toMatchObject({ ok: true, records: 4 });
    await rm(dir, { recursive: true, force: true });
    const written = await write(5);
    const file = files()[0] as string;
    writeFileSync(file, `${linesOf(file).slice(0, 4).join('\n')}\n`);
    expect(verifyLog([file], { head: written.head.hash })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not the expected head/),
    });
  });

  it('finds a rotated file removed from the middle, and files given out of order', async () => {
    await write(400, { maxFileBytes: 64 * 1024 });
    const all = files();
    expect(all.length).toBeGreaterThanOrEqual(3);
    const gap = verifyLog([all[0], ...all.slice(2)] as string[]);
    expect(gap).toMatchObject({ ok: false, file: all[2], line: 1, reason: expect.stringMatching(/follows record/) });
    const swapped = verifyLog([all[1], all[0], ...all.slice(2)] as string[]);
    expect(swapped).toMatchObject({ ok: false, file: all[0], line: 1 });
  });

  it('finds a first record that lacks the genesis prev, and a file renamed to another place', async () => {
    const r = await damaged((lines) => [lines[0]?.replace(GENESIS, 'f'.repeat(64)) as string, ...lines.slice(1)]);
    expect(r).toMatchObject({ ok: false, line: 1, reason: expect.stringMatching(/genesis/) });
    rmSync(dir, { recursive: true, force: true });
    await write(2);
    const moved = join(dir, 'decisions-0000000000000009.ndjson');
    writeFileSync(moved, readFileSync(files()[0] as string));
    expect(verifyLog([moved])).toMatchObject({
      ok: false,
      line: 1,
      reason: expect.stringMatching(/promises record 9/),
    });
  });

  it('accepts a log whose older files were left out, reporting where it starts', async () => {
    await write(400, { maxFileBytes: 64 * 1024 });
    const r = verifyLog(files().slice(1));
    expect(r.ok && r.firstSeq).toBeGreaterThan(1);
  });

  it('throws ERR_DECISION_LOG for a file it cannot read', () => {
    expect(() => verifyLog([join(dir, 'missing.ndjson')])).toThrow(
      expect.objectContaining({ code: 'ERR_DECISION_LOG' }),
    );
  });
});
