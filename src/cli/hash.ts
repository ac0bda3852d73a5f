/**
 * `hashwarden hash`: the contract other tools read. One JSON object per line per file, in input
 * order: `{"file", <algorithm>: hex, …}` for the requested algorithms — with PDQ its quality
 * right after it (`pdqQuality`), and with any perceptual hash `unusable`, what a matcher would
 * refuse to match with and why — or `{"file", "error": {"code", "message"}}`; exit 2 at the end if any file failed. Field
 * names never change.
 */
import { availableParallelism } from 'node:os';
import { ALGORITHM_NAMES, type AlgorithmName } from '../index.js';
import { hashImage, resolveImageOptions } from '../image/index.js';
import { mapSettled } from '../concurrency.js';
import { commaList, errorJson, EXIT, UsageError, type Command } from './command.js';

export const hashCommand: Command = {
  name: 'hash',
  usage: '[--algorithms blockhash,pdq,md5,sha1,sha256] [--resolution fast|full] [--dihedral] FILE...',
  summary: 'Print the hashes of image files, one JSON object per line.',
  help: `
Options:
  --algorithms LIST   comma-separated, default all: ${ALGORITHM_NAMES.join(',')}
  --resolution MODE   fast (default: JPEGs decoded at reduced size, within 2 bits of full
                      on the reference sets, unless pdq is requested) or full (every pixel,
                      as the reference tools)
  --dihedral          also print the hashes of the image turned and mirrored
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
A file that cannot be hashed prints
{"file":F,"error":{"code":C,"message":M}} and the others go on.
Exit status: 0 when every file was hashed, 2 when any failed.`,
  options: {
    algorithms: { type: 'string' },
    resolution: { type: 'string' },
    dihedral: { type: 'boolean' },
  },
  async run(values, files, io) {
    if (files.length === 0) throw new UsageError('Missing FILE');
    let options;
    try {
      options = resolveImageOptions({
        algorithms: commaList(values.algorithms as string | undefined) as AlgorithmName[] | undefined,
        resolution: values.resolution as 'fast' | 'full' | undefined,
        dihedral: values.dihedral === true,
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    let failed = 0;
    await mapSettled(files, availableParallelism(), (file) => hashImage(file, options), (result, i) => {
      const line: Record<string, unknown> = { file: files[i] };
      if (result.ok) {
        for (const name of options.algorithms) {
          line[name] = result.value.hashes[name];
          if (name === 'pdq') line.pdqQuality = result.value.quality.pdq;
          const variants = result.value.dihedral?.[name];
          if (variants !== undefined) line[`${name}Dihedral`] = variants;
        }
        if (options.perceptual.length > 0) line.unusable = result.value.unusable;
      } else {
        failed++;
        line.error = errorJson(result.error);
      }
      io.out(`${JSON.stringify(line)}\n`);
    });
    return failed > 0 ? EXIT.error : EXIT.ok;
  },
};
