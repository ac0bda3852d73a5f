/**
 * Videos from hash to match through a store, on the command line only: `hashwarden hash --as-list`
 * of a generated clip, `hashwarden import` of what it printed, then `hashwarden match` of the same
 * clip (a vPDQ match naming the listed video and its frames), of another clip (no match), of a
 * rendition of it under each threshold option, and of a blank clip (UNCHECKED).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../testing/cli.js';
import { HAVE_FFMPEG, makeVideo, privateTmpdir, SKIP_NO_FFMPEG } from '../testing/ffmpeg.js';
import { postgresTitle, usePostgres } from '../testing/postgres.js';
import { hashVideo } from '../video/index.js';

const pg = usePostgres({ beforeAll, afterAll });

let dir: string;
let clip: string;
let other: string;
let black: string;
let rendition: string;
let staging: ReturnType<typeof privateTmpdir> | undefined;

beforeAll(() => {
  if (!HAVE_FFMPEG) return;
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-cli-video-store-'));
  staging = privateTmpdir(dir);
  const h264 = ['-pix_fmt', 'yuv420p'];
  clip = makeVideo(dir, 'clip.mp4', ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=6', ...h264]);
  other = makeVideo(dir, 'other.mkv', ['-f', 'lavfi', '-i', 'mandelbrot=size=320x240:rate=10', '-t', '6', ...h264]);
  black = makeVideo(dir, 'black.mp4', ['-f', 'lavfi', '-i', 'color=black:size=64x64:rate=5:duration=3', ...h264]);
  // The clip downscaled and re-encoded: its frames lie 6 to 31 bits from the clip's (FFmpeg 5.1's
  // x264), so every frame matches at pytx's 31, none at 5, one in six at 10.
  rendition = makeVideo(dir, 'rendition.mp4', ['-i', clip, '-vf', 'scale=160:120', '-crf', '35', ...h264]);
});

afterAll(() => {
  staging?.restore();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

it.runIf(!HAVE_FFMPEG && process.env.CI !== undefined)('has FFmpeg on CI', () => {
  expect.fail(SKIP_NO_FFMPEG);
});

/** The clip listed as `hash --as-list` prints it, imported into `db`. */
async function listClip(db: string): Promise<void> {
  const hashed = await cli('hash', '--as-list', '--list', 'known', clip);
  expect(hashed.status).toBe(0);
  const file = join(dir, `known-${Date.now()}.ndjson`);
  writeFileSync(file, hashed.out);
  const imported = await cli('import', file, '--db', db, '--list', 'known');
  expect(imported.status).toBe(0);
}

/**
 * The suite over one kind of store: `available` whether to collect it, `running()` whether its
 * server runs (a SQLite file always does), `newStore()` a new empty store's `--db`.
 */
function storeSuite(kind: string, available: boolean, running: () => boolean, newStore: () => string): void {
  const title = `hash, import and match a video, ${kind}`;
  describe.skipIf(!HAVE_FFMPEG || !available)(HAVE_FFMPEG ? title : `${title} [${SKIP_NO_FFMPEG}]`, () => {
    let db: string;

    beforeAll(async () => {
      if (!HAVE_FFMPEG || !running()) return;
      db = newStore();
      await listClip(db);
    });

    it('counts the listed video in lists, beside the exact hashes', async (t) => {
      if (!running()) return t.skip();
      const { status, out } = await cli('lists', '--db', db);
      expect(status).toBe(0);
      expect(out).toContain('known  v1  enabled  block  (no label)  3 entries (md5 1, sha256 1, vpdq 1)');
    });

    it('matches the listed clip, naming the listed video, its shares and each matched frame, and its exact hashes', async (t) => {
      if (!running()) return t.skip();
      const { status, lines } = await cli('match', clip, '--db', db);
      expect(status).toBe(1);
      const frames = (await hashVideo(clip)).frames.filter((f) => f.quality >= 50);
      expect(frames.length).toBeGreaterThan(0);
      const pairs = frames.map((f) => `${f.seconds.toFixed(3)}s->${f.seconds.toFixed(3)}s:0`).join(',');
      expect(lines).toEqual([
        `MATCH     ${clip}  list=known entry=${clip}:vpdq vpdq query=100% listed=100% frames=${pairs} list-version=1`,
        `MATCH     ${clip}  list=known entry=${clip}:md5 md5 distance=0 list-version=1`,
        `MATCH     ${clip}  list=known entry=${clip}:sha256 sha256 distance=0 list-version=1`,
      ]);
      const json = JSON.parse((await cli('match', '--json', clip, '--db', db)).lines[0] as string);
      expect(json.matches[0]).toMatchObject({
        list: 'known',
        algorithm: 'vpdq',
        queryMatchPercent: 100,
        listedMatchPercent: 100,
        frames: frames.map((f) => ({ querySeconds: f.seconds, listedSeconds: f.seconds, distance: 0 })),
      });
    });

    it('exports the listed video into a snapshot that match --snapshot matches as match --db does', async (t) => {
      if (!running()) return t.skip();
      const snapshot = join(dir, 'known.snap');
      expect((await cli('export', '--db', db, '--snapshot', snapshot)).status).toBe(0);
      for (const file of [clip, other, black, rendition])
        expect(await cli('match', file, '--snapshot', snapshot)).toEqual(await cli('match', file, '--db', db));
    });

    it('does not match a different clip, and says UNCHECKED for a clip with no usable frame', async (t) => {
      if (!running()) return t.skip();
      expect(await cli('match', other, '--db', db)).toMatchObject({ status: 0, lines: [`no match  ${other}`] });
      expect(await cli('match', black, '--db', db)).toMatchObject({
        status: 2,
        lines: [`UNCHECKED ${black}  (vpdq not used: vPDQ: all 3 frames have PDQ quality below 50)`],
      });
    });

    it('matches a rendition within the frame distance and shares given as options', async (t) => {
      if (!running()) return t.skip();
      const status = async (...args: string[]) => (await cli('match', rendition, '--db', db, ...args)).status;
      expect(await status()).toBe(1);
      expect(await status('--threshold', 'vpdq=5')).toBe(0);
      expect(await status('--threshold', 'vpdq=10')).toBe(0);
      expect(await status('--threshold', 'vpdq=10', '--query-match-percent', '15')).toBe(1);
      expect(
        await status('--threshold', 'vpdq=10', '--query-match-percent', '15', '--listed-match-percent', '50'),
      ).toBe(0);
    });
  });
}

let sqliteStores = 0;
storeSuite(
  'SQLite',
  true,
  () => true,
  () => join(dir, `store-${++sqliteStores}.db`),
);
storeSuite(postgresTitle('PostgreSQL', pg.available), pg.available, pg.running, pg.url);
