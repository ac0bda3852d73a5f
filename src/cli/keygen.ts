/**
 * `hashwarden keygen`: make an Ed25519 key pair for signing snapshots (`export --sign`), and the
 * key-file reading that `export --sign` and `match --trust` share.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { HashwardenError, snapshotKeyId } from '../index.js';
import { EXIT, required, UsageError, type Command } from './command.js';
import { textLine } from './escape.js';

/** The contents of a key file (PEM), or ERR_INPUT_READ naming the flag that gave it. */
export async function readKeyFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new HashwardenError(
      'ERR_INPUT_READ',
      `Cannot read the key file ${path} (${flag}): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Writes a new file, never replacing one: a signing key overwritten by mistake cannot be had back. */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  try {
    await writeFile(path, text, { mode, flag: 'wx' });
  } catch (error) {
    throw new HashwardenError('ERR_OUTPUT_WRITE', `Cannot write ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export const keygenCommand: Command = {
  name: 'keygen',
  usage: '--out KEYFILE',
  summary: 'Make an Ed25519 key pair for signing snapshots.',
  help: `
Options:
  --out KEYFILE         where to write the private key (PEM, mode 600); the public key goes
                        to KEYFILE.pub (PEM). Neither file may exist already
  -h, --help            this text

Prints the key id (the first 8 bytes of the SHA-256 of the public key, in hex), which every
snapshot signed with the key carries. Keep KEYFILE where only the publisher can read it (a
secrets manager, an offline machine); give KEYFILE.pub to every instance that loads the
snapshots (\`hashwarden match --trust\`, the matcher's trustedKeys). See docs/security.md,
"Signed snapshots", for rotation.
Exit status: 0 on success, 2 on error.`,
  options: {
    out: { type: 'string' },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}`);
    const out = required(values.out, '--out');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    await writeNew(out, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    try {
      await writeNew(`${out}.pub`, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
    } catch (error) {
      // No private key without its public half: the pair is made again, whole.
      await unlink(out).catch(() => undefined);
      throw error;
    }
    io.out(
      textLine(`wrote ${out} (private key, mode 600) and ${out}.pub (public key); key id ${snapshotKeyId(publicKey)}`),
    );
    return EXIT.ok;
  },
};
