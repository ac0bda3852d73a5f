/**
 * `hashwarden hash`: the contract other tools read. One JSON object per line per file, in input
 * order: `{"file", <algorithm>: hex, …}` for the requested algorithms, or `{"file", "error":
 * {"code", "message"}}`; exit 2 at the end if any file failed. Field names never change.
 */
import { availableParallelism } from 'node:os';
import { ALGORITHM_NAMES, type AlgorithmName } from '../index.js';
import { hashImage, resolveImageOptions } from '../image/index.js';
import { mapSettled } from '../concurrency.js';
import { commaList, errorJson, EXIT, UsageError, type Command } from './command.js';

export const hashCommand: Command = {
  name: 'hash',
  usage: '[--algorithms blockhash,md5,sha1,sha256] [--resolution fast|full] FILE...',
  summary: 'Print the hashes of image files, one JSON object per line.',
  help: `
Options:
  --algorithms LIST   comma-separated, default all: ${ALGORITHM_NAMES.join(',')}
  --resolution MODE   fast (default: JPEGs decoded at reduced size, within 2 bits of full
                      on the reference sets) or full (every pixel, as the reference tools)
  -h, --help          this text

Output (stable contract): {"file":F,"blockhash":HEX64,"md5":HEX32,"sha1":HEX40,"sha256":HEX64}
with only the requested algorithms. A file that cannot be hashed prints
{"file":F,"error":{"code":C,"message":M}} and the others go on.
Exit status: 0 when every file was hashed, 2 when any failed.`,
  options: {
    algorithms: { type: 'string' },
    resolution: { type: 'string' },
  },
  async run(values, files, io) {
    if (files.length === 0) throw new UsageError('Missing FILE');
    let options;
    try {
      options = resolveImageOptions({
        algorithms: commaList(values.algorithms as string | undefined) as AlgorithmName[] | undefined,
        resolution: values.resolution as 'fast' | 'full' | undefined,
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    let failed = 0;
    await mapSettled(files, availableParallelism(), (file) => hashImage(file, options), (result, i) => {
      const line: Record<string, unknown> = { file: files[i] };
      if (result.ok) {
        for (const name of options.algorithms) line[name] = result.value.hashes[name];
      } else {
        failed++;
        line.error = errorJson(result.error);
      }
      io.out(`${JSON.stringify(line)}\n`);
    });
    return failed > 0 ? EXIT.error : EXIT.ok;
  },
};
