/**
 * NCMEC's hash-sharing API v2 XML as a list file (issue 21): records as entries with their
 * classification as label, deletions as removals, fingerprint types hashwarden lacks ignored,
 * through both readers; and hostile documents (truncated, another root, a DOCTYPE, huge
 * attributes) refused with ERR_LIST_FORMAT.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHashwardenError } from '../errors.js';
import { detectListFormat } from './detect.js';
import { MAX_NCMEC_XML_BYTES, readNcmecDocument } from './ncmec-xml.js';
import { parseList, readListFile } from './parse.js';
import { streamListFile, type ListRow } from './stream.js';
import { HashStore } from '../store/index.js';
import { cli } from '../testing/cli.js';
import { readBoth, SAMPLES } from '../testing/list-samples.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';
const MD5_B = '92eb5ffee6ae2fec3ad71c777531578f';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-ncmec-xml-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function streamed(path: string, options: { onError?: 'skip' } = {}): Promise<ListRow[]> {
  const rows: ListRow[] = [];
  for await (const batch of streamListFile(path, { list: 'ncmec', batchSize: 3, ...options })) rows.push(...batch.rows);
  return rows;
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function document(records: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
    <images count="1" maxTimestamp="2019-10-24T15:10:00Z">
${records}
    </images>${extra}
</queryResult>
`;
}

function image(id: string, fingerprints: string, member = '42', tag = 'image'): string {
  return `        <${tag}>
            <member id="${member}">Example Member</member>
            <timestamp>2019-10-24T15:00:00Z</timestamp>
            <id>${id}</id>
            <classification>A2</classification>
            <fingerprints>${fingerprints}</fingerprints>
        </${tag}>`;
}

describe('NCMEC XML list files', () => {
  it('reads MD5, SHA-1 and PDQ fingerprints as entries labelled with the classification, alike in both readers', async () => {
    const entries = await readBoth('ncmec-entries.xml');
    expect(entries.map((e) => [e.id, e.algorithm, e.label])).toEqual([
      ['42-image1:md5', 'md5', 'A1'],
      ['42-image1:sha1', 'sha1', 'A1'],
      ['43-image2:md5', 'md5', 'B1'],
      ['43-image2:pdq', 'pdq', 'B1'],
      ['42-video1:md5', 'md5', undefined],
      ['42-video1:sha1', 'sha1', undefined],
    ]);
    expect(entries[0]?.metadata).toEqual({
      ncmecId: 'image1',
      memberId: 42,
      member: 'Example Member',
      mediaType: 'image',
      timestamp: '2017-10-24T15:00:00Z',
      classification: 'A1',
      feedback: { up: 1, down: 0, reasons: [] },
    });
    // The down vote's reason, its member's name decoded from `&amp;` but kept out of the entry.
    expect(entries[1]?.metadata?.feedback).toEqual({ up: 0, down: 1, reasons: ['Example Reason 1'] });
    // A video's MD5 is pytx's video_md5: an md5 entry saying it is of a video.
    expect(entries[4]?.metadata?.mediaType).toBe('video');
    expect(detectListFormat('entries.txt', '\n<?xml version="1.0"?>')).toBe('ncmec');
    expect(detectListFormat('page', '<queryResult xmlns="…">')).toBe('ncmec');
  });

  it('counts deletions and PhotoDNA, TMK and Videntifier fingerprints as ignored in a whole-list read', async () => {
    const parsed = await readListFile(join(SAMPLES, 'ncmec-entries.xml'), { list: 'ncmec' });
    expect(parsed.format).toBe('ncmec');
    // pdna, tmk-pdqf, videntifier; image4 and video4 deleted.
    expect(parsed.ignored).toBe(5);
    expect(parsed.skippedCount).toBe(0);
  });

  it('streams deletions, and the fingerprints a record lacks, as removals of every id the record may have produced', async () => {
    const rows = await streamed(join(SAMPLES, 'ncmec-entries.xml'));
    const removed = rows.filter((r) => r.op === 'remove').map((r) => (r.op === 'remove' ? r.id : ''));
    expect(removed).toEqual([
      '42-image1:pdq',
      '43-image2:sha1',
      '43-image4:md5',
      '43-image4:sha1',
      '43-image4:pdq',
      '42-video1:pdq',
      '42-video4:md5',
      '42-video4:sha1',
      '42-video4:pdq',
    ]);
    const deletion = rows.find((r) => r.op === 'remove' && r.id === '43-image4:md5');
    // The line of the <deletedImage> element.
    expect(deletion?.line).toBe(41);
  });

  it('folds a record given twice in one document: the last wins, so a record and its deletion leave nothing', async () => {
    const path = await file(
      'fold.xml',
      document(
        [
          image('one', `<md5>${MD5_A}</md5><sha1>86f7e437faa5a7fce15d1ddcb9eaeaea377667b8</sha1>`),
          image('two', `<md5>${MD5_B}</md5>`),
          image('one', `<md5>${MD5_A}</md5>`),
          '<deletedImage><member id="42">M</member><id>two</id></deletedImage>',
        ].join('\n'),
      ),
    );
    const parsed = await readListFile(path, { list: 'ncmec' });
    expect(parsed.entries.map((e) => e.id)).toEqual(['42-one:md5']);
    const rows = await streamed(path);
    expect(rows.map((r) => `${r.op} ${r.op === 'add' ? r.entry.id : r.id}`)).toEqual([
      'add 42-one:md5',
      'remove 42-one:sha1',
      'remove 42-one:pdq',
      'remove 42-two:md5',
      'remove 42-two:sha1',
      'remove 42-two:pdq',
    ]);
  });

  it('imports with hashwarden import, a later page deleting and updating what an earlier one added', async () => {
    const db = join(dir, 'import.db');
    const first = await cli('import', join(SAMPLES, 'ncmec-entries.xml'), '--db', db, '--list', 'ncmec');
    expect(first.status).toBe(0);
    expect(first.out).toMatch(/3 rows left out, never imported \(.*PhotoDNA\)/);
    const later = await file(
      'later.xml',
      document(
        [
          '<deletedImage><member id="42">M</member><id>image1</id></deletedImage>',
          image('image2', `<md5>${MD5_B}</md5>`, '43'),
        ].join('\n'),
      ),
    );
    expect((await cli('import', later, '--db', db, '--list', 'ncmec')).status).toBe(0);
    // A page is a delta: a replace by it is refused, naming the removal rows.
    const replace = await cli('import', later, '--db', db, '--list', 'ncmec', '--replace');
    expect([replace.status, replace.err]).toEqual([2, expect.stringMatching(/removal row in a replace/)]);
    const store = HashStore.open(db, { readonly: true });
    try {
      expect([...store.entries({ list: 'ncmec' })].map((e) => `${e.id} ${e.label}`).sort()).toEqual([
        '42-video1:md5 undefined',
        '42-video1:sha1 undefined',
        '43-image2:md5 A2',
      ]);
    } finally {
      store.close();
    }
  });

  it('reports a record without a member id, or with a bad hash, as a bad row at its line', async () => {
    const text = document(
      [
        image('good', `<md5>${MD5_A}</md5>`),
        image('nomember', `<md5>${MD5_B}</md5>`, 'x'),
        image('badhash', '<md5>0cc175b9</md5>'),
      ].join('\n'),
    );
    const parsed = parseList(text, { list: 'ncmec', format: 'ncmec', source: 'page.xml', onError: 'skip' });
    expect(parsed.entries.map((e) => e.id)).toEqual(['42-good:md5']);
    expect(parsed.skipped.map((p) => [p.line, p.error.code])).toEqual([
      [11, 'ERR_LIST_FORMAT'],
      [18, 'ERR_LIST_FORMAT'],
    ]);
    expect(parsed.skipped[0]?.error.message).toMatch(/^page\.xml:11: .*member id/);
    expect(() => parseList(text, { list: 'ncmec', format: 'ncmec' })).toThrow(/^<input>:11:/);
  });

  it('keeps the next page link of a saved answer out of the entries, entities decoded', () => {
    const text = document('', '<paging><next>/v2/entries?from=a&amp;to=b&#38;start=1</next></paging>');
    expect(readNcmecDocument(text).next).toBe('/v2/entries?from=a&to=b&start=1');
    expect(readNcmecDocument(text).maxTimestamp).toBe(Date.UTC(2019, 9, 24, 15, 10) / 1000);
  });
});

describe('hostile NCMEC XML', () => {
  async function refusedBoth(name: string, text: string): Promise<unknown[]> {
    await file(name, text);
    const path = join(dir, name);
    const stream = async (): Promise<void> => {
      for await (const _ of streamListFile(path, { list: 'peer', format: 'ncmec' })) {
        // drained for its error
      }
    };
    return [
      await readListFile(path, { list: 'peer', format: 'ncmec' }).catch((error: unknown) => error),
      await stream().catch((error: unknown) => error),
    ];
  }

  function expectListFormat(errors: unknown[], pattern: RegExp): void {
    for (const error of errors) {
      expect(isHashwardenError(error) && error.code).toBe('ERR_LIST_FORMAT');
      expect((error as Error).message).toMatch(pattern);
    }
  }

  it('refuses a truncated document rather than importing the records before the cut', async () => {
    const whole = document(image('one', `<md5>${MD5_A}</md5>`) + image('two', `<md5>${MD5_B}</md5>`));
    expectListFormat(await refusedBoth('truncated.xml', whole.slice(0, whole.indexOf('<id>two'))), /well-formed/);
  });

  it('refuses a document whose root is not <queryResult>', async () => {
    const status = '<?xml version="1.0"?>\n<status><member id="1">x</member></status>\n';
    expectListFormat(await refusedBoth('status.xml', status), /<queryResult>.*<status>/);
    expectListFormat(await refusedBoth('empty.xml', '<?xml version="1.0"?>\n'), /well-formed|queryResult/);
  });

  it('refuses an entity-expansion ("billion laughs") document at once, without expanding it', async () => {
    const entities = ['<!ENTITY lol "lol">'];
    for (let i = 1; i < 10; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
    const bomb = `<?xml version="1.0"?>\n<!DOCTYPE queryResult [\n${entities.join('\n')}\n]>\n${document(
      image('&lol9;', `<md5>${MD5_A}</md5>`),
    ).replace(/^<\?xml[^\n]*\n/, '')}`;
    const started = performance.now();
    const errors = await refusedBoth('bomb.xml', bomb);
    expect(performance.now() - started).toBeLessThan(2_000);
    expectListFormat(errors, /DOCTYPE/);
    // An entity declaration without a DOCTYPE around it is refused too.
    expectListFormat(await refusedBoth('entity.xml', `${document('')}<!ENTITY x "y">`), /DOCTYPE/);
  });

  it('refuses a huge attribute or text before parsing it, and reads a long one within the bound', async () => {
    const huge = 'x'.repeat(4 * 1024 * 1024);
    const started = performance.now();
    expectListFormat(
      await refusedBoth('attribute.xml', document(image('one', `<md5>${MD5_A}</md5>`, huge))),
      /tag of more/,
    );
    expectListFormat(await refusedBoth('text.xml', document(image(huge, `<md5>${MD5_A}</md5>`))), /text of more/);
    expect(performance.now() - started).toBeLessThan(2_000);
    const long = 'x'.repeat(60 * 1024);
    const note = document(image('one', `<md5 note="${long}">${MD5_A}</md5>`));
    expect(parseList(note, { list: 'ncmec', format: 'ncmec' }).entries.map((e) => e.id)).toEqual(['42-one:md5']);
    const longId = document(image(long, `<md5>${MD5_A}</md5>`));
    expect(parseList(longId, { list: 'ncmec', format: 'ncmec', onError: 'skip' }).skippedCount).toBe(1);
  });

  it('refuses a document of more tags than a page holds before building its tree', () => {
    const started = performance.now();
    const many = document('<x/>'.repeat(600_000));
    expect(() => parseList(many, { list: 'ncmec', format: 'ncmec' })).toThrow(/More than 500000 tags/);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(parseList(document('<x/>'.repeat(1_000)), { list: 'ncmec', format: 'ncmec' }).ignored).toBe(1_000);
  });

  it('refuses nesting past the parser bound and prototype-polluting names without harm', () => {
    const deep = document(`${'<a>'.repeat(200)}${'</a>'.repeat(200)}`);
    expect(() => parseList(deep, { list: 'ncmec', format: 'ncmec' })).toThrow(
      expect.objectContaining({ code: 'ERR_LIST_FORMAT' }),
    );
    const proto = document(image('one', `<md5>${MD5_A}</md5><__proto__><polluted>1</polluted></__proto__>`));
    expect(() => parseList(proto, { list: 'ncmec', format: 'ncmec' })).toThrow(
      expect.objectContaining({ code: 'ERR_LIST_FORMAT' }),
    );
    const names = document(image('one', `<md5>${MD5_A}</md5><hasOwnProperty>1</hasOwnProperty><toString/>`));
    expect(parseList(names, { list: 'ncmec', format: 'ncmec' }).ignored).toBe(2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it(`refuses a document over ${MAX_NCMEC_XML_BYTES} bytes in both readers`, async () => {
    const head = '<?xml version="1.0"?>\n<queryResult>\n';
    const padding = `${' '.repeat(1023)}\n`.repeat(MAX_NCMEC_XML_BYTES / 1024);
    expectListFormat(await refusedBoth('large.xml', `${head}${padding}</queryResult>\n`), /more than 67108864 bytes/);
  });
});
