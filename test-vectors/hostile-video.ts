/**
 * Hostile video corpus generator: writes small files an uploader could send to `hashVideo` on
 * purpose or by accident (empty, truncated at several points, corrupt, audio only, absurd declared
 * sizes, frame counts and durations, an image named .mp4 and a video named .jpg, playlists naming
 * other files and a URL, a stream changing size, a variable frame rate, rotation metadata) into
 * `hostile-video/`, with `hostile-video/manifest.json` saying what each is and what hashVideo must
 * do with it at its defaults: hash it (how many frames), or refuse it with a `HashwardenError`
 * code, and why.
 *
 * Everything comes from FFmpeg's own test sources (lavfi testsrc2, sine) and the byte surgery
 * written out below. The files are committed, not made at test time: libx264 writes its version
 * into every stream and another FFmpeg build encodes other bytes, so the manifest's digests and
 * the cut points would drift from machine to machine; committed, every test run judges the same
 * bytes. This script is their provenance: with the same FFmpeg build two runs write byte-identical
 * files; with another, regenerate and review the manifest diff.
 *
 * Run: `npm run vectors:hostile-video`. Checked by `src/video/hostile-corpus.test.ts`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, 'hostile-video');

/** What must happen to a file at hashVideo's defaults: hashed, these frame numbers, or refused. */
export type VideoExpectation =
  | { readonly hash: true; readonly frames: readonly number[]; readonly width: number; readonly height: number }
  | { readonly error: string };

/** One file of the corpus, as the manifest lists it. */
export interface HostileVideoEntry {
  readonly file: string;
  /** What the file is and how it was made. */
  readonly what: string;
  readonly expect: VideoExpectation;
  /** Why this outcome is the one a trust-and-safety service wants. */
  readonly reason: string;
  /** Playlists only: what the file names outside itself, which nothing may open. */
  readonly references?: readonly string[];
  readonly bytes: number;
  readonly sha256: string;
}

type Draft = Omit<HostileVideoEntry, 'bytes' | 'sha256'> & { readonly data: Uint8Array };

/** A URL no test serves from: playlists name it, and the test listens there to see nothing connect. */
export const PLAYLIST_URL_PORT = 47_291;

const DECODE = { error: 'ERR_IMAGE_DECODE' } as const;
const UNSUPPORTED = { error: 'ERR_UNSUPPORTED_FORMAT' } as const;
const TOO_LARGE = { error: 'ERR_IMAGE_TOO_LARGE' } as const;

/** Flags that keep FFmpeg's own bytes (its version, the creation time) out of the files. */
const BITEXACT = ['-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1'];

/** H.264 of 96 × 64 frames on one thread (the encode does not depend on the machine's cores). */
const H264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-threads', '1', '-pix_fmt', 'yuv420p'];

let work: string;

/** FFmpeg's output for `args` (inputs, encode options), written to `name` in a scratch folder: its bytes. */
function ffmpeg(name: string, args: readonly string[]): Buffer {
  const path = join(work, name);
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args, ...BITEXACT, path], { stdio: 'pipe' });
  return readFileSync(path);
}

/** lavfi's testsrc2, `seconds` long at `rate`, `size` (`WxH`). */
const pattern = (size: string, rate: number, seconds: number): string[] => [
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`,
];

/** Offset of the first `tag` (4 ASCII bytes) in `data` from `from`; throws when absent (the encode changed). */
function find(data: Uint8Array, tag: string, from = 0): number {
  const at = Buffer.from(data).indexOf(tag, from, 'latin1');
  if (at < 0) throw new Error(`no ${tag} in the encoded file`);
  return at;
}

/** `data` with `value` written big- or little-endian, 32 bits, at `offset`. */
function patch32(data: Uint8Array, offset: number, value: number, little = false): Buffer {
  const copy = Buffer.from(data);
  if (little) copy.writeUInt32LE(value >>> 0, offset);
  else copy.writeUInt32BE(value >>> 0, offset);
  return copy;
}

function drafts(): Draft[] {
  // The clip most files start from: 2 s of 96 × 64 at 10 fps, its index (moov) first.
  const base = ffmpeg('base.mp4', [...pattern('96x64', 10, 2), ...H264, '-movflags', '+faststart']);
  const mdat = find(base, 'mdat') - 4;
  const baseFrames = { hash: true, frames: [0, 10], width: 96, height: 64 } as const;
  const ts = ffmpeg('base.ts', [...pattern('96x64', 10, 2), ...H264]);
  const list: Draft[] = [
    {
      file: 'base.mp4',
      what: 'the clip the damaged copies come from: 2 s of testsrc2, 96 × 64 at 10 fps, H.264, index first',
      expect: baseFrames,
      reason: 'A well-formed video: frames 0 and 10 hashed (one a second), so every refusal below is the damage.',
      data: base,
    },
    {
      file: 'zero-length.mp4',
      what: 'zero bytes named .mp4',
      expect: UNSUPPORTED,
      reason: 'Nothing to decode: refused before FFmpeg runs; the caller treats it as not checked.',
      data: new Uint8Array(0),
    },
    {
      file: 'truncated-in-ftyp.mp4',
      what: 'base.mp4 cut after 12 bytes, inside its ftyp box',
      expect: DECODE,
      reason: 'The bytes say MP4 but hold no index: ffprobe cannot read the header, and the upload is not checked.',
      data: base.subarray(0, 12),
    },
    {
      file: 'truncated-in-moov.mp4',
      what: 'base.mp4 cut halfway through its index (moov), before any frame data',
      expect: DECODE,
      reason:
        'An MP4 whose index is cut cannot be read: FFmpeg says so, and the upload is not checked rather than passed.',
      data: base.subarray(0, Math.floor(mdat / 2)),
    },
    {
      file: 'truncated-in-mdat.mp4',
      what: 'base.mp4 cut halfway through its frame data (mdat): the index promises frames that are missing',
      expect: DECODE,
      reason: 'Half a video must not pass with the hashes of its first half: FFmpeg reports the missing data.',
      data: base.subarray(0, mdat + Math.floor((base.length - mdat) / 2)),
    },
    {
      file: 'truncated-last-byte.mp4',
      what: 'base.mp4 less its last byte',
      expect: DECODE,
      reason: 'The smallest truncation is still one: the last frame is incomplete and FFmpeg says so.',
      data: base.subarray(0, base.length - 1),
    },
    {
      file: 'truncated-mid-packet.m2ts',
      what: 'the clip as MPEG-TS, cut 1000 bytes into its stream (mid-packet)',
      expect: DECODE,
      reason: 'A transport stream cut mid-packet: FFmpeg reports the damaged packet, refused.',
      data: ts.subarray(0, 188 * 40 + 100),
    },
    {
      file: 'corrupt-middle.mp4',
      what: 'base.mp4 with 256 bytes in the middle of its frame data set to 0xA5',
      expect: DECODE,
      reason:
        'Corrupt frame data decodes to garbage: FFmpeg reports the errors and the video is refused, not hashed wrong.',
      data: (() => {
        const copy = Buffer.from(base);
        copy.fill(0xa5, mdat + Math.floor((base.length - mdat) / 2), mdat + Math.floor((base.length - mdat) / 2) + 256);
        return copy;
      })(),
    },
    {
      file: 'audio-only.mp4',
      what: '2 s of a 440 Hz sine, AAC in MP4, no video stream',
      expect: UNSUPPORTED,
      reason: 'No picture to hash: refused naming the streams it has, never reported as a video with no match.',
      data: ffmpeg('audio.mp4', ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'aac']),
    },
  ];
  // MJPEG in AVI: every frame size is written in plain fields (AVI's avih and strf, the JPEG SOF0).
  const avi = ffmpeg('base.avi', [...pattern('96x64', 10, 1), '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '8']);
  const avih = find(avi, 'avih') + 8;
  const strf = find(avi, 'strf', find(avi, 'strh')) + 8;
  /** mjpeg-base.avi declaring `side × side` frames in its AVI headers and every JPEG frame header (SOF0). */
  const declaring = (side: number): Buffer => {
    let copy = patch32(avi, avih + 32, side, true);
    copy = patch32(copy, avih + 36, side, true);
    copy = patch32(copy, strf + 4, side, true);
    copy = patch32(copy, strf + 8, side, true);
    const sof = Buffer.from([0xff, 0xc0]);
    for (let at = copy.indexOf(sof); at >= 0; at = copy.indexOf(sof, at + 2)) {
      copy.writeUInt16BE(side, at + 5);
      copy.writeUInt16BE(side, at + 7);
    }
    return copy;
  };
  // avih dwTotalFrames (offset 16) and the stream's strh dwLength (offset 32): 4 billion frames.
  const strh = find(avi, 'strh') + 8;
  const counted = patch32(patch32(avi, avih + 16, 0xffff_fff0, true), strh + 32, 0xffff_fff0, true);
  const png = ffmpeg('image.png', [...pattern('96x64', 1, 1), '-frames:v', '1']);
  const small = ffmpeg('small.ts', [...pattern('96x64', 10, 1), ...H264]);
  const large = ffmpeg('large.ts', [...pattern('160x120', 10, 1), ...H264]);
  const url = `http://127.0.0.1:${PLAYLIST_URL_PORT}/segment.ts`;
  list.push(
    {
      file: 'mjpeg-base.avi',
      what: 'the clip (1 s) as MJPEG in AVI: the file the next two are crafted from',
      expect: { hash: true, frames: [0], width: 96, height: 64 },
      reason: 'Well formed: hashed, so the refusals of the crafted copies are their headers.',
      data: avi,
    },
    {
      file: 'absurd-dimensions.avi',
      what: 'mjpeg-base.avi with 8192 × 8192 written in its AVI headers and every JPEG frame header (SOF0)',
      expect: TOO_LARGE,
      reason:
        'A 67-megapixel frame (200 MB as RGB) is past the 4096 × 2160 limit: refused from the declared size, before a frame is decoded.',
      data: declaring(8192),
    },
    {
      file: 'overflowing-dimensions.avi',
      what: 'mjpeg-base.avi with 60000 × 60000 written in its headers: a size whose buffers overflow 32 bits',
      expect: DECODE,
      reason:
        'FFmpeg refuses the size itself (invalid picture size) and describes no frame size: not checked, never hashed.',
      data: declaring(60_000),
    },
    {
      file: 'huge-frame-count.avi',
      what: 'mjpeg-base.avi declaring 4,294,967,280 frames (AVI avih total frames and the stream length)',
      expect: TOO_LARGE,
      reason:
        'At 10 fps that declares 13 years: refused by the duration limit before decoding, never trusted as a loop bound.',
      data: counted,
    },
    {
      file: 'long-duration-few-bytes.mkv',
      what: 'two frames of testsrc2 shown 20,000 s apart (Matroska, H.264): 11 hours in a few kB',
      expect: TOO_LARGE,
      reason: 'Declares 11 hours: past the 20-minute limit, refused before FFmpeg is asked to decode it.',
      data: ffmpeg('long.mkv', [
        ...pattern('96x64', 1, 2),
        '-vf',
        'setpts=PTS*20000',
        '-fps_mode',
        'passthrough',
        ...H264,
      ]),
    },
    {
      file: 'image-named.mp4',
      what: 'a PNG still (testsrc2, 96 × 64) named .mp4',
      expect: UNSUPPORTED,
      reason: 'The bytes decide, not the name: a still is not a video hashVideo reads (hashImage does).',
      data: png,
    },
    {
      file: 'video-named.jpg',
      what: 'base.mp4, byte for byte, named .jpg',
      expect: baseFrames,
      reason: 'The bytes decide, not the name: hashed as the video it is, with the same frames as base.mp4.',
      data: base,
    },
    {
      file: 'playlist.m3u8',
      what: 'an HLS playlist naming base.mp4 beside it, /etc/passwd and a URL on 127.0.0.1',
      expect: UNSUPPORTED,
      reason:
        'A playlist makes FFmpeg open what it names (files, URLs): refused by the sniff, nothing it names is opened.',
      references: ['base.mp4', '/etc/passwd', url],
      data: Buffer.from(
        `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nbase.mp4\n#EXTINF:2.0,\n/etc/passwd\n#EXTINF:2.0,\n${url}\n#EXT-X-ENDLIST\n`,
      ),
    },
    {
      file: 'concat.ffconcat',
      what: 'an FFmpeg concat script naming base.mp4, /etc/passwd and the URL, named .ffconcat',
      expect: UNSUPPORTED,
      reason: 'The concat demuxer opens every file it names: refused by the sniff, never given to FFmpeg.',
      references: ['base.mp4', '/etc/passwd', url],
      data: Buffer.from(`ffconcat version 1.0\nfile base.mp4\nfile /etc/passwd\nfile ${url}\n`),
    },
    {
      file: 'playlist-named.mp4',
      what: 'the HLS playlist above named .mp4',
      expect: UNSUPPORTED,
      reason: 'The name does not make it a container: refused by the sniff, nothing it names is opened.',
      references: ['base.mp4', '/etc/passwd', url],
      data: Buffer.from(`#EXTM3U\n#EXTINF:2.0,\nbase.mp4\n#EXTINF:2.0,\n${url}\n#EXT-X-ENDLIST\n`),
    },
    {
      file: 'size-change-midway.m2ts',
      what: '1 s of 96 × 64 then 1 s of 160 × 120 (two MPEG-TS files joined), 10 fps',
      expect: { hash: true, frames: [0, 10], width: 96, height: 64 },
      reason: 'Every frame is scaled to the size the probe saw: whole frames, all hashed, none misaligned on the pipe.',
      data: Buffer.concat([small, large]),
    },
    {
      file: 'variable-frame-rate.mkv',
      what: '30 frames of testsrc2 at irregular times (gaps of 0.1 s, then 0.3 s from frame 15), Matroska, H.264',
      expect: { hash: true, frames: [0, 10, 20], width: 96, height: 64 },
      reason:
        "Frames are picked by decoded count at the rate the stream declares (10 fps: every 10th), the reference's rule, not by timestamps: the same frames whatever the gaps.",
      data: ffmpeg('vfr.mkv', [
        ...pattern('96x64', 10, 3),
        '-vf',
        "setpts='(N+if(gte(N,15),2*(N-15),0))/10/TB'",
        '-fps_mode',
        'passthrough',
        ...H264,
      ]),
    },
    {
      file: 'rotated-90.mp4',
      what: 'base.mp4 with rotation metadata of 90° on its video stream (display matrix), frames stored 96 × 64',
      expect: { hash: true, frames: [0, 10], width: 96, height: 64 },
      reason:
        'Hashed as stored, as the reference hashes: the rotation is a display hint, and a list hashed by the reference matches the stored frames.',
      data: ffmpeg('rotated.mp4', ['-i', join(work, 'base.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90']),
    },
  );
  return list;
}

async function main(): Promise<void> {
  work = mkdtempSync(join(tmpdir(), 'hashwarden-hostile-video-'));
  try {
    const entries = drafts();
    await mkdir(OUT, { recursive: true });
    for (const name of await readdir(OUT)) await rm(join(OUT, name));
    const files: HostileVideoEntry[] = [];
    for (const { data, ...entry } of entries) {
      await writeFile(join(OUT, entry.file), data);
      files.push({ ...entry, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    }
    const version = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
    const manifest = {
      generator: 'test-vectors/hostile-video.ts',
      note: `Written by ${version} (libx264, mjpeg, aac, png encoders) and the byte surgery of the generator. Each expectation is of hashVideo at its defaults (secondsPerHash 1, maxBytes 1 GiB, maxDurationSeconds 1200, maxFrames 108000, maxPixels 4096 × 2160, timeout 600 s).`,
      files,
    };
    await writeFile(join(OUT, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const total = files.reduce((sum, f) => sum + f.bytes, 0);
    console.log(`${files.length} files, ${total} bytes in ${OUT}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
