/**
 * `hashwarden hash`: the contract other tools read. One JSON object per line per file, in input
 * order: `{"file", <algorithm>: hex, …}` for the requested algorithms — with PDQ its quality
 * right after it (`pdqQuality`), and with any perceptual hash `unusable`, what a matcher would
 * refuse to match with and why — or `{"file", "error": {"code", "message"}}`; exit 2 at the end if any file failed. Field
 * names never change. An animated file adds `frameCount` and `frames` after them (fields are
 * only ever added, at the end, so readers of the old lines read the new ones). `--as-list` prints
 * rows of a hash list instead, for `hashwarden import`.
 */
import { availableParallelism } from 'node:os';
import { ALGORITHM_NAMES, formatList, type AlgorithmName, type ListEntry } from '../index.js';
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
    algorithms: readonly AlgorithmName[],
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

export const hashCommand: Command = {
  name: 'hash',
  usage:
    '[--algorithms blockhash,pdq,md5,sha1,sha256] [--resolution fast|full] [--dihedral] [--max-frames N] [--as-list --list NAME] FILE...',
  summary: 'Print the hashes of image files, one JSON object per line.',
  help: `
Options:
  --algorithms LIST   comma-separated, default all: ${ALGORITHM_NAMES.join(',')}
  --resolution MODE   fast (default: JPEGs decoded at reduced size, within 2 bits of full
                      on the reference sets, unless pdq is requested) or full (every pixel,
                      as the reference tools)
  --dihedral          also print the hashes of the image turned and mirrored
  --max-frames N      hash at most the first N frames of an animated GIF or WebP
                      (default ${DEFAULT_MAX_FRAMES})
  --as-list           print a hash list instead, that \`hashwarden import\` reads:
                      {"id":"FILE:ALGORITHM","list":NAME,"algorithm":A,"hash":HEX} per
                      usable hash (an animation's first frame), e.g.
                      hashwarden hash --as-list --list mine *.jpg > mine.ndjson
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
A file that cannot be hashed prints
{"file":F,"error":{"code":C,"message":M}} and the others go on.
Exit status: 0 when every file was hashed, 2 when any failed.`,
  options: {
    algorithms: { type: 'string' },
    resolution: { type: 'string' },
    dihedral: { type: 'boolean' },
    'max-frames': { type: 'string' },
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
    const options = usage(() =>
      resolveImageOptions({
        algorithms: commaList(values.algorithms as string | undefined) as AlgorithmName[] | undefined,
        resolution: values.resolution as 'fast' | 'full' | undefined,
        dihedral: values.dihedral === true,
        ...(values['max-frames'] === undefined ? {} : { maxFrames: integerArgument(values['max-frames'] as string) }),
      }),
    );
    let failed = 0;
    // Loaded here, not with the CLI: sharp is slow to load, and only this command and match need it.
    const { hashImage } = await import('../image/index.js');
    await mapSettled(
      files,
      availableParallelism(),
      (file) => hashImage(file, options),
      (result, i) => {
        if (writer !== undefined) {
          if (result.ok) writer.add(files[i] as string, result.value.hashes, result.value.unusable, options.algorithms);
          else {
            failed++;
            writer.fail(files[i] as string, result.error);
          }
          return;
        }
        const line: Record<string, unknown> = { file: files[i] };
        if (result.ok) {
          Object.assign(line, perceptualFields(result.value, options.algorithms, options));
          const { frames } = result.value;
          if (frames !== undefined) {
            line.frameCount = result.value.image.frameCount;
            line.frames = frames.map((frame) => ({
              frame: frame.frame,
              ...perceptualFields(frame, options.perceptual, options),
            }));
          }
        } else {
          failed++;
          line.error = errorJson(result.error);
        }
        io.out(jsonLine(line));
      },
    );
    writer?.finish(failed);
    return failed > 0 ? EXIT.error : EXIT.ok;
  },
};
