/**
 * Terminal and log injection through what the CLI prints (issue 18, finding 5): ids, labels, list
 * names, file names and the error messages quoting them may hold newlines, escape sequences and
 * bidi controls. No output line may be added, erased or reordered by them, and JSON output must
 * carry them exactly.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVE_CHARACTER, cli } from '../testing/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const images = join(root, 'test-vectors', 'images');
const listed = join(images, 'blobs-640x480.jpg');
const md5 = (
  JSON.parse(readFileSync(join(root, 'test-vectors', 'manifest.json'), 'utf8')) as {
    images: { file: string; md5: string }[];
  }
).images.find((i) => i.file === 'blobs-640x480.jpg')?.md5 as string;

/** The finding's id: on a terminal it erases the MATCH line and writes "no match" in its place. */
const ERASING = '\x1b[2K\rno match  /path';
/** A value that would forge a second line, then reverse the text after it. */
const FORGING = 'x\nMATCH     forged\u202e!';

let dir: string;
let count = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-injection-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Hostile {
  readonly id?: string;
  readonly label?: string;
  readonly list?: string;
  readonly listLabel?: string;
  readonly metadata?: Record<string, string>;
}

/** A store whose one list holds the MD5 of `listed`, with the given id, label, name and list label. */
async function store(hostile: Hostile): Promise<{ db: string; list: string }> {
  const db = join(dir, `store-${++count}.db`);
  const file = join(dir, `list-${count}.ndjson`);
  const list = hostile.list ?? 'plain';
  const row = { id: hostile.id ?? 'e1', algorithm: 'md5', hash: md5, label: hostile.label, metadata: hostile.metadata };
  await writeFile(file, `${JSON.stringify(row)}\n`);
  const imported = await cli('import', file, '--db', db, '--list', list);
  expect(imported.status).toBe(0);
  if (hostile.listLabel !== undefined)
    expect((await cli('list', 'set', list, '--db', db, '--label', hostile.listLabel)).status).toBe(0);
  return { db, list };
}

/** A copy of `listed` under `name` (a file name may hold anything but `/` and NUL). */
async function upload(name: string): Promise<string> {
  const file = join(dir, name);
  await copyFile(listed, file);
  return file;
}

/** The lines of `text`, each checked to hold nothing a terminal acts on. */
function printedLines(text: string): string[] {
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) expect(line).not.toMatch(ACTIVE_CHARACTER);
  return lines;
}

/** What `match` prints for `listed` against a store made of `hostile`: checked to be one MATCH line. */
async function matchLine(hostile: Hostile): Promise<string> {
  const { db } = await store(hostile);
  const { status, out } = await cli('match', listed, '--db', db);
  expect(status).toBe(1);
  const lines = printedLines(out);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^MATCH /);
  return lines[0] as string;
}

describe('match prints one line per match, whatever the list holds', () => {
  it("keeps a MATCH line a MATCH line when the entry's id would erase it and write 'no match'", async () => {
    expect(await matchLine({ id: ERASING })).toContain('entry=\\x1b[2K\\rno match  /path md5 distance=0');
  });

  it.each([
    ['an id', { id: FORGING }],
    ['a label', { label: FORGING }],
    ['a list name', { list: FORGING }],
    ["a list's label", { listLabel: FORGING }],
  ] as const)('adds no line and reverses no text for a newline and a bidi override in %s', async (_, hostile) => {
    expect(await matchLine(hostile)).toContain('x\\nMATCH     forged\\u202e!');
  });

  it("adds no line for a newline in an upload's file name, matched, clean or unreadable", async () => {
    const { db } = await store({});
    const hit = await upload('a\nno match  b.jpg');
    const clean = join(dir, 'c\nMATCH     d.jpg');
    await copyFile(join(images, 'mosaic-400x300.jpg'), clean);
    const missing = join(dir, 'e\nno match  f.jpg');
    const { status, out } = await cli('match', hit, clean, missing, '--db', db);
    expect(status).toBe(1);
    const lines = printedLines(out);
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['MATCH', 'no', 'ERROR']);
    expect(lines[0]).toContain(`${dir}/a\\nno match  b.jpg  list=plain`);
    expect(lines[2]).toContain('ERR_INPUT_READ');
  });

  it('gives back file names, ids, labels, list names and metadata exactly with --json, on one line each', async () => {
    const hostile = {
      id: ERASING,
      label: FORGING,
      list: 'L\u2028\x85',
      listLabel: '\u2066policy\u2069\x7f',
      metadata: { 'key\n': 'value\u202e\x9b' },
    };
    const { db } = await store(hostile);
    const file = await upload('g\n\u202eh.jpg');
    const missing = join(dir, 'i\u2029j.jpg');
    const { out } = await cli('match', file, missing, '--db', db, '--json');
    const [hit, error] = printedLines(out).map((l) => JSON.parse(l));
    expect(hit).toMatchObject({
      file,
      matches: [
        {
          entryId: hostile.id,
          label: hostile.label,
          list: hostile.list,
          listLabel: hostile.listLabel,
          metadata: hostile.metadata,
        },
      ],
    });
    expect(error).toMatchObject({ file: missing, error: { code: 'ERR_INPUT_READ' } });
  });
});

describe('lists, list set, import and export print one line per thing, whatever it is named', () => {
  it('lists and list set print one line per list; lists --json gives names and labels back exactly', async () => {
    const { db, list } = await store({ list: FORGING });
    const set = await cli('list', 'set', list, '--db', db, '--label', ERASING);
    expect(printedLines(set.out)).toHaveLength(1);
    expect(set.out).toContain(
      'x\\nMATCH     forged\\u202e!  v1  enabled  block  \\x1b[2K\\rno match  /path  1 entries',
    );
    const lists = await cli('lists', '--db', db);
    expect(printedLines(lists.out)).toEqual(printedLines(set.out));
    const json = await cli('lists', '--db', db, '--json');
    const lines = printedLines(json.out);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ name: FORGING, label: ERASING });
  });

  it('import prints one summary line, and one line per skipped row, whatever the file, list and rows hold', async () => {
    const file = join(dir, 'rows\n\u202e.ndjson');
    const bad = JSON.stringify({ id: FORGING, algorithm: 'md5', hash: `zz${ERASING}` });
    await writeFile(file, `${JSON.stringify({ algorithm: 'md5', hash: md5 })}\n${bad}\n`);
    const db = join(dir, 'import.db');
    const { status, out, err } = await cli('import', file, '--db', db, '--list', ERASING, '--skip-bad-rows');
    expect(status).toBe(0);
    expect(printedLines(out)).toEqual([
      `imported ${dir}/rows\\n\\u202e.ndjson into list \\x1b[2K\\rno match  /path: 1 added, 0 updated, 0 unchanged, 0 removed (version 1)`,
      '1 bad rows skipped',
    ]);
    const skipped = printedLines(err);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^skipped .*rows\\n\\u202e\.ndjson:2: /);
  });

  it('export prints one line per algorithm and one for the file, whatever the file and lists are named', async () => {
    const { db } = await store({ list: FORGING });
    const out = join(dir, 'out\n\u202e.csv');
    const listFile = await cli('export', '--db', db, '--out', out);
    expect(listFile.status).toBe(0);
    expect(printedLines(listFile.out)).toEqual([
      `wrote ${dir}/out\\n\\u202e.csv (1 entries of x\\nMATCH     forged\\u202e!, csv)`,
    ]);
    const snapshot = await cli('export', '--db', db, '--snapshot', join(dir, 'snap\r\x1b[2K.snap'));
    expect(snapshot.status).toBe(0);
    const lines = printedLines(snapshot.out);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^wrote .*snap\\r\\x1b\[2K\.snap \(1 entries, \d+ bytes, sequence \d+\)$/);
  });
});

describe('error messages stay on their line', () => {
  it('prints a failing import, a refusal and a usage error quoting hostile names as one line each', async () => {
    const file = join(dir, 'bad\n.txt');
    await writeFile(file, `md5 ${md5}\nmd5 zz\x1b[2K\rno\n`);
    const failed = await cli('import', file, '--db', join(dir, 'never.db'), '--list', 'x');
    expect(failed.status).toBe(2);
    expect(printedLines(failed.err)).toHaveLength(1);
    expect(failed.err).toContain(`ERR_LIST_FORMAT: ${dir}/bad\\n.txt:2:`);

    const empty = join(dir, 'empty\n.csv');
    await writeFile(empty, 'id,algorithm,hash\n');
    const refused = await cli('import', empty, '--db', join(dir, 'never.db'), '--list', 'x');
    expect(refused.status).toBe(2);
    expect(printedLines(refused.err)).toHaveLength(1);

    const { db } = await store({});
    const unknown = await cli('export', '--db', db, '--out', join(dir, 'x.csv'), '--list', FORGING);
    expect(unknown.status).toBe(2);
    const usage = printedLines(unknown.err);
    expect(usage).toHaveLength(2);
    expect(usage[1]).toMatch(/^Run `hashwarden export --help`/);

    const command = await cli(`no\n${ERASING}`);
    expect(command.status).toBe(2);
    expect(command.err.split('\n')[0]).toBe('hashwarden: unknown command "no\\\\n\\\\u001b[2K\\\\rno match  /path"');
  });
});

describe('hash', () => {
  it('prints the file name exactly as given, in a JSON line holding no control, and its failures on one line', async () => {
    const file = await upload(`k\x1b[2K\r\u202el\x85\u2028.jpg`);
    const missing = join(dir, 'm\n\u2066.jpg');
    const { status, out } = await cli('hash', '--algorithms', 'md5', file, missing);
    expect(status).toBe(2);
    const lines = printedLines(out).map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { file, md5 },
      { file: missing, error: { code: 'ERR_INPUT_READ', message: expect.any(String) } },
    ]);

    const asList = await cli('hash', '--as-list', '--list', FORGING, '--algorithms', 'md5', file, missing);
    expect(asList.status).toBe(2);
    expect(printedLines(asList.out).map((l) => JSON.parse(l))).toEqual([
      { id: `${file}:md5`, list: FORGING, algorithm: 'md5', hash: md5 },
    ]);
    const errors = printedLines(asList.err);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain(`hashwarden hash: ${dir}/m\\n\\u2066.jpg: ERR_INPUT_READ`);
  });
});

describe('ordinary text', () => {
  it('prints accents, CJK and emoji as they are', async () => {
    const { db } = await store({ id: 'é日本😀', list: 'liste-été', label: '東京 🍣' });
    const file = await upload('photo-é日本😀.jpg');
    const { out } = await cli('match', file, '--db', db);
    expect(out).toBe(`MATCH     ${file}  list=liste-été entry=é日本😀 md5 distance=0 label=東京 🍣 list-version=1\n`);
    const hashed = await cli('hash', '--algorithms', 'md5', file);
    expect(hashed.out).toBe(`{"file":"${file}","md5":"${md5}"}\n`);
  });
});
