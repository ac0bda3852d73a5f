/**
 * vPDQ entries (one video's frames, python-threatexchange's signal text) in the list files: each
 * format that can hold one writes and reads it back (whole-file and streaming readers, and the
 * packed batches the store imports take), a 20-minute clip's entry passes every such format, the
 * formats that cannot hold one refuse it, and hostile signal text is a bad row naming its line.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatVpdqJson,
  MAX_VPDQ_ENTRY_BYTES,
  MAX_VPDQ_ENTRY_FRAMES,
  packVpdq,
  parseVpdqJson,
} from '../algorithms/vpdq.js';
import { HashwardenError } from '../errors.js';
import { expectRowError } from '../testing/row-errors.js';
import { vpdqEntry, vpdqFrames } from '../testing/vpdq-entries.js';
import { hasDefaultId, normalizeEntry, type ListEntry } from './entry.js';
import type { ListFormat } from './formats.js';
import { packedFields, PACKED_FIELDS } from './packed.js';
import { readPackedHere } from './packed-reader.js';
import { parseList, readListFile } from './parse.js';
import { streamListFile } from './stream.js';
import { formatList, formatAlgorithms } from './write.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-vpdq-lists-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function file(text: string): Promise<string> {
  const path = join(dir, `list-${++files}`);
  await writeFile(path, text);
  return path;
}

/** Every add of a file as `streamListFile` reads it. */
async function streamed(path: string, format: ListFormat): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  for await (const batch of streamListFile(path, { list: 'videos', format }))
    for (const row of batch.rows) if (row.op === 'add') out.push(row.entry);
  return out;
}

const MD5 = normalizeEntry({ list: 'videos', algorithm: 'md5', hash: '0cc175b9c0f1b6a831c399e269772661' });
const PDQ = normalizeEntry({
  list: 'videos',
  algorithm: 'pdq',
  hash: 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22',
});

describe('vPDQ entries in the list formats', () => {
  const entries = [
    vpdqEntry('videos', 5, 1, { id: 'clip-1', label: 'csam', metadata: { source: 'partner "A", 2026' } }),
    vpdqEntry('videos', 3, 2),
    vpdqEntry('videos', 0, 3, { id: 'empty video' }),
    MD5,
  ];

  it.each(['csv', 'ndjson'] as const)(
    '%s writes and reads back the same entries, whole and streamed',
    async (format) => {
      const text = formatList(entries, format);
      expect(parseList(text, { list: 'unused', format }).entries).toEqual(entries);
      expect(await streamed(await file(text), format)).toEqual(entries);
    },
  );

  it('text writes "vpdq <signal>" and reads back algorithm and hash, whole and streamed', async () => {
    const text = formatList(entries, 'text');
    expect(text.split('\n')[0]).toBe(`vpdq ${entries[0]?.hash}`);
    const expected = entries.map(({ algorithm, hash }) => normalizeEntry({ list: 'videos', algorithm, hash }));
    expect(parseList(text, { list: 'videos', format: 'text' }).entries).toEqual(expected);
    expect(await streamed(await file(text), 'text')).toEqual(expected);
  });

  it("pytx writes python-threatexchange's vpdq lines, which the text format reads back", () => {
    // What `hashwarden export` writes is its own choice: the image algorithms only, as before.
    expect(formatAlgorithms('pytx')).toEqual(['pdq', 'md5']);
    const text = formatList([entries[0] as ListEntry, PDQ, MD5], 'pytx');
    expect(text).toBe(`vpdq ${entries[0]?.hash}\npdq ${PDQ.hash}\nvideo_md5 ${MD5.hash}\n`);
    const back = parseList(text, { list: 'videos', format: 'text' }).entries;
    expect(back.map((e) => [e.algorithm, e.hash])).toEqual([
      ['vpdq', entries[0]?.hash],
      ['pdq', PDQ.hash],
      ['md5', MD5.hash],
    ]);
  });

  it("reads pytx's signal without spaces and a dataset -P line (collaboration, signal, metadata)", () => {
    const frames = vpdqFrames(3, 9);
    const compact = formatVpdqJson(frames).replaceAll(', ', ',');
    const text = `VPDQ ${compact}\n'my collab' vpdq ${formatVpdqJson(frames)} ["tag-a"] 2 seen\n`;
    const [plain, listed] = parseList(text, { list: 'videos', format: 'text', dedupe: 'merge' }).entries;
    expect(plain).toEqual(normalizeEntry({ list: 'videos', algorithm: 'vpdq', hash: compact }));
    // The second line is the same video: the same default id and hash, its metadata kept.
    const again = parseList(text.split('\n')[1] as string, { list: 'videos', format: 'text' }).entries[0];
    expect(listed).toBeUndefined();
    expect(again?.hash).toBe(plain?.hash);
    expect(again?.metadata).toEqual({ collab: 'my collab', details: '["tag-a"] 2 seen' });
  });

  it('keeps one of two rows of the same video without ids (dedupe merge) and refuses the repeat with fail', () => {
    const signal = formatVpdqJson(vpdqFrames(4, 5));
    const text = `algorithm,hash\nvpdq,"${signal.replaceAll('"', '""')}"\nvpdq,"${signal.replaceAll('"', '""')}"\n`;
    const merged = parseList(text, { list: 'videos', format: 'csv' });
    expect(merged.entries).toHaveLength(1);
    expect(hasDefaultId(merged.entries[0] as ListEntry)).toBe(true);
    expect(() => parseList(text, { list: 'videos', format: 'csv', dedupe: 'fail' })).toThrow(/Duplicate id/);
  });

  it('hasDefaultId is true only for the id vpdq:<SHA-256 of the signal text>', () => {
    const entry = vpdqEntry('videos', 2, 7);
    expect(hasDefaultId(entry)).toBe(true);
    expect(hasDefaultId({ ...entry, id: `vpdq:${'0'.repeat(64)}` })).toBe(false);
    expect(hasDefaultId({ ...entry, id: 'clip' })).toBe(false);
  });
});

describe('the largest vPDQ entries', () => {
  // A 20-minute clip at pytx's one frame a second: about 96 KB of signal text.
  const twentyMinutes = vpdqEntry('videos', 1200, 11, { id: 'long clip', label: 'csam' });

  it.each(['csv', 'ndjson', 'text'] as const)(
    'a 20-minute clip (1,200 frames) passes %s, whole and streamed',
    async (format) => {
      expect(twentyMinutes.hash.length).toBeGreaterThan(90_000);
      const text = formatList([twentyMinutes, MD5], format);
      const expected =
        format === 'text'
          ? [twentyMinutes, MD5].map(({ algorithm, hash }) => normalizeEntry({ list: 'videos', algorithm, hash }))
          : [twentyMinutes, MD5];
      const path = await file(text);
      expect((await readListFile(path, { list: 'videos', format })).entries).toEqual(expected);
      expect(await streamed(path, format)).toEqual(expected);
    },
  );

  it('an entry of MAX_VPDQ_ENTRY_FRAMES frames passes csv (its quoting the longest line), one more frame is a bad row', async () => {
    const most = vpdqEntry('videos', MAX_VPDQ_ENTRY_FRAMES, 12);
    expect(Buffer.byteLength(most.hash)).toBeLessThan(MAX_VPDQ_ENTRY_BYTES);
    const path = await file(formatList([most], 'csv'));
    expect(await streamed(path, 'csv')).toEqual([most]);
    const over = formatVpdqJson(vpdqFrames(MAX_VPDQ_ENTRY_FRAMES + 1, 12));
    const error = (() => {
      try {
        parseList(JSON.stringify({ algorithm: 'vpdq', hash: over }), { list: 'videos', format: 'ndjson' });
      } catch (e) {
        return e;
      }
    })();
    expect(expectRowError(error, '<input>', 1).message).toMatch(/more than 36000 frames/);
  });

  it('signal text over MAX_VPDQ_ENTRY_BYTES is refused before it is parsed', () => {
    const padded = `[${' '.repeat(MAX_VPDQ_ENTRY_BYTES)}]`;
    const result = parseList(JSON.stringify({ algorithm: 'vpdq', hash: padded }), {
      list: 'videos',
      format: 'ndjson',
      onError: 'skip',
    });
    expect(result.entries).toEqual([]);
    expect(result.skipped[0]?.error.message).toMatch(/longer than 4194304 bytes/);
  });
});

describe('the packed batches of a store import', () => {
  it("hold a vPDQ entry's hash as the hex of its packed frames", async () => {
    const entry = vpdqEntry('videos', 6, 21, { label: 'csam' });
    const path = await file(formatList([entry, MD5], 'ndjson'));
    const hashes: string[] = [];
    for await (const batch of readPackedHere({ path, options: { list: 'videos' }, checkOrder: true })) {
      const fields = packedFields(batch);
      for (let f = 0; f < batch.count * PACKED_FIELDS; f += PACKED_FIELDS) hashes.push(fields[f + 3] as string);
    }
    expect(hashes).toEqual([Buffer.from(packVpdq(parseVpdqJson(entry.hash))).toString('hex'), MD5.hash]);
  });
});

describe('hostile vPDQ rows', () => {
  const good = formatVpdqJson(vpdqFrames(2, 31));
  const bad = [
    ['truncated', good.slice(0, -5)],
    ['a short hash', '["abc,100,0.0"]'],
    ['a quality over 100', good.replace(/,\d+,/, ',101,')],
    ['a negative timestamp', '["' + 'a'.repeat(64) + ',100,-1.0"]'],
    ['not JSON', 'not a signal'],
    ['a number', '42'],
  ] as const;

  it.each(bad)(
    '%s is a bad row naming the source and line, in every format, and the good rows stay',
    async (_, signal) => {
      const rows = [
        { algorithm: 'vpdq', hash: good },
        { algorithm: 'vpdq', hash: signal },
      ];
      const texts: Record<'csv' | 'ndjson' | 'text', string> = {
        csv: `algorithm,hash\n${rows.map((r) => `${r.algorithm},"${r.hash.replaceAll('"', '""')}"`).join('\n')}\n`,
        ndjson: rows.map((r) => JSON.stringify(r)).join('\n'),
        text: rows.map((r) => `${r.algorithm} ${r.hash}`).join('\n'),
      };
      for (const [format, text] of Object.entries(texts) as [ListFormat, string][]) {
        const parsed = parseList(text, { list: 'videos', format, source: 'in.list', onError: 'skip' });
        expect(parsed.entries.map((e) => e.hash)).toEqual([good]);
        expect(parsed.skipped).toHaveLength(1);
        expectRowError(parsed.skipped[0]?.error, 'in.list', format === 'csv' ? 3 : 2);
        expect(() => parseList(text, { list: 'videos', format, source: 'in.list' })).toThrow(HashwardenError);
        const path = await file(text);
        const problems: number[] = [];
        for await (const batch of streamListFile(path, { list: 'videos', format, onError: 'skip' }))
          for (const p of batch.problems) problems.push(p.line);
        expect(problems).toEqual([format === 'csv' ? 3 : 2]);
      }
    },
  );

  it('the formats that cannot hold a vPDQ entry refuse it with ERR_LIST_FORMAT', () => {
    const entry = vpdqEntry('videos', 2, 41);
    for (const format of ['hex', 'pdq-tools'] as const) {
      expect(() => formatList([entry], format)).toThrow(expect.objectContaining({ code: 'ERR_LIST_FORMAT' }));
    }
  });

  it('a TAT record naming vpdq is a bad row, not a video entry', () => {
    const record = { id: 7, algorithm: 'VPDQ', hash_digest: good, ideology: 'x' };
    const parsed = parseList(JSON.stringify(record), { list: 'tat', format: 'ndjson', onError: 'skip' });
    expect(parsed.entries).toEqual([]);
    expect(parsed.skipped[0]?.error.message).toMatch(/TAT record cannot hold a vPDQ hash/);
  });

  it('the checksum, PDQ and NCMEC readers give no vPDQ entry: a BSD tag VPDQ is a bad hash', () => {
    const parsed = parseList(`VPDQ (clip.mp4) = ${'a'.repeat(64)}\n`, {
      list: 'l',
      format: 'checksum',
      onError: 'skip',
    });
    expect(parsed.entries).toEqual([]);
    expect(parsed.skipped[0]?.error.cause).toMatchObject({ code: 'ERR_HASH_FORMAT' });
  });
});
