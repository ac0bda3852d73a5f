import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashwardenError } from '../errors.js';
import { normalizeEntry, type ListEntry } from '../lists/entry.js';
import { assemble, disassemble, viewOf } from '../testing/snapshot-layout.js';
import { HEADER_BYTES, ROW_BYTES } from './format.js';
import { parseSnapshot, readSnapshot } from './read.js';
import { DIGESTS_AT, signatureBlockBytes, SIGNATURE_AT, snapshotKeyId } from './sign.js';
import { writeSnapshot } from './write.js';
import { xxh3 } from './xxh3.js';

/** A small mixed list: perceptual and exact, two lists, labels: every kind of section, in a few KB. */
function entries(): ListEntry[] {
  const out: ListEntry[] = [];
  for (let i = 0; i < 6; i++) {
    const hash = Uint8Array.from({ length: 32 }, (_, j) => (i * 41 + j * 7) & 0xff);
    out.push(normalizeEntry({ id: `bh${i}`, list: i % 2 ? 'a' : 'b', algorithm: 'blockhash', hash, label: 'x' }));
  }
  for (let i = 0; i < 4; i++) {
    const hash = Uint8Array.from({ length: 16 }, (_, j) => (i * 13 + j) & 0xff);
    out.push(normalizeEntry({ id: `m${i}`, list: 'a', algorithm: 'md5', hash, metadata: { case: i } }));
  }
  return out;
}

const LISTS = [
  { name: 'a', version: 3 },
  { name: 'b', version: 1 },
];

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof HashwardenError ? error.code : `not a HashwardenError: ${String(error)}`;
  }
  return 'loaded';
}

let dir: string;
let publisher: { privateKey: KeyObject; publicKey: KeyObject };
let other: { privateKey: KeyObject; publicKey: KeyObject };
/** Signed by `publisher`, sequence 42. */
let signed: Uint8Array;
let unsigned: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-sign-'));
  publisher = generateKeyPairSync('ed25519');
  other = generateKeyPairSync('ed25519');
  await writeSnapshot(join(dir, 'signed.snap'), {
    lists: LISTS,
    entries: entries(),
    sequence: 42,
    sign: { privateKey: publisher.privateKey },
  });
  await writeSnapshot(join(dir, 'unsigned.snap'), { lists: LISTS, entries: entries(), sequence: 42 });
  signed = new Uint8Array(await readFile(join(dir, 'signed.snap')));
  unsigned = new Uint8Array(await readFile(join(dir, 'unsigned.snap')));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Where each section of `bytes` is, from its table. */
function sectionsOf(bytes: Uint8Array): { row: number; offset: number; length: number }[] {
  const view = viewOf(bytes);
  return Array.from({ length: view.getUint32(12, true) }, (_, i) => {
    const row = HEADER_BYTES + i * ROW_BYTES;
    const offset = Number(view.getBigUint64(row + 16, true));
    return { row, offset, length: Number(view.getBigUint64(row + 24, true)) };
  });
}

/**
 * `bytes` with byte `at` flipped and every XXH3 checksum made valid again, as a forger who knows
 * the format would: the section's row, the table's, the header's.
 */
function forged(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] as number) ^ 0x01;
  const view = viewOf(out);
  // The layout of the file as signed: the flipped byte may be one of the header's or the table's.
  const count = viewOf(bytes).getUint32(12, true);
  for (const s of sectionsOf(bytes))
    view.setBigUint64(s.row + 8, xxh3(out.subarray(s.offset, s.offset + s.length)), true);
  view.setBigUint64(24, xxh3(out.subarray(HEADER_BYTES, HEADER_BYTES + count * ROW_BYTES)), true);
  view.setBigUint64(56, xxh3(out.subarray(0, 56)), true);
  return out;
}

/** An unsigned snapshot's bytes as version 2 wrote them: the same layout, another version number. */
function asVersion2(bytes: Uint8Array): Uint8Array {
  const view = viewOf(bytes);
  view.setUint32(8, 2, true);
  view.setBigUint64(56, xxh3(bytes.subarray(0, 56)), true);
  return bytes;
}

const trusting = (...keys: (KeyObject | string)[]) => ({ trustedKeys: keys });

describe('signed snapshots', () => {
  it('round-trips: a signed snapshot reads with its public key, as PEM or KeyObject, and holds the same lists', async () => {
    const pem = publisher.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const read = await readSnapshot(join(dir, 'signed.snap'), trusting(pem));
    const plain = await readSnapshot(join(dir, 'unsigned.snap'));
    expect(read.signature).toEqual({ keyId: snapshotKeyId(publisher.publicKey), verified: true });
    expect(read.sequence).toBe(42);
    expect(read.lists).toEqual(plain.lists);
    expect(read.algorithms).toEqual(plain.algorithms);
    expect(plain.signature).toBeUndefined();
    expect(signed.length).toBe(unsigned.length + signatureBlockBytes(sectionsOf(signed).length));
    // Without trusted keys the signature is reported, not vouched for.
    expect((await parseSnapshot(signed)).signature).toEqual({
      keyId: snapshotKeyId(publisher.publicKey),
      verified: false,
    });
    expect((await parseSnapshot(signed, 'x', trusting(publisher.publicKey))).signature?.verified).toBe(true);
  });

  it('takes the key id from the public key, whichever form of the key it is given', () => {
    const id = snapshotKeyId(publisher.publicKey);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(snapshotKeyId(publisher.privateKey)).toBe(id);
    expect(snapshotKeyId(publisher.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)).toBe(id);
    expect(snapshotKeyId(other.publicKey)).not.toBe(id);
  });

  it('refuses an unsigned snapshot, and a version-2 one, when keys are required, and reads both when not', async () => {
    expect(await code(parseSnapshot(unsigned, 'u', trusting(publisher.publicKey)))).toBe('ERR_SNAPSHOT_SIGNATURE');
    const v2 = asVersion2(assemble(disassemble(unsigned)).bytes);
    expect((await parseSnapshot(v2)).sequence).toBe(0);
    expect(await code(parseSnapshot(v2, 'v2', trusting(publisher.publicKey)))).toBe('ERR_SNAPSHOT_SIGNATURE');
    // The signed file's sections moved into a version-2 layout: the signature is gone with its block.
    const stripped = asVersion2(assemble(disassemble(signed)).bytes);
    expect(await code(parseSnapshot(stripped, 's', trusting(publisher.publicKey)))).toBe('ERR_SNAPSHOT_SIGNATURE');
  });

  it('refuses a snapshot signed by a key not trusted, and accepts either key during a rotation', async () => {
    const path = join(dir, 'rotated.snap');
    await writeSnapshot(path, { lists: LISTS, entries: entries(), sign: { privateKey: other.privateKey } });
    expect(await code(readSnapshot(path, trusting(publisher.publicKey)))).toBe('ERR_SNAPSHOT_SIGNATURE');
    expect(await code(readSnapshot(path, trusting(publisher.publicKey, other.publicKey)))).toBe('loaded');
    expect(await code(parseSnapshot(signed, 's', trusting(publisher.publicKey, other.publicKey)))).toBe('loaded');
    expect(await code(parseSnapshot(signed, 's', trusting(other.publicKey)))).toBe('ERR_SNAPSHOT_SIGNATURE');
  });

  it('refuses a forger who changes any byte of a section and makes every XXH3 checksum valid again', async () => {
    const sections = sectionsOf(signed);
    let tried = 0;
    for (const [i, s] of sections.entries()) {
      // Every byte of META and of every section: META first, so a change there is caught before it is parsed.
      for (let at = s.offset; at < s.offset + s.length; at++) {
        const bytes = forged(signed, at);
        // Without keys the forgery passes every check that does not need a key, as a forger wants…
        if (i > 0 && at === s.offset) expect(await code(parseSnapshot(bytes))).toBe('loaded');
        // …and with them it is refused.
        expect(await code(parseSnapshot(bytes, `s${i}@${at}`, trusting(publisher.publicKey)))).toBe(
          'ERR_SNAPSHOT_SIGNATURE',
        );
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(500);
  });

  it('refuses a section changed so that its XXH3 checksum still holds (a collision, which XXH3 does not resist)', async () => {
    // XXH3 of 17–32 bytes adds mul128_fold64(lo ^ secret_lo, hi ^ secret_hi) of each 16-byte half:
    // a half whose first 8 bytes equal the secret's multiplies by 0, whatever its next 8 bytes.
    const secretHead = [0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe];
    const listed = Uint8Array.from({ length: 16 }, (_, i) => (i < 8 ? (secretHead[i] as number) : 0x11));
    const other = new Uint8Array(16).fill(0xf0);
    const path = join(dir, 'collision.snap');
    const md5 = (hash: Uint8Array, id: string) => normalizeEntry({ id, list: 'a', algorithm: 'md5', hash });
    await writeSnapshot(path, {
      lists: LISTS.slice(0, 1),
      entries: [md5(listed, 'listed'), md5(other, 'other')],
      sign: { privateKey: publisher.privateKey },
    });
    const bytes = new Uint8Array(await readFile(path));
    const exact = sectionsOf(bytes).find((s) => s.length === 32) as { offset: number };
    const before = xxh3(bytes.subarray(exact.offset, exact.offset + 32));
    bytes.fill(0x22, exact.offset + 8, exact.offset + 16); // the listed hash is now another one
    expect(xxh3(bytes.subarray(exact.offset, exact.offset + 32))).toBe(before);
    // Every XXH3 check holds: without keys the swapped hash loads…
    expect(await code(parseSnapshot(bytes))).toBe('loaded');
    // …with them the section's SHA-256, which the signature covers, does not.
    expect(await code(parseSnapshot(bytes, 'c', trusting(publisher.publicKey)))).toBe('ERR_SNAPSHOT_SIGNATURE');
  });

  it('refuses a change in the signature block: signature, key id, digests as ERR_SNAPSHOT_SIGNATURE, padding as corrupt', async () => {
    const block = signed.length - signatureBlockBytes(sectionsOf(signed).length);
    const digestsEnd = block + DIGESTS_AT + sectionsOf(signed).length * 32;
    for (let at = block; at < signed.length; at++) {
      const bytes = signed.slice();
      bytes[at] = (bytes[at] as number) ^ 0x80;
      const expected =
        at < block + 8 ? 'ERR_SNAPSHOT_FORMAT' : at < digestsEnd ? 'ERR_SNAPSHOT_SIGNATURE' : 'ERR_SNAPSHOT_CORRUPT';
      expect([at - block, await code(parseSnapshot(bytes, 'b', trusting(publisher.publicKey)))]).toEqual([
        at - block,
        expected,
      ]);
    }
    // The signature and the key id are the parts a forger would replace.
    expect(SIGNATURE_AT).toBe(16);
  });

  it('refuses every one-byte change anywhere in a signed file, checksums resealed or not', async () => {
    for (let at = 0; at < signed.length; at++) {
      for (const bytes of [forged(signed, at), signed.slice()]) {
        if (bytes[at] === signed[at]) bytes[at] = (bytes[at] as number) ^ 0x01;
        const got = await code(parseSnapshot(bytes, `@${at}`, trusting(publisher.publicKey)));
        // A plain flip in header, table or a section is caught by its XXH3 checksum first (CORRUPT):
        // the cheap check names damage in transit; one that keeps the checksums valid is a forgery.
        expect([at, got]).not.toEqual([at, 'loaded']);
        expect(got.startsWith('ERR_SNAPSHOT_')).toBe(true);
      }
    }
  });

  it('names damage to header, table and sections as ERR_SNAPSHOT_CORRUPT, before the signature is checked', async () => {
    const [meta, plane] = sectionsOf(signed);
    for (const at of [40, HEADER_BYTES + 8, (meta?.offset ?? 0) + 3, (plane?.offset ?? 0) + 5]) {
      const bytes = signed.slice();
      bytes[at] = (bytes[at] as number) ^ 0x01;
      expect([at, await code(parseSnapshot(bytes, 'c', trusting(publisher.publicKey)))]).toEqual([
        at,
        'ERR_SNAPSHOT_CORRUPT',
      ]);
    }
  });

  it('refuses a header whose signature block length is not the one its section count gives, or not in the file', async () => {
    const count = sectionsOf(unsigned).length;
    for (const [file, length] of [
      [unsigned, 12_345],
      [unsigned, 0xffff_ffff],
      [unsigned, signatureBlockBytes(count)], // declared, but the file ends with its last section
      [signed, signatureBlockBytes(count) + 64],
    ] as const) {
      const bytes = file.slice();
      const view = viewOf(bytes);
      view.setUint32(32, length, true);
      view.setBigUint64(56, xxh3(bytes.subarray(0, 56)), true);
      expect([length, await code(parseSnapshot(bytes))]).toEqual([length, 'ERR_SNAPSHOT_FORMAT']);
    }
  });

  it('writes the sequence given, or the time of writing in milliseconds', async () => {
    const before = Date.now();
    const path = join(dir, 'dated.snap');
    const summary = await writeSnapshot(path, { lists: LISTS, entries: entries() });
    expect(summary.sequence).toBeGreaterThanOrEqual(before);
    expect(summary.sequence).toBeLessThanOrEqual(Date.now());
    expect((await readSnapshot(path)).sequence).toBe(summary.sequence);
    expect(summary.keyId).toBeUndefined();
    const signedSummary = await writeSnapshot(path, {
      lists: LISTS,
      entries: entries(),
      sequence: 7,
      sign: { privateKey: publisher.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string },
    });
    expect(signedSummary).toMatchObject({ sequence: 7, keyId: snapshotKeyId(publisher.publicKey) });
  });

  it('refuses keys that are not Ed25519 private keys, bad sequences and empty key lists, as argument errors', async () => {
    const x25519 = generateKeyPairSync('x25519');
    const path = join(dir, 'bad.snap');
    const write = (extra: object) => writeSnapshot(path, { lists: LISTS, entries: entries(), ...extra });
    await expect(write({ sign: { privateKey: publisher.publicKey } })).rejects.toThrow(TypeError);
    await expect(write({ sign: { privateKey: x25519.privateKey } })).rejects.toThrow(TypeError);
    await expect(write({ sign: { privateKey: 'not a pem' } })).rejects.toThrow(TypeError);
    await expect(write({ sign: null })).rejects.toThrow(TypeError);
    await expect(write({ sequence: -1 })).rejects.toThrow(RangeError);
    await expect(write({ sequence: 1.5 })).rejects.toThrow(TypeError);
    await expect(parseSnapshot(signed, 's', { trustedKeys: [] })).rejects.toThrow(TypeError);
    await expect(parseSnapshot(signed, 's', { trustedKeys: [x25519.publicKey] })).rejects.toThrow(TypeError);
    await expect(parseSnapshot(signed, 's', { trustedKeys: ['junk'] })).rejects.toThrow(TypeError);
  });

  it('refuses a META whose sequence is not an integer, in a version-3 file', async () => {
    const sections = disassemble(unsigned);
    const meta = JSON.parse(new TextDecoder().decode(sections[0]?.data)) as Record<string, unknown>;
    for (const sequence of [undefined, -1, 1.5, '3', 2 ** 60]) {
      const data = new TextEncoder().encode(JSON.stringify({ ...meta, sequence }));
      const bytes = assemble([{ ...(sections[0] as (typeof sections)[0]), data }, ...sections.slice(1)]).bytes;
      expect([sequence, await code(parseSnapshot(bytes))]).toEqual([sequence, 'ERR_SNAPSHOT_FORMAT']);
    }
  });
});
