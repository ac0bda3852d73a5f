/**
 * Videos on the command line: `hashwarden hash` and `hashwarden match` tell a video by its first
 * bytes and give it the images' output contract and exit statuses (docs/cli.md). Clips are made
 * by FFmpeg from its own test sources; the hostile ones come from test-vectors/hostile-video.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseList } from '../lists/parse.js';
import { writeSnapshot } from '../index.js';
import { ACTIVE_CHARACTER, cli } from '../testing/cli.js';
import { HAVE_FFMPEG, makeVideo, privateTmpdir, SKIP_NO_FFMPEG } from '../testing/ffmpeg.js';
import { formatVpdqJson, formatVpdqLines, hashVideo } from '../video/index.js';

const vectors = fileURLToPath(new URL('../../test-vectors/', import.meta.url));
const hostile = (file: string) => join(vectors, 'hostile-video', file);
const photo = join(vectors, 'images', 'mosaic-400x300.jpg');

let dir: string;
let clip: string;
let other: string;
let black: string;
let staging: ReturnType<typeof privateTmpdir> | undefined;

beforeAll(() => {
  if (!HAVE_FFMPEG) return;
  dir = mkdtempSync(join(tmpdir(), 'hashwarden-cli-video-'));
  staging = privateTmpdir(dir);
  // Two unrelated 6 s clips (a moving test card, the Mandelbrot zoom) and 3 s of black.
  const h264 = ['-pix_fmt', 'yuv420p'];
  clip = makeVideo(dir, 'clip.mp4', ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=6', ...h264]);
  other = makeVideo(dir, 'other.mkv', ['-f', 'lavfi', '-i', 'mandelbrot=size=320x240:rate=10', '-t', '6', ...h264]);
  black = makeVideo(dir, 'black.mp4', ['-f', 'lavfi', '-i', 'color=black:size=64x64:rate=5:duration=3', ...h264]);
});

afterAll(() => {
  staging?.restore();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function digest(algorithm: 'md5' | 'sha256', file: string): string {
  return createHash(algorithm).update(readFileSync(file)).digest('hex');
}

it.runIf(!HAVE_FFMPEG && process.env.CI !== undefined)('has FFmpeg on CI', () => {
  expect.fail(SKIP_NO_FFMPEG);
});

describe.skipIf(!HAVE_FFMPEG)(HAVE_FFMPEG ? 'hashwarden hash, a video' : `hashwarden hash [${SKIP_NO_FFMPEG}]`, () => {
  it('prints md5, sha256 and the vPDQ signal text with its frame counts, in the contract order', async () => {
    const { status, lines } = await cli('hash', clip);
    expect(status).toBe(0);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['file', 'md5', 'sha256', 'vpdq', 'vpdqFrames', 'vpdqUsableFrames', 'unusable']);
    const video = await hashVideo(clip);
    expect(line).toEqual({
      file: clip,
      md5: digest('md5', clip),
      sha256: digest('sha256', clip),
      vpdq: formatVpdqJson(video.frames),
      vpdqFrames: 6,
      vpdqUsableFrames: video.frames.filter((f) => f.quality >= 50).length,
      unusable: {},
    });
    expect(line.vpdqUsableFrames).toBeGreaterThan(0);
  });

  it('says on the line when no frame is usable, as a low-quality PDQ line does', async () => {
    const { status, lines } = await cli('hash', black);
    expect(status).toBe(0);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      vpdqFrames: 3,
      vpdqUsableFrames: 0,
      unusable: { vpdq: 'vPDQ: all 3 frames have PDQ quality below 50' },
    });
  });

  it('hashes images and videos in one batch, in input order, a video named .jpg as a video', async () => {
    const { status, lines } = await cli(
      'hash',
      '--algorithms',
      'pdq,md5,vpdq',
      photo,
      hostile('video-named.jpg'),
      hostile('image-named.mp4'),
      clip,
    );
    expect(status).toBe(0);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => Object.keys(p))).toEqual([
      ['file', 'pdq', 'pdqQuality', 'md5', 'unusable'],
      ['file', 'md5', 'vpdq', 'vpdqFrames', 'vpdqUsableFrames', 'unusable'],
      ['file', 'pdq', 'pdqQuality', 'md5', 'unusable'],
      ['file', 'md5', 'vpdq', 'vpdqFrames', 'vpdqUsableFrames', 'unusable'],
    ]);
    expect(parsed[1]).toMatchObject({ md5: digest('md5', hostile('video-named.jpg')), vpdqFrames: 2 });
  });

  it('does not wait on a FIFO to tell its kind: it is an unreadable file, and the batch goes on', async () => {
    const fifo = join(dir, 'upload.fifo');
    execFileSync('mkfifo', [fifo]);
    const { status, lines } = await cli('hash', '--algorithms', 'md5', fifo, clip);
    expect(status).toBe(2);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { file: fifo, error: { code: 'ERR_INPUT_READ', message: `Cannot read ${fifo}: not a regular file` } },
      { file: clip, md5: digest('md5', clip) },
    ]);
  });

  it('gives a file whose kind has none of the hashes asked for an error line, and exits 2', async () => {
    const { status, lines } = await cli('hash', '--algorithms', 'vpdq', photo, clip);
    expect(status).toBe(2);
    const [image, video] = lines.map((l) => JSON.parse(l));
    expect(image.error.code).toBe('ERR_UNSUPPORTED_FORMAT');
    expect(image.error.message).toContain('is an image: --algorithms asks for none of the hashes an image has');
    expect(Object.keys(video)).toEqual(['file', 'vpdq', 'vpdqFrames', 'vpdqUsableFrames', 'unusable']);
  });

  it('samples every frame with --seconds-per-hash 0 and scales with --downsample, as hashVideo does', async () => {
    const { lines } = await cli('hash', '--algorithms', 'vpdq', '--seconds-per-hash', '0', '--downsample', '128', clip);
    const video = await hashVideo(clip, { secondsPerHash: 0, downsampleFrameDimension: 128 });
    expect(video.frames).toHaveLength(60);
    expect(JSON.parse(lines[0] as string).vpdq).toBe(formatVpdqJson(video.frames));
    const half = await cli('hash', '--algorithms', 'vpdq', '--seconds-per-hash', '0.5', clip);
    expect(JSON.parse(half.lines[0] as string).vpdqFrames).toBe(12);
  });

  it('refuses bad video options as usage errors before any file', async () => {
    for (const [flag, value, message] of [
      ['--downsample', '3', 'Expected 0 or integer between 5 and 4096 for downsampleFrameDimension but received 3'],
      ['--seconds-per-hash', 'often', 'Expected number between 0 and 3600 for secondsPerHash but received "often"'],
      ['--ffmpeg', '', 'Expected non-empty string'],
      ['--max-duration', '0', 'Expected integer between 1 and 604800 for maxDurationSeconds but received 0'],
      ['--video-timeout', 'soon', 'Expected integer between 1 and 604800 for timeoutSeconds but received "soon"'],
    ] as const) {
      const { status, out, err } = await cli('hash', flag, value, clip);
      expect(status).toBe(2);
      expect(out).toBe('');
      expect(err).toContain(message);
    }
  });

  it('refuses a video longer than --max-duration with its error line, the image beside it hashed', async () => {
    const { status, lines } = await cli('hash', '--max-duration', '2', clip, photo);
    expect(status).toBe(2);
    const [long, picture] = lines.map((l) => JSON.parse(l));
    expect([long.file, long.error.code]).toEqual([clip, 'ERR_IMAGE_TOO_LARGE']);
    expect(picture.pdq).toMatch(/^[0-9a-f]{64}$/);
    expect((await cli('hash', '--max-duration', '7', '--video-timeout', '120', clip)).status).toBe(0);
  });

  it("writes Meta's frame lines for each video to --vpdq-lines DIR, named as Meta names them", async () => {
    const out = join(dir, 'lines');
    const { status } = await cli('hash', '--vpdq-lines', out, photo, clip, other);
    expect(status).toBe(0);
    expect(readFileSync(join(out, 'clip.txt'), 'utf8')).toBe(formatVpdqLines((await hashVideo(clip)).frames));
    expect(readFileSync(join(out, 'other.txt'), 'utf8')).toBe(formatVpdqLines((await hashVideo(other)).frames));
    // Two videos of one name would write one file: refused before any is hashed.
    mkdirSync(join(dir, 'copy'));
    copyFileSync(clip, join(dir, 'copy', 'clip.mov'));
    const twin = await cli('hash', '--vpdq-lines', join(dir, 'twin'), clip, join(dir, 'copy', 'clip.mov'));
    expect(twin).toMatchObject({ status: 2, out: '' });
    expect(twin.err).toContain(`--vpdq-lines would write ${join(dir, 'twin', 'clip.txt')} for both`);
  });

  it('prints ERR_MISSING_DEPENDENCY with how to install FFmpeg when it is absent, and goes on', async () => {
    const { status, lines } = await cli('hash', '--ffmpeg', join(dir, 'no-ffmpeg', 'ffmpeg'), clip, photo);
    expect(status).toBe(2);
    const [video, image] = lines.map((l) => JSON.parse(l));
    expect(video.error.code).toBe('ERR_MISSING_DEPENDENCY');
    expect(video.error.message).toMatch(/apt-get install ffmpeg/);
    expect(image.md5).toBe(digest('md5', photo));
    const saved = process.env.PATH;
    process.env.PATH = '';
    try {
      const bare = await cli('hash', clip);
      expect(bare.status).toBe(2);
      expect(JSON.parse(bare.lines[0] as string).error.code).toBe('ERR_MISSING_DEPENDENCY');
    } finally {
      process.env.PATH = saved;
    }
  });

  it('gives each hostile video its typed error line and exits 2, the good ones hashed beside them', async () => {
    const manifest = JSON.parse(readFileSync(hostile('manifest.json'), 'utf8')) as {
      files: { file: string; expect: { error?: string } }[];
    };
    const files = ['truncated-in-moov.mp4', 'corrupt-middle.mp4', 'audio-only.mp4', 'long-duration-few-bytes.mkv'];
    const { status, lines } = await cli('hash', hostile('base.mp4'), ...files.map(hostile));
    expect(status).toBe(2);
    const [good, ...bad] = lines.map((l) => JSON.parse(l));
    expect(good.vpdqFrames).toBe(2);
    expect(bad.map((b) => [b.file, b.error.code])).toEqual(
      files.map((f) => [hostile(f), manifest.files.find((m) => m.file === f)?.expect.error]),
    );
    expect(bad.map((b) => b.error.code)).toEqual([
      'ERR_IMAGE_DECODE',
      'ERR_IMAGE_DECODE',
      'ERR_UNSUPPORTED_FORMAT',
      'ERR_IMAGE_TOO_LARGE',
    ]);
  });

  it('prints md5, sha256 and vpdq rows with --as-list, that a list reader reads back as the same entries', async () => {
    const { status, out, err } = await cli('hash', '--as-list', '--list', 'mine', clip, black);
    expect(status).toBe(0);
    // The black clip's vPDQ hash is left out and counted, as an unusable PDQ hash is.
    expect(err).toBe('1 unusable hashes left out (a matcher would not match with them)\n');
    const parsed = parseList(out, { list: 'mine' });
    expect(parsed.entries.map((e) => [e.id, e.algorithm])).toEqual([
      [`${clip}:md5`, 'md5'],
      [`${clip}:sha256`, 'sha256'],
      [`${clip}:vpdq`, 'vpdq'],
      [`${black}:md5`, 'md5'],
      [`${black}:sha256`, 'sha256'],
    ]);
    expect(parsed.entries[2]?.hash).toBe(formatVpdqJson((await hashVideo(clip)).frames));
    // The plain lines read back alike (hashwarden import reads either).
    const plain = parseList((await cli('hash', clip, black)).out, { list: 'mine' });
    expect(plain.entries.map((e) => [e.algorithm, e.hash])).toEqual(parsed.entries.map((e) => [e.algorithm, e.hash]));
    expect(plain.ignored).toBe(1);
  });
});

describe.skipIf(!HAVE_FFMPEG)(
  HAVE_FFMPEG ? 'hashwarden match, a video' : `hashwarden match [${SKIP_NO_FFMPEG}]`,
  () => {
    let exact: string;
    let imagesOnly: string;

    beforeAll(async () => {
      if (!HAVE_FFMPEG) return;
      // The lists are what `hash --as-list` printed, read as `import` reads it.
      const rows = async (list: string, ...args: string[]) =>
        parseList((await cli('hash', '--as-list', '--list', list, ...args)).out, { list }).entries;
      exact = join(dir, 'exact.snap');
      await writeSnapshot(exact, {
        lists: [{ name: 'files', version: 3 }],
        entries: await rows('files', '--algorithms', 'md5,sha256', clip),
      });
      imagesOnly = join(dir, 'images.snap');
      await writeSnapshot(imagesOnly, {
        lists: [{ name: 'photos', version: 1 }],
        entries: await rows('photos', '--algorithms', 'pdq', photo),
      });
    });

    it('matches a video listed by vPDQ in a snapshot, naming the entry, its label and the matched frames', async () => {
      const listed = parseList((await cli('hash', '--as-list', '--list', 'known', '--algorithms', 'vpdq', clip)).out, {
        list: 'known',
      }).entries.map((e) => ({ ...e, id: 'clip-v1', label: 'csam' }));
      const videos = join(dir, 'videos.snap');
      await writeSnapshot(videos, { lists: [{ name: 'known', version: 2 }], entries: listed });
      const frames = (await hashVideo(clip)).frames.filter((f) => f.quality >= 50);
      const pairs = frames.map((f) => `${f.seconds.toFixed(3)}s->${f.seconds.toFixed(3)}s:0`).join(',');
      expect(await cli('match', clip, '--snapshot', videos)).toMatchObject({
        status: 1,
        lines: [
          `MATCH     ${clip}  list=known entry=clip-v1 vpdq query=100% listed=100% frames=${pairs} label=csam list-version=2`,
        ],
      });
      expect(await cli('match', other, '--snapshot', videos)).toMatchObject({
        status: 0,
        lines: [`no match  ${other}`],
      });
      // Its MD5 and SHA-256 are listed nowhere here: no usable frame leaves the blank clip unchecked.
      expect(await cli('match', black, '--snapshot', videos)).toMatchObject({
        status: 2,
        lines: [`UNCHECKED ${black}  (vpdq not used: vPDQ: all 3 frames have PDQ quality below 50)`],
      });
    });

    it('matches a listed video by its exact hashes, as image lines name them; a different video is no match', async () => {
      const { status, lines } = await cli('match', clip, '--snapshot', exact);
      expect({ status, lines }).toEqual({
        status: 1,
        lines: [
          `MATCH     ${clip}  list=files entry=${clip}:md5 md5 distance=0 list-version=3`,
          `MATCH     ${clip}  list=files entry=${clip}:sha256 sha256 distance=0 list-version=3`,
        ],
      });
      expect(await cli('match', other, '--snapshot', exact)).toMatchObject({
        status: 0,
        lines: [`no match  ${other}`],
      });
    });

    it('prints a video --json line laid out as an image line, with its frame counts before checked', async () => {
      const { status, lines } = await cli('match', '--json', other, clip, '--snapshot', exact);
      expect(status).toBe(1);
      const [miss, hit] = lines.map((l) => JSON.parse(l));
      expect(Object.keys(miss)).toEqual([
        'file',
        'matched',
        'matches',
        'hashes',
        'unusable',
        'vpdqFrames',
        'vpdqUsableFrames',
        'checked',
      ]);
      expect(miss).toMatchObject({
        file: other,
        matched: false,
        matches: [],
        unusable: {},
        vpdqFrames: 6,
        checked: true,
      });
      expect(miss.hashes).toEqual({
        md5: digest('md5', other),
        sha256: digest('sha256', other),
        vpdq: formatVpdqJson((await hashVideo(other)).frames),
      });
      expect(hit.matches).toMatchObject([
        { list: 'files', entryId: `${clip}:md5`, algorithm: 'md5', distance: 0 },
        { list: 'files', entryId: `${clip}:sha256`, algorithm: 'sha256', distance: 0 },
      ]);
    });

    it('matches images and videos in one batch, in input order, exit 1 for any match', async () => {
      const { status, lines } = await cli('match', photo, other, clip, '--snapshot', exact);
      expect(status).toBe(1);
      expect(lines.map((l) => l.split('  list=')[0])).toEqual([
        `no match  ${photo}`,
        `no match  ${other}`,
        `MATCH     ${clip}`,
        `MATCH     ${clip}`,
      ]);
    });

    it('says UNCHECKED (exit 2) for a video against lists of image hashes alone', async () => {
      expect(await cli('match', other, '--snapshot', imagesOnly)).toMatchObject({
        status: 2,
        lines: [`UNCHECKED ${other}  (lists not used: no list holds a hash a video has (vpdq, md5, sha256))`],
      });
    });

    it('refuses bad vPDQ thresholds as usage errors before anything is loaded', async () => {
      for (const args of [
        ['--query-match-percent', '101'],
        ['--listed-match-percent', 'most'],
        ['--threshold', 'vpdq=257'],
        ['--downsample', '2'],
      ]) {
        const refused = await cli('match', clip, '--snapshot', join(dir, 'absent.snap'), ...args);
        expect(refused.status).toBe(2);
        expect(refused.out).toBe('');
        expect(refused.err).toMatch(/Expected (number|integer|0 or integer) between \d+ and (100|256|4096)/);
      }
    });

    it('writes each video decision to --log DIR as one record: the exact matches too, and the code of a video not checked', async () => {
      const log = join(dir, 'decisions');
      const broken = hostile('truncated-in-moov.mp4');
      const { status } = await cli('match', clip, other, broken, '--snapshot', exact, '--log', log);
      expect(status).toBe(1);
      const records = readdirSync(log)
        .flatMap((name) => readFileSync(join(log, name), 'utf8').trim().split('\n'))
        .map((line) => JSON.parse(line));
      // Written as each file is decided, so in no set order: put in input order.
      const order = [clip, other, broken];
      records.sort((a, b) => order.indexOf(a.contentId) - order.indexOf(b.contentId));
      expect(records).toMatchObject([
        {
          kind: 'decision',
          contentId: clip,
          matched: true,
          matches: [
            { list: 'files', algorithm: 'md5' },
            { list: 'files', algorithm: 'sha256' },
          ],
          query: { algorithm: 'vpdq', frames: 6 },
          hashes: { md5: digest('md5', clip), sha256: digest('sha256', clip) },
          checked: true,
        },
        { kind: 'decision', contentId: other, matched: false, matches: [], checked: true },
        { kind: 'not-checked', contentId: broken, error: { code: 'ERR_IMAGE_DECODE' } },
      ]);
      expect((await cli('log', 'verify', log)).status).toBe(0);
    });

    it('escapes a video file name that would forge a line, in match lines, --json and hash output alike', async () => {
      const evil = join(dir, 'evil\x1b[2K\rno match\n.mp4');
      copyFileSync(clip, evil);
      for (const args of [
        ['match', evil, '--snapshot', exact],
        ['match', '--json', evil, '--snapshot', exact],
        ['hash', evil],
      ]) {
        const { out, lines } = await cli(...args);
        for (const line of out.split('\n')) expect(line).not.toMatch(ACTIVE_CHARACTER);
        expect(lines.length).toBe(args[0] === 'match' && args[1] !== '--json' ? 2 : 1);
      }
      const { lines } = await cli('match', evil, '--snapshot', exact);
      expect(lines[0]).toContain('evil\\x1b[2K\\rno match\\n.mp4  list=files');
    });

    it('prints an ERROR line with the code for missing FFmpeg and for a hostile video, and exits 2', async () => {
      const missing = await cli('match', '--ffmpeg', join(dir, 'no-ffmpeg', 'ffmpeg'), clip, '--snapshot', exact);
      expect(missing.status).toBe(2);
      expect(missing.lines[0]?.startsWith(`ERROR     ${clip}  ERR_MISSING_DEPENDENCY: `)).toBe(true);
      expect(missing.lines[0]).toContain('apt-get install ffmpeg');
      const broken = await cli('match', '--json', hostile('truncated-in-moov.mp4'), '--snapshot', exact);
      expect(broken.status).toBe(2);
      expect(JSON.parse(broken.lines[0] as string)).toEqual({
        file: hostile('truncated-in-moov.mp4'),
        error: { code: 'ERR_IMAGE_DECODE', message: expect.any(String) },
      });
    });
  },
);
