/**
 * Snapshot signatures (docs/snapshot-format.md, "Signature block"; docs/security.md, "Signed
 * snapshots"): Ed25519 through node:crypto over the header, the section table and a SHA-256 digest
 * of every section. The digests, not the tables' XXH3 checksums, bind the data to the signature:
 * XXH3 is fast and catches damage, but anyone can make two sections with the same XXH3, so a
 * signature over XXH3 checksums alone would let a forger swap a hash plane and keep the signature.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { HashwardenError } from '../errors.js';
import { invalid } from '../validate.js';
import { HEADER_BYTES, ROW_BYTES } from './format.js';

/** The signature scheme number in a signature block: Ed25519 over SHA-256 section digests. @internal */
export const SIGNATURE_SCHEME = 1;
/** Bytes of a key id: enough to tell a fleet's keys apart, short enough to log. @internal */
export const KEY_ID_BYTES = 8;
/** Bytes of a section digest (SHA-256). @internal */
export const DIGEST_BYTES = 32;
/** Where a signature block's Ed25519 signature is, after the scheme (u32, u32 zero) and the key id. @internal */
export const SIGNATURE_AT = 8 + KEY_ID_BYTES;
/** Where a signature block's digests start, after the 64-byte signature. @internal */
export const DIGESTS_AT = SIGNATURE_AT + 64;

/**
 * What every signed message starts with, so that a snapshot signature can never be taken for a
 * signature the same key made over anything else.
 */
const DOMAIN = new TextEncoder().encode('hashwarden snapshot signature v1\0');

/** A trusted public key, resolved once. @internal */
export interface TrustedKey {
  readonly keyId: string;
  readonly key: KeyObject;
}

/** The length of the signature block of a snapshot of `sections` sections, a multiple of 64. @internal */
export function signatureBlockBytes(sections: number): number {
  return Math.ceil((DIGESTS_AT + sections * DIGEST_BYTES) / 64) * 64;
}

/** SHA-256 of a section's bytes. @internal */
export function sectionDigest(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

function ed25519(key: KeyObject, name: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') invalid('Ed25519 key', name, `${key.asymmetricKeyType ?? key.type} key`);
  return key;
}

/** `key` as an Ed25519 private KeyObject (a KeyObject or a PEM string); TypeError otherwise. @internal */
export function privateKeyOf(key: unknown, name: string): KeyObject {
  if (typeof key === 'object' && key !== null && (key as KeyObject).type === 'private')
    return ed25519(key as KeyObject, name);
  if (typeof key !== 'string') invalid('Ed25519 private key (KeyObject or PEM string)', name, key);
  try {
    return ed25519(createPrivateKey(key), name);
  } catch (error) {
    if (error instanceof TypeError && !('code' in error)) throw error;
    return invalid('Ed25519 private key (KeyObject or PEM string)', name, '(a string that is not a private key PEM)');
  }
}

/** `key` as an Ed25519 public KeyObject (public or private KeyObject, or PEM of either). @internal */
export function publicKeyOf(key: unknown, name: string): KeyObject {
  if (typeof key === 'object' && key !== null && typeof (key as KeyObject).asymmetricKeyType === 'string') {
    const k = key as KeyObject;
    return ed25519(k.type === 'public' ? k : createPublicKey(k), name);
  }
  if (typeof key !== 'string') invalid('Ed25519 public key (KeyObject or PEM string)', name, key);
  try {
    return ed25519(createPublicKey(key), name);
  } catch (error) {
    if (error instanceof TypeError && !('code' in error)) throw error;
    return invalid('Ed25519 public key (KeyObject or PEM string)', name, '(a string that is not a key PEM)');
  }
}

/**
 * The id of an Ed25519 key: the first 8 bytes of the SHA-256 of its raw 32-byte public key, in hex.
 * Stored in every signature the key makes and printed by `hashwarden keygen`, so that a log line
 * names the key a snapshot was signed with. Takes a public or private key (KeyObject or PEM).
 *
 * @example
 * ```ts
 * snapshotKeyId(readFileSync('lists.key.pub', 'utf8')); // '3f9c0a1be2d47c85'
 * ```
 */
export function snapshotKeyId(key: KeyObject | string): string {
  const raw = Buffer.from(publicKeyOf(key, 'key').export({ format: 'jwk' }).x as string, 'base64url');
  return createHash('sha256').update(raw).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

/** The trusted keys of a reader, resolved once: undefined when none is required. @internal */
export function resolveTrustedKeys(keys: unknown, name: string): readonly TrustedKey[] | undefined {
  if (keys === undefined) return undefined;
  if (!Array.isArray(keys) || keys.length === 0) invalid('non-empty array of Ed25519 public keys', name, keys);
  return Object.freeze(
    keys.map((k, i) => {
      const key = publicKeyOf(k, `${name}[${i}]`);
      return Object.freeze({ key, keyId: snapshotKeyId(key) });
    }),
  );
}

/** The message a snapshot's signature is made over. */
function signedMessage(header: Uint8Array, table: Uint8Array, block: Uint8Array, sections: number): Uint8Array {
  const blockPart = block.subarray(0, SIGNATURE_AT);
  const digests = block.subarray(DIGESTS_AT, DIGESTS_AT + sections * DIGEST_BYTES);
  return Buffer.concat([DOMAIN, header.subarray(0, HEADER_BYTES), table, blockPart, digests]);
}

/**
 * Fills a signature block: scheme, key id, the signature over header, table, and the digests
 * already at {@link DIGESTS_AT}. @internal
 */
export function signBlock(privateKey: KeyObject, header: Uint8Array, table: Uint8Array, block: Uint8Array): void {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  view.setUint32(0, SIGNATURE_SCHEME, true);
  block.set(Buffer.from(snapshotKeyId(privateKey), 'hex'), 8);
  const sections = table.length / ROW_BYTES;
  block.set(sign(null, signedMessage(header, table, block, sections), privateKey), SIGNATURE_AT);
}

/**
 * Checks a signature block against the trusted keys: its scheme, a key id among them, and the
 * signature over header, table and digests. Returns the key id; ERR_SNAPSHOT_SIGNATURE otherwise.
 * The digests it vouches for are then checked section by section as the sections are read. @internal
 */
export function verifyBlock(
  trusted: readonly TrustedKey[],
  header: Uint8Array,
  table: Uint8Array,
  block: Uint8Array | undefined,
  path: string,
): string {
  const refuse = (why: string): never => {
    throw new HashwardenError('ERR_SNAPSHOT_SIGNATURE', `${path}: ${why}`);
  };
  if (block === undefined) return refuse('the snapshot is not signed, and trusted keys are required');
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  if (view.getUint32(0, true) !== SIGNATURE_SCHEME || view.getUint32(4, true) !== 0)
    refuse(`unknown signature scheme ${view.getUint32(0, true)}`);
  const keyId = Buffer.from(block.subarray(8, SIGNATURE_AT)).toString('hex');
  const key = trusted.find((k) => k.keyId === keyId);
  if (key === undefined) return refuse(`signed by key ${keyId}, which is not a trusted key`);
  const sections = table.length / ROW_BYTES;
  const signature = block.subarray(SIGNATURE_AT, DIGESTS_AT);
  if (!verify(null, signedMessage(header, table, block, sections), key.key, signature))
    refuse(`the signature of key ${keyId} does not match the header, section table and digests`);
  return keyId;
}
