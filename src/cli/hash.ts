/**
 * `hashwarden hash`: the contract other tools read. One JSON object per line per file, in input
 * order: `{"file", <algorithm>: hex, …}` for the requested algorithms — with PDQ its quality
 * right after it (`pdqQuality`), and with any perceptual hash `unusable`, what a matcher would
 * refuse to match with and why — or `{"file", "error": {"code", "message"}}`; exit 2 at the end
 * if any file failed. Field names never change. An animated file adds `frameCount` and `frames`
 * after them (fields are only ever added, at the end, so readers of the old lines read the new
 * ones). A video (told by its first bytes) has `md5`, `sha256` and `vpdq` (python-threatexchange's
 * signal text) with its frame counts right after it. `--as-list` prints rows of a hash list
 * instead, for `hashwarden import`.
 */
import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join, parse as parsePath } from 'node:path';
import { ALGORITHM_NAMES, formatList, HashwardenError, type AlgorithmName, type ListEntry } from '../index.js';
import type { FrameHashes } from '../image/index.js';
import { DEFAULT_MAX_FRAMES, resolveImageOptions, type ResolvedImageOptions } from '../image/options.js';
import { mapSettled } from '../concurrency.js';
import {
  commaList,
  errorJson,
  EXIT,
  integerArgument,
  required,
  usage,
  UsageError,
  type CliIo,
  type Command,
} from './command.js';
import { escapeJson, jsonLine, textLine } from './escape.js';
import { NEW_FILE_MODE, writeAll, writeOutputFile } from '../output-file.js';
import type { VideoHashResult } from '../video/index.js';
import {
  isVideoFile,
  loadVideo,
  resolveVideoArguments,
  usableFrames,
  VIDEO_HASHES,
  VIDEO_OPTIONS,
  videoOptionsHelp,
  vpdqUnusable,
  type VideoModule,
} from './video.js';

/**
 * `--as-list`: the usable hashes of each file hashed as `hashwarden import` NDJSON rows, one per
 * hash, id `FILE:ALGORITHM` (an entry is keyed by list and id, so the file name alone would keep
 * only its last hash). Unusable hashes are left out, being what a matcher refuses anyway; they and
 * the files that failed are counted on standard error.
 */
class ListWriter {
  unusable = 0;

  constructor(
    private readonly list: string,
    private readonly io: CliIo,
  ) {}

  add(
    file: string,
    hashes: Readonly<Record<string, string | undefined>>,
    unusable: Readonly<Record<string, string | undefined>>,
    algorithms: readonly (AlgorithmName | 'vpdq')[],
  ): void {
    const rows: ListEntry[] = [];
    for (const algorithm of algorithms) {
      const hash = hashes[algorithm];
      if (hash === undefined) continue;
      if (unusable[algorithm] !== undefined) {
        this.unusable++;
        continue;
      }
      rows.push({ id: `${file}:${algorithm}`, list: this.list, algorithm, hash });
    }
    this.io.out(escapeJson(formatList(rows, 'ndjson')));
  }

  fail(file: string, error: unknown): void {
    const { code, message } = errorJson(error);
    this.io.err(textLine(`hashwarden hash: ${file}: ${code}: ${message}`));
  }

  finish(failed: number): void {
    if (this.unusable > 0)
      this.io.err(`${this.unusable} unusable hashes left out (a matcher would not match with them)\n`);
    if (failed > 0) this.io.err(`${failed} files could not be hashed\n`);
  }
}

/**
 * The fields of one image or frame, in the contract's order: each of `algorithms` (with PDQ its
 * quality, with --dihedral its 8 variants), then `unusable` when any perceptual hash was asked for.
 */
function perceptualFields(
  hashed: Pick<FrameHashes, 'hashes' | 'quality' | 'unusable' | 'dihedral'>,
  algorithms: readonly AlgorithmName[],
  options: ResolvedImageOptions,
): Record<string, unknown> {
  const line: Record<string, unknown> = {};
  for (const name of algorithms) {
    line[name] = hashed.hashes[name];
    if (name === 'pdq') line.pdqQuality = hashed.quality.pdq;
    const variants = hashed.dihedral?.[name];
    if (variants !== undefined) line[`${name}Dihedral`] = variants;
  }
  if (options.perceptual.length > 0) line.unusable = hashed.unusable;
  return line;
}

/** Files opened at once to read their first bytes: a few, so a long batch never runs out of descriptors. */
const SNIFFS_AT_ONCE = 16;

/** `--algorithms` split: the image algorithms asked for (undefined: every one) and the video hashes. */
function requestedAlgorithms(value: string | undefined): {
  readonly image: AlgorithmName[] | undefined;
  readonly video: (typeof VIDEO_HASHES)[number][];
} {
  const names = commaList(value);
  if (names === undefined) return { image: undefined, video: [...VIDEO_HASHES] };
  const image = names.filter((name) => name.toLowerCase() !== 'vpdq');
  // An image algorithm name the image options refuse is still checked there, with its message.
  const video = [
    ...new Set(
      names
        .map((name) => name.toLowerCase())
        .filter((name): name is (typeof VIDEO_HASHES)[number] => (VIDEO_HASHES as readonly string[]).includes(name)),
    ),
  ];
  return { image: image as AlgorithmName[], video };
}

/** A file whose kind has none of the hashes asked for: an error line, as a file that cannot be hashed. */
function nothingAsked(file: string, kind: 'an image' | 'a video', has: readonly string[]): HashwardenError {
  return new HashwardenError(
    'ERR_UNSUPPORTED_FORMAT',
    `${file} is ${kind}: --algorithms asks for none of the hashes ${kind} has (${has.join(', ')})`,
  );
}

/** What one file gave: an image's hashes or a video's. */
type Hashed =
  | { readonly kind: 'image'; readonly value: Awaited<ReturnType<typeof import('../image/index.js').hashImage>> }
  | { readonly kind: 'video'; readonly value: VideoHashResult };

/**
 * A video's fields in the contract's order: each of md5, sha256 and vpdq asked for, vPDQ followed
 * by its frame counts (`vpdqFrames`, `vpdqUsableFrames`: quality 50 or more), then `unusable`
 * when vPDQ was asked for (`{"vpdq": why}` when a matcher would not match with it).
 */
function videoFields(
  video: VideoModule,
  result: VideoHashResult,
  requested: readonly (typeof VIDEO_HASHES)[number][],
): { fields: Record<string, unknown>; hashes: Record<string, string>; unusable: Record<string, string> } {
  const fields: Record<string, unknown> = {};
  const hashes: Record<string, string> = {};
  const unusable: Record<string, string> = {};
  for (const name of requested) {
    if (name === 'vpdq') {
      // The line's vpdq is Meta's whole frames; a list entry (--as-list) holds them and the same
      // frames inside their bars, so that a rendition without the bars matches it too.
      const listed = video.listedVpdqFrames(result);
      fields.vpdq = video.formatVpdqJson(result.frames);
      hashes.vpdq = video.formatVpdqJson(listed);
      fields.vpdqFrames = result.frames.length;
      fields.vpdqUsableFrames = usableFrames(video, result.frames);
      const why = vpdqUnusable(video, result.frames, listed.length);
      if (why !== undefined) unusable.vpdq = why;
    } else fields[name] = hashes[name] = result[name];
  }
  if (requested.includes('vpdq')) {
    fields.unusable = unusable;
    if (result.trimmed !== undefined) fields.vpdqTrimmed = video.formatVpdqJson(result.trimmed);
  }
  return { fields, hashes, unusable };
}

/**
 * `--vpdq-lines DIR`: where a video's Meta lines go, `DIR/<name without extension>.txt` as Meta's
 * `vpdq-hash-video` names them. Two videos of one name would overwrite each other's: refused.
 */
function linesPaths(dir: string | undefined, videos: readonly string[]): Map<string, string> | undefined {
  if (dir === undefined) return undefined;
  const paths = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const file of videos) {
    const path = join(dir, `${parsePath(file).name}.txt`);
    const other = taken.get(path);
    if (other !== undefined && other !== file)
      throw new UsageError(`--vpdq-lines would write ${path} for both ${other} and ${file}: hash them apart`);
    taken.set(path, file);
    paths.set(file, path);
  }
  return paths;
}

export const hashCommand: Command = {
  name: 'hash',
  usage:
    '[--algorithms blockhash,pdq,md5,sha1,sha256,vpdq] [--resolution fast|full] [--dihedral] [--max-frames N] [--seconds-per-hash N] [--downsample N] [--ffmpeg PATH] [--ffprobe PATH] [--max-duration N] [--video-timeout N] [--vpdq-lines DIR] [--as-list --list NAME] FILE...',
  summary: 'Print the hashes of image and video files, one JSON object per line.',
  help: `
Options:
  --algorithms LIST   comma-separated, default all: ${ALGORITHM_NAMES.join(',')},vpdq
                      (an image has the first five, a video md5, sha256 and vpdq)
  --resolution MODE   fast (default: JPEGs decoded at reduced size, within 2 bits of full
                      on the reference sets, unless pdq is requested) or full (every pixel,
                      as the reference tools)
  --dihedral          also print the hashes of an image turned and mirrored
  --max-frames N      hash at most the first N frames of an animated GIF or WebP
                      (default ${DEFAULT_MAX_FRAMES})
${videoOptionsHelp(22)}
  --vpdq-lines DIR    also write each video's frames as Meta's vpdq-hash-video lines
                      (frame,quality,hex,seconds) to DIR/NAME.txt, NAME the file's name
                      without its extension, as Meta names its sample hashes
  --as-list           print a hash list instead, that \`hashwarden import\` reads:
                      {"id":"FILE:ALGORITHM","list":NAME,"algorithm":A,"hash":HASH} per
                      usable hash (an animation's first frame; a video's vPDQ as
                      python-threatexchange's signal text), e.g.
                      hashwarden hash --as-list --list mine *.jpg *.mp4 > mine.ndjson
                      hashwarden import mine.ndjson --db store.db --list mine
                      Unusable hashes and files that fail are left out and counted on
                      standard error
  --list NAME         the list named in each row of --as-list
  -h, --help          this text

Output (stable contract): {"file":F,"blockhash":HEX64,"pdq":HEX64,"pdqQuality":Q,"md5":HEX32,
"sha1":HEX40,"sha256":HEX64,"unusable":{}} with only the requested algorithms; pdqQuality (0-100)
comes with pdq, unusable with any perceptual hash. unusable names each hash a matcher will not
match with, and why: {"pdq":"PDQ quality 12 is below 50"} for a featureless image,
{"blockhash":"blockhash of a flat image (...)"} for one of a single colour (or of a smooth
shading, a plain layout, an image under 16 px a side). With --dihedral each
perceptual hash is followed by its 8 rotations and flips, "blockhashDihedral":[8 HEX64] and
"pdqDihedral":[8 HEX64], in the order original, rot90 (counter-clockwise), rot180, rot270,
flipX (upside down), flipY (left-right), flip main diagonal, flip anti-diagonal.
The top-level hashes of an animated GIF or WebP are those of its first frame; after every other
field come "frameCount":N, the frames in the file, and "frames":[{"frame":0,"blockhash":…,
"pdq":…,"pdqQuality":…,"unusable":{}},…], the perceptual hashes of each frame hashed, laid out
as the top level (with --dihedral, their rotations and flips too). Fewer frames than frameCount:
the rest were not hashed (--max-frames, or the pixel limit).
A video (MP4/MOV, Matroska/WebM, AVI, MPEG-TS, FLV, ASF/WMV, told by its first bytes, never its
name; hashed with FFmpeg) prints {"file":F,"md5":HEX32,"sha256":HEX64,"vpdq":SIGNAL,
"vpdqFrames":N,"vpdqUsableFrames":U,"unusable":{}}: SIGNAL is python-threatexchange's vPDQ
signal text, a JSON array of "hex,quality,seconds" strings (one a hashed frame), N the frames
hashed and U those of PDQ quality 50 or more, the only ones a matcher uses; no usable frame:
{"vpdq":"vPDQ: all 4 frames have PDQ quality below 50"} in unusable.
A file that cannot be hashed prints
{"file":F,"error":{"code":C,"message":M}} and the others go on (no FFmpeg for a video:
ERR_MISSING_DEPENDENCY, saying how to install it).
Exit status: 0 when every file was hashed, 2 when any failed.`,
  options: {
    algorithms: { type: 'string' },
    resolution: { type: 'string' },
    dihedral: { type: 'boolean' },
    'max-frames': { type: 'string' },
    ...VIDEO_OPTIONS,
    'vpdq-lines': { type: 'string' },
    'as-list': { type: 'boolean' },
    list: { type: 'string' },
  },
  async run(values, files, io) {
    if (files.length === 0) throw new UsageError('Missing FILE');
    const asList = values['as-list'] === true;
    if (!asList && values.list !== undefined) throw new UsageError('--list is for --as-list');
    if (asList && values.dihedral === true)
      throw new UsageError('--dihedral is not for --as-list: a matcher matches turned and mirrored uploads itself');
    const writer = asList ? new ListWriter(required(values.list, '--list NAME (with --as-list)'), io) : undefined;
    const requested = requestedAlgorithms(values.algorithms as string | undefined);
    const imageAsked = requested.image === undefined || requested.image.length > 0;
    const options = usage(() =>
      resolveImageOptions({
        ...(imageAsked ? { algorithms: requested.image } : {}),
        resolution: values.resolution as 'fast' | 'full' | undefined,
        dihedral: values.dihedral === true,
        ...(values['max-frames'] === undefined ? {} : { maxFrames: integerArgument(values['max-frames'] as string) }),
      }),
    );
    const video = await loadVideo();
    const videoOptions = resolveVideoArguments(video, values);
    // Every file sniffed first (its first bytes): --vpdq-lines must know the videos' names before any is written.
    const isVideo = (await mapSettled(files, SNIFFS_AT_ONCE, (file) => isVideoFile(video, file))).map(
      (sniffed) => sniffed.ok && sniffed.value,
    );
    const vpdqLines = linesPaths(
      values['vpdq-lines'] as string | undefined,
      files.filter((_, i) => isVideo[i]),
    );
    if (vpdqLines !== undefined) {
      const out = values['vpdq-lines'] as string;
      await mkdir(out, { recursive: true }).catch((error: unknown) => {
        throw new HashwardenError(
          'ERR_OUTPUT_WRITE',
          `Cannot create ${out} for --vpdq-lines: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      });
    }
    let failed = 0;
    // Loaded here, not with the CLI: sharp is slow to load, and only this command and match need it.
    const { hashImage } = await import('../image/index.js');
    const hashFile = async (file: string, i: number): Promise<Hashed> => {
      if (isVideo[i] !== true) {
        if (!imageAsked) throw nothingAsked(file, 'an image', ALGORITHM_NAMES);
        return { kind: 'image', value: await hashImage(file, options) };
      }
      if (requested.video.length === 0) throw nothingAsked(file, 'a video', VIDEO_HASHES);
      const value = await video.hashVideo(file, videoOptions);
      const linesPath = vpdqLines?.get(file);
      if (linesPath !== undefined) {
        const bytes = new TextEncoder().encode(video.formatVpdqLines(value.frames));
        await writeOutputFile(
          { path: linesPath, mode: NEW_FILE_MODE, code: 'ERR_OUTPUT_WRITE', what: 'the vPDQ lines' },
          (handle) => writeAll(handle, bytes, 0),
        );
      }
      return { kind: 'video', value };
    };
    await mapSettled(files, availableParallelism(), hashFile, (result, i) => {
      const file = files[i] as string;
      if (!result.ok) {
        failed++;
        if (writer !== undefined) writer.fail(file, result.error);
        else io.out(jsonLine({ file, error: errorJson(result.error) }));
        return;
      }
      if (result.value.kind === 'video') {
        const { fields, hashes, unusable } = videoFields(video, result.value.value, requested.video);
        if (writer !== undefined) writer.add(file, hashes, unusable, requested.video);
        else io.out(jsonLine({ file, ...fields }));
        return;
      }
      const hashed = result.value.value;
      if (writer !== undefined) {
        writer.add(file, hashed.hashes, hashed.unusable, options.algorithms);
        return;
      }
      const line: Record<string, unknown> = { file, ...perceptualFields(hashed, options.algorithms, options) };
      const { frames } = hashed;
      if (frames !== undefined) {
        line.frameCount = hashed.image.frameCount;
        line.frames = frames.map((frame) => ({
          frame: frame.frame,
          ...perceptualFields(frame, options.perceptual, options),
        }));
      }
      io.out(jsonLine(line));
    });
    writer?.finish(failed);
    return failed > 0 ? EXIT.error : EXIT.ok;
  },
};
