/**
 * Reading a snapshot (layout in `format.ts`, docs/snapshot-format.md): everything a matcher needs
 * in one file (hash planes, multi-index tables, exact-hash tables and packed entries), loaded by
 * reading each section straight into the typed array that will hold it (the hash planes into the
 * scan kernel's WebAssembly memory, the rest into arenas), with no pass that parses entries. A file
 * is refused whole, with an `ERR_SNAPSHOT_*` error, when truncated, corrupted or of another version.
 */
import { timingSafeEqual } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { checkThresholds, getAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import { HashwardenError } from '../errors.js';
import { type EntryColumns, packedEntryTable, type StringColumn } from '../search/entry-table.js';
import { ExactIndex } from '../search/exact-index.js';
import { LinearIndex } from '../search/linear.js';
import { mihFromCheckedTables } from '../search/mih.js';
import { MAX_SUBSTRING_BITS, MIN_SUBSTRING_BITS } from '../search/tier.js';
import type { MatcherTable } from '../search/tables.js';
import { invalid } from '../validate.js';
import { allocateArena, ascending, checksum, registerMemory } from './checksum.js';
import {
  describeBounds,
  fits,
  MAX_SNAPSHOT_ENTRIES,
  requiredSections,
  requiredVideoSections,
  sectionBounds,
  videoSectionBounds,
} from './layout.js';
import { MAX_VPDQ_ENTRY_FRAMES, VPDQ_ALGORITHM, VPDQ_PACKED_FRAME_BYTES } from '../algorithms/vpdq.js';
import type { PackedVpdq } from '../search/vpdq.js';
import {
  DIGEST_BYTES,
  DIGESTS_AT,
  KEY_ID_BYTES,
  resolveTrustedKeys,
  sectionDigest,
  signatureBlockBytes,
  SIGNATURE_SCHEME,
  verifyBlock,
  type TrustedKey,
} from './sign.js';
import {
  align,
  HEADER_BYTES,
  HEADER_CHECKSUM_AT,
  HEADER_SIGNATURE_AT,
  isSnapshot,
  KIND,
  MAX_META_BYTES,
  MAX_SECTIONS,
  NO_ALGORITHM,
  NOTHING,
  ROW_BYTES,
  SNAPSHOT_MAGIC,
  SNAPSHOT_VERSION,
  SNAPSHOT_VERSION_UNSIGNED,
  VPDQ_TABLE,
  type LoadedSnapshot,
  type Meta,
  type SnapshotAlgorithm,
  type ReadSnapshotOptions,
  type SnapshotList,
  type SnapshotQuarantine,
  type SnapshotVideos,
} from './format.js';

type SnapshotCode =
  | 'ERR_SNAPSHOT_FORMAT'
  | 'ERR_SNAPSHOT_VERSION'
  | 'ERR_SNAPSHOT_TRUNCATED'
  | 'ERR_SNAPSHOT_CORRUPT'
  | 'ERR_SNAPSHOT_SIGNATURE';

function fail(code: SnapshotCode, path: string, why: string): never {
  throw new HashwardenError(code, `${path}: ${why}`);
}

/**
 * Where the bytes come from: a file read at positions, or bytes already in memory. Exported for
 * tests (a source whose reads fail or finish out of order); not part of the package's API.
 */
export interface Source {
  readonly size: number;
  /** Fills `into` from `position`; throws ERR_SNAPSHOT_TRUNCATED if the source ends first. */
  read(into: Uint8Array, position: number): Promise<void>;
}

function fileSource(file: FileHandle, size: number, path: string): Source {
  return {
    size,
    async read(into, position) {
      let done = 0;
      while (done < into.length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await file.read(into, done, Math.min(into.length - done, 1 << 30), position + done));
        } catch (error) {
          throw new HashwardenError('ERR_INPUT_READ', `Cannot read the snapshot ${path}: ${(error as Error).message}`, {
            cause: error,
          });
        }
        // The size came from stat: a file that ends early was cut while being read.
        if (bytesRead === 0)
          fail('ERR_SNAPSHOT_TRUNCATED', path, `the file ended at ${position + done} bytes while being read`);
        done += bytesRead;
      }
    },
  };
}

function bytesSource(bytes: Uint8Array): Source {
  return {
    size: bytes.length,
    read(into, position) {
      into.set(bytes.subarray(position, position + into.length));
      return Promise.resolve();
    },
  };
}

/**
 * Reads and checks a snapshot — all of it, as `Matcher.open` does — and tells what it holds.
 * Refuses the file whole on any inconsistency: `ERR_SNAPSHOT_FORMAT` (not a snapshot, bad
 * layout), `ERR_SNAPSHOT_VERSION`, `ERR_SNAPSHOT_TRUNCATED`, `ERR_SNAPSHOT_CORRUPT` (a checksum);
 * `ERR_INPUT_READ` when it cannot be read at all. With `trustedKeys`, also `ERR_SNAPSHOT_SIGNATURE`
 * when it is not signed by one of them or was changed since.
 *
 * @example
 * ```ts
 * const { lists, algorithms } = await readSnapshot('lists.snap');
 * const signed = await readSnapshot('lists.snap', { trustedKeys: [readFileSync('lists.key.pub', 'utf8')] });
 * ```
 */
export async function readSnapshot(path: string, options?: ReadSnapshotOptions): Promise<LoadedSnapshot> {
  if (typeof path !== 'string' || path.length === 0) invalid('non-empty string', 'path', path);
  return readTrusting(path, trustOf(options));
}

function trustOf(options: ReadSnapshotOptions | undefined): readonly TrustedKey[] | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') invalid('object', 'options', options);
  return resolveTrustedKeys(options.trustedKeys, 'options.trustedKeys');
}

/** `readSnapshot` with trusted keys already resolved (the matcher resolves them once). @internal */
export async function readTrusting(path: string, trust: readonly TrustedKey[] | undefined): Promise<LoadedSnapshot> {
  let file: FileHandle;
  let size: number;
  try {
    file = await open(path, 'r');
  } catch (error) {
    throw new HashwardenError('ERR_INPUT_READ', `Cannot read the snapshot ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    try {
      size = (await file.stat()).size;
    } catch (error) {
      throw new HashwardenError('ERR_INPUT_READ', `Cannot read the snapshot ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return await load(fileSource(file, size, path), path, trust);
  } finally {
    await file.close();
  }
}

/**
 * Checks and decodes snapshot bytes already in memory (see `readSnapshot`, whose options it takes).
 *
 * @example
 * ```ts
 * const snapshot = await parseSnapshot(new Uint8Array(await readFile('lists.snap')));
 * ```
 */
export async function parseSnapshot(
  bytes: Uint8Array,
  path = '<snapshot>',
  options?: ReadSnapshotOptions,
): Promise<LoadedSnapshot> {
  return load(bytesSource(bytes), path, trustOf(options));
}

/** A row of the section table, with the array its bytes are read into. */
interface Row {
  readonly kind: number;
  readonly algorithm: number;
  readonly part: number;
  readonly checksum: bigint;
  readonly offset: number;
  readonly length: number;
  /** Where the section is read: its place in an arena (see `planArenas`), unless a plane. */
  arena?: { readonly buffer: ArrayBuffer; readonly at: number };
  into?: Uint8Array;
  /** Checks the shape of the contents once they are read (and their checksum holds); fails if wrong. */
  check?: () => void;
}

/** The arrays a table's entry columns are read into, filled in as rows are matched to them. */
interface ColumnDestinations {
  /** The table as messages name it. */
  readonly name: string;
  readonly count: number;
  listIndex?: Uint16Array;
  readonly strings: Map<number, Uint32Array | Uint8Array>;
}

/** Per algorithm, the arrays its sections are read into, filled in as rows are matched to them. */
interface Destinations extends ColumnDestinations {
  readonly algorithm: HashAlgorithm<AlgorithmName>;
  readonly meta: SnapshotAlgorithm;
  readonly linear?: LinearIndex;
  exact?: Uint8Array;
  readonly mihOffsets: (Uint32Array | undefined)[];
  readonly mihIds: (Uint32Array | undefined)[];
}

/** The arrays the vPDQ table's sections are read into. */
interface VideoDestinations extends ColumnDestinations {
  readonly meta: SnapshotVideos;
  frameOffsets?: Uint32Array;
  frameBytes?: Uint8Array;
}

/** What the header says. `dataEnd`: where the sections end, and the signature block (if any) starts. */
interface Header {
  readonly bytes: Uint8Array;
  readonly version: number;
  readonly count: number;
  readonly tableChecksum: bigint;
  readonly dataEnd: number;
}

async function readHeader(source: Source, path: string): Promise<Header> {
  if (source.size < HEADER_BYTES) {
    const head = new Uint8Array(Math.min(source.size, SNAPSHOT_MAGIC.length));
    await source.read(head, 0);
    if (head.length === SNAPSHOT_MAGIC.length && !isSnapshot(head))
      fail('ERR_SNAPSHOT_FORMAT', path, 'not a hashwarden snapshot (wrong magic)');
    fail('ERR_SNAPSHOT_TRUNCATED', path, `${source.size} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const bytes = new Uint8Array(HEADER_BYTES);
  await source.read(bytes, 0);
  if (!isSnapshot(bytes)) fail('ERR_SNAPSHOT_FORMAT', path, 'not a hashwarden snapshot (wrong magic)');
  const view = new DataView(bytes.buffer);
  // The version first: its place is the same in every version, the checksum's is not.
  const version = view.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION && version !== SNAPSHOT_VERSION_UNSIGNED)
    fail(
      'ERR_SNAPSHOT_VERSION',
      path,
      `format version ${version}; this release reads versions ${SNAPSHOT_VERSION_UNSIGNED} and ${SNAPSHOT_VERSION}${version === 1 ? ' (export the snapshot again)' : ''}`,
    );
  if (checksum(bytes.subarray(0, HEADER_CHECKSUM_AT)) !== view.getBigUint64(HEADER_CHECKSUM_AT, true))
    fail('ERR_SNAPSHOT_CORRUPT', path, 'header checksum mismatch');
  // Version 2 reserved the signature block's length too: it is 0 there.
  const reservedFrom = version === SNAPSHOT_VERSION ? HEADER_SIGNATURE_AT + 4 : HEADER_SIGNATURE_AT;
  for (let i = reservedFrom; i < HEADER_CHECKSUM_AT; i++)
    if (bytes[i] !== 0) fail('ERR_SNAPSHOT_FORMAT', path, 'reserved header bytes are not zero');
  const count = view.getUint32(12, true);
  const size = Number(view.getBigUint64(16, true));
  if (count === 0 || count > MAX_SECTIONS) fail('ERR_SNAPSHOT_FORMAT', path, `${count} sections`);
  const signatureBytes = view.getUint32(HEADER_SIGNATURE_AT, true);
  if (signatureBytes !== 0 && signatureBytes !== signatureBlockBytes(count))
    fail('ERR_SNAPSHOT_FORMAT', path, `a signature block of ${signatureBytes} bytes for ${count} sections`);
  if (source.size < size) fail('ERR_SNAPSHOT_TRUNCATED', path, `${source.size} bytes of ${size}`);
  if (source.size > size) fail('ERR_SNAPSHOT_FORMAT', path, `${source.size - size} bytes after the end`);
  if (HEADER_BYTES + count * ROW_BYTES + signatureBytes > size)
    fail('ERR_SNAPSHOT_FORMAT', path, 'section table beyond the end of the file');
  return { bytes, version, count, tableChecksum: view.getBigUint64(24, true), dataEnd: size - signatureBytes };
}

/** What identifies a section: no two rows may share it. */
function sectionKey(kind: number, algorithm: number, part: number): string {
  return `${kind}/${algorithm}/${part}`;
}

/** The section table, checked; `present` holds the key of every section. */
async function readRows(
  source: Source,
  path: string,
  { count, tableChecksum, dataEnd }: Header,
): Promise<{ rows: Row[]; present: ReadonlySet<string>; table: Uint8Array }> {
  const table = new Uint8Array(count * ROW_BYTES);
  await source.read(table, HEADER_BYTES);
  if (checksum(table) !== tableChecksum) fail('ERR_SNAPSHOT_CORRUPT', path, 'section table checksum mismatch');
  const view = new DataView(table.buffer);
  const rows: Row[] = [];
  let previousEnd = HEADER_BYTES + count * ROW_BYTES;
  const present = new Set<string>();
  for (let i = 0; i < count; i++) {
    const at = i * ROW_BYTES;
    const row: Row = {
      kind: view.getUint16(at, true),
      algorithm: view.getUint16(at + 2, true),
      part: view.getUint32(at + 4, true),
      checksum: view.getBigUint64(at + 8, true),
      offset: Number(view.getBigUint64(at + 16, true)),
      length: Number(view.getBigUint64(at + 24, true)),
    };
    // Each section where the writer puts it, at the first multiple of 64 after the one before: the
    // padding between sections is under 64 bytes, never a gap a reader would have to read.
    if (row.offset !== align(previousEnd) || row.offset + row.length > dataEnd)
      fail('ERR_SNAPSHOT_FORMAT', path, `section ${i} is misplaced`);
    const key = sectionKey(row.kind, row.algorithm, row.part);
    if (present.has(key))
      fail(
        'ERR_SNAPSHOT_FORMAT',
        path,
        `section ${i} repeats kind ${row.kind} of algorithm ${row.algorithm}, part ${row.part}`,
      );
    present.add(key);
    previousEnd = row.offset + row.length;
    rows.push(row);
  }
  if (align(previousEnd) !== dataEnd)
    fail('ERR_SNAPSHOT_FORMAT', path, `${dataEnd - previousEnd} bytes after the last section`);
  return { rows, present, table };
}

/**
 * The signature block, when the header gives one: its scheme and padding checked, and, with trusted
 * keys, its signature verified — before META is parsed, so a reader that requires a signature
 * parses nothing unsigned. Returns the block, its key id and, when verified, the section digests
 * the signature vouches for (checked as each section is read).
 */
async function readSignature(
  source: Source,
  path: string,
  header: Header,
  table: Uint8Array,
  trust: readonly TrustedKey[] | undefined,
): Promise<{ keyId?: string; digests?: Uint8Array }> {
  const length = source.size - header.dataEnd;
  if (length === 0) {
    if (trust !== undefined) verifyBlock(trust, header.bytes, table, undefined, path);
    return {};
  }
  const block = new Uint8Array(length);
  await source.read(block, header.dataEnd);
  const view = new DataView(block.buffer);
  if (view.getUint32(0, true) !== SIGNATURE_SCHEME || view.getUint32(4, true) !== 0)
    fail('ERR_SNAPSHOT_FORMAT', path, `unknown signature scheme ${view.getUint32(0, true)}`);
  const digestsEnd = DIGESTS_AT + header.count * DIGEST_BYTES;
  if (block.subarray(digestsEnd).some((b) => b !== 0))
    fail('ERR_SNAPSHOT_CORRUPT', path, 'non-zero padding in the signature block');
  const keyId = Buffer.from(block.subarray(8, 8 + KEY_ID_BYTES)).toString('hex');
  if (trust === undefined) return { keyId };
  verifyBlock(trust, header.bytes, table, block, path);
  return { keyId, digests: block.subarray(DIGESTS_AT, digestsEnd) };
}

/** Refuses section `i` when its SHA-256 is not the one the verified signature vouches for. */
function checkDigest(digests: Uint8Array | undefined, i: number, bytes: Uint8Array, path: string): void {
  if (digests === undefined) return;
  const expected = digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES);
  if (!timingSafeEqual(sectionDigest(bytes), expected))
    fail('ERR_SNAPSHOT_SIGNATURE', path, `section ${i} is not the one the signature covers (SHA-256 mismatch)`);
}

/** True for META's `quarantined` of a list as an export writes it: entries with text id, reason and until. */
function validQuarantine(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.every(
      (q: unknown) =>
        q !== null &&
        typeof q === 'object' &&
        typeof (q as SnapshotQuarantine).id === 'string' &&
        typeof (q as SnapshotQuarantine).reason === 'string' &&
        ((q as SnapshotQuarantine).until === undefined || typeof (q as SnapshotQuarantine).until === 'string'),
    )
  );
}

async function readMeta(
  source: Source,
  path: string,
  rows: readonly Row[],
  version: number,
  digests: Uint8Array | undefined,
): Promise<Meta & { readonly sequence: number }> {
  const metas = rows.filter((r) => r.kind === KIND.META);
  const row = metas[0];
  if (row === undefined) fail('ERR_SNAPSHOT_FORMAT', path, 'no META section');
  // One META, of no algorithm: a second would be read by nothing, so no check would cover it.
  if (metas.length > 1 || row.algorithm !== NO_ALGORITHM)
    fail('ERR_SNAPSHOT_FORMAT', path, `${metas.length} META sections, the first of algorithm ${row.algorithm}`);
  if (row.length > MAX_META_BYTES) fail('ERR_SNAPSHOT_FORMAT', path, `META of ${row.length} bytes`);
  const data = new Uint8Array(row.length);
  await source.read(data, row.offset);
  if (checksum(data) !== row.checksum) fail('ERR_SNAPSHOT_CORRUPT', path, 'META checksum mismatch');
  checkDigest(digests, rows.indexOf(row), data, path);
  row.into = data;
  let meta: Meta;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) as Meta;
  } catch (error) {
    fail('ERR_SNAPSHOT_FORMAT', path, `META is not JSON: ${(error as Error).message}`);
  }
  if (meta === null || typeof meta !== 'object' || !Array.isArray(meta.lists) || !Array.isArray(meta.algorithms))
    fail('ERR_SNAPSHOT_FORMAT', path, 'META lacks lists or algorithms');
  for (const list of meta.lists as unknown[]) {
    const l = list as Partial<SnapshotList> | null;
    if (l === null || typeof l !== 'object' || typeof l.name !== 'string' || typeof l.version !== 'number')
      fail('ERR_SNAPSHOT_FORMAT', path, 'META has a list without a name and version');
    if (l.label !== undefined && typeof l.label !== 'string')
      fail('ERR_SNAPSHOT_FORMAT', path, `META gives list ${JSON.stringify(l.name)} a label that is not text`);
    if (l.quarantined !== undefined && !validQuarantine(l.quarantined))
      fail('ERR_SNAPSHOT_FORMAT', path, `META gives list ${JSON.stringify(l.name)} a bad quarantined array`);
    // Not guessed: an allow list read as block blocks known-good images; a block list read as allow lets uploads by.
    if (l.action !== undefined && l.action !== 'block' && l.action !== 'allow')
      fail('ERR_SNAPSHOT_FORMAT', path, `META gives list ${JSON.stringify(l.name)} an action neither block nor allow`);
    let thresholds: Partial<Record<AlgorithmName, number>>;
    try {
      thresholds = checkThresholds(l.thresholds, 'thresholds');
    } catch (error) {
      fail(
        'ERR_SNAPSHOT_FORMAT',
        path,
        `META gives list ${JSON.stringify(l.name)} bad thresholds: ${(error as Error).message}`,
      );
    }
    // The checked thresholds, keyed by canonical name: a key written `PDQ` would otherwise pass
    // the check and then be missed by the matcher, which looks the threshold up as `pdq`.
    if (l.thresholds !== undefined)
      (l as { thresholds?: Partial<Record<AlgorithmName, number>> }).thresholds = thresholds;
  }
  if (meta.lists.length > 0x10000) fail('ERR_SNAPSHOT_FORMAT', path, `${meta.lists.length} lists`);
  if (meta.videos !== undefined) checkVideosMeta(meta.videos, path);
  if (version === SNAPSHOT_VERSION_UNSIGNED) return { ...meta, sequence: 0 };
  const sequence = meta.sequence;
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 0)
    fail('ERR_SNAPSHOT_FORMAT', path, `META's sequence is not an integer from 0 to 2^53 - 1: ${String(sequence)}`);
  return { ...meta, sequence };
}

/**
 * META's `videos`, checked: integer counts, at most {@link MAX_SNAPSHOT_ENTRIES} entries of at most
 * `MAX_VPDQ_ENTRY_FRAMES` frames each. The sizes they give bound the sections (`checkLayout`).
 */
function checkVideosMeta(value: unknown, path: string): void {
  const v = value as Partial<SnapshotVideos> | null;
  const count = v?.count;
  const frames = v?.frames;
  if (
    v === null ||
    typeof v !== 'object' ||
    !Number.isInteger(count) ||
    (count as number) < 0 ||
    (count as number) > MAX_SNAPSHOT_ENTRIES ||
    !Number.isInteger(frames) ||
    (frames as number) < 0 ||
    (frames as number) > (count as number) * MAX_VPDQ_ENTRY_FRAMES
  )
    fail('ERR_SNAPSHOT_FORMAT', path, `META's videos are not counts of entries and frames: ${JSON.stringify(value)}`);
}

/** One algorithm of META, checked: its hash type and what its sections must be. Nothing allocated yet. */
interface Plan {
  readonly algorithm: HashAlgorithm<AlgorithmName>;
  readonly meta: SnapshotAlgorithm;
}

/**
 * Checks one algorithm's META entry. `required` counts the bytes of hashes of the algorithms
 * before it: the hashes alone of every algorithm's entries must fit in the file.
 */
function planAlgorithm(
  entry: SnapshotAlgorithm,
  number: number,
  path: string,
  seen: Set<AlgorithmName>,
  fileBytes: number,
  required: { bytes: number },
): Plan {
  // META is JSON from the file: an entry may be anything (null once made this a TypeError).
  if (entry === null || typeof entry !== 'object')
    fail('ERR_SNAPSHOT_FORMAT', path, `algorithm ${number} is not an object: ${JSON.stringify(entry)}`);
  let algorithm: HashAlgorithm<AlgorithmName>;
  try {
    algorithm = getAlgorithm(entry.name);
  } catch {
    fail('ERR_SNAPSHOT_FORMAT', path, `algorithm ${number} is unknown: ${JSON.stringify(entry.name)}`);
  }
  if (seen.has(algorithm.name)) fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name} appears twice`);
  seen.add(algorithm.name);
  const n = entry.count;
  if (!Number.isInteger(n) || n < 0 || n > MAX_SNAPSHOT_ENTRIES)
    fail('ERR_SNAPSHOT_FORMAT', path, `bad entry count for ${algorithm.name}: ${String(n)}`);
  if (entry.bits !== algorithm.bits)
    fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name} stored with ${String(entry.bits)} bits`);
  required.bytes += (n * algorithm.bits) / 8;
  if (required.bytes > fileBytes)
    fail('ERR_SNAPSHOT_FORMAT', path, `${n} ${algorithm.name} entries do not fit in ${fileBytes} bytes`);
  const search = entry.search as Partial<{ tier: string; substringBits: unknown }> | undefined;
  const tier = search?.tier;
  let widths: number[] = [];
  if (algorithm.kind === 'exact') {
    if (tier !== 'exact')
      fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: search tier ${String(tier)} for an exact hash`);
  } else if (tier === 'mih') {
    const bits = search?.substringBits;
    if (
      !Array.isArray(bits) ||
      bits.some(
        (w) => !Number.isInteger(w) || (w as number) < MIN_SUBSTRING_BITS || (w as number) > MAX_SUBSTRING_BITS,
      ) ||
      bits.reduce((s: number, w: number) => s + w, 0) !== algorithm.bits
    ) {
      fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: bad MIH substring widths ${JSON.stringify(bits)}`);
    }
    widths = bits as number[];
  } else if (tier !== 'linear') {
    fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: unknown search tier ${JSON.stringify(tier)}`);
  }
  const meta: SnapshotAlgorithm = {
    name: algorithm.name,
    bits: algorithm.bits,
    count: n,
    search: tier === 'mih' ? { tier, substringBits: Object.freeze(widths) } : { tier: tier as 'linear' | 'exact' },
  };
  return { algorithm, meta };
}

/**
 * Checks every section against what META says, before anything is allocated for them: each
 * of a kind its algorithm's table has, of a size its count allows (`sectionBounds`), and every
 * section a table needs present. What is then allocated is at most what the file holds.
 */
function checkLayout(
  rows: readonly Row[],
  present: ReadonlySet<string>,
  plans: readonly Plan[],
  videos: SnapshotVideos | undefined,
  path: string,
): void {
  for (const row of rows) {
    if (row.kind === KIND.META) continue;
    if (row.algorithm === VPDQ_TABLE) {
      if (videos === undefined)
        fail('ERR_SNAPSHOT_FORMAT', path, `section kind ${row.kind} of the vPDQ table, which META does not count`);
      const where = `${VPDQ_ALGORITHM}, section kind ${row.kind} part ${row.part}`;
      const bounds = videoSectionBounds(row.kind, row.part, videos);
      if (bounds === undefined) fail('ERR_SNAPSHOT_FORMAT', path, `${where}: not expected for the vPDQ table`);
      if (!fits(row.length, bounds))
        fail('ERR_SNAPSHOT_FORMAT', path, `${where} has ${row.length} bytes, expected ${describeBounds(bounds)}`);
      continue;
    }
    const plan = plans[row.algorithm];
    if (plan === undefined)
      fail('ERR_SNAPSHOT_FORMAT', path, `section kind ${row.kind} names algorithm ${row.algorithm} of ${plans.length}`);
    const where = `${plan.algorithm.name}, section kind ${row.kind} part ${row.part}`;
    const bounds = sectionBounds(row.kind, row.part, plan.meta);
    if (bounds === undefined) {
      const table = plan.meta.search.tier === 'exact' ? 'exact' : `${plan.meta.search.tier} perceptual`;
      fail('ERR_SNAPSHOT_FORMAT', path, `${where}: not expected for a ${table} table`);
    }
    if (!fits(row.length, bounds))
      fail('ERR_SNAPSHOT_FORMAT', path, `${where} has ${row.length} bytes, expected ${describeBounds(bounds)}`);
  }
  plans.forEach((plan, number) => {
    for (const [kind, part] of requiredSections(plan.meta))
      if (!present.has(sectionKey(kind, number, part)))
        fail('ERR_SNAPSHOT_FORMAT', path, `${plan.algorithm.name}: missing section kind ${kind} part ${part}`);
  });
  if (videos !== undefined)
    for (const [kind, part] of requiredVideoSections())
      if (!present.has(sectionKey(kind, VPDQ_TABLE, part)))
        fail('ERR_SNAPSHOT_FORMAT', path, `${VPDQ_ALGORITHM}: missing section kind ${kind} part ${part}`);
}

/** The arrays a checked algorithm's sections are read into: the scan kernel's planes now, the rest as rows are matched. */
function allocate({ algorithm, meta }: Plan): Destinations {
  let linear: LinearIndex | undefined;
  if (algorithm.kind === 'perceptual') {
    // The planes are read straight into the scan kernel's memory, and checksummed there.
    linear = LinearIndex.allocate(meta.count);
    const memory = linear.wasmMemory();
    if (memory !== undefined) registerMemory(memory);
  }
  const parts = meta.search.tier === 'mih' ? meta.search.substringBits.length : 0;
  return {
    name: algorithm.name,
    count: meta.count,
    algorithm,
    meta,
    ...(linear === undefined ? {} : { linear }),
    mihOffsets: Array.from({ length: parts }, () => undefined),
    mihIds: Array.from({ length: parts }, () => undefined),
    strings: new Map(),
  };
}

/** Largest arena: sections are packed into arenas of up to 1 GiB (one larger section gets its own). */
const ARENA_BYTES = 1 << 30;

/**
 * Gives every section that is not a plane and not empty its place in an arena (`allocateArena`:
 * memory the checksum and shape checks run on in place), in file order, packed into as few arenas
 * as fit. Sizes come from the section table, already checked against META (`checkLayout`): the
 * arenas hold no more than the file does.
 */
function planArenas(rows: readonly Row[], destinations: readonly Destinations[]): void {
  const placed = rows.filter(
    (row) =>
      row.kind !== KIND.META &&
      row.length > 0 &&
      !((row.kind === KIND.PLANE_A || row.kind === KIND.PLANE_B) && destinations[row.algorithm]?.linear !== undefined),
  );
  let group: Row[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (group.length === 0) return;
    const buffer = allocateArena(bytes);
    let at = 0;
    for (const row of group) {
      row.arena = { buffer, at };
      at = align(at + row.length);
    }
    group = [];
    bytes = 0;
  };
  for (const row of placed) {
    if (bytes > 0 && bytes + row.length > ARENA_BYTES) flush();
    group.push(row);
    bytes = align(bytes + row.length);
  }
  flush();
}

/**
 * The array section `row` is read into — a view of its place in an arena, or the scan kernel's
 * planes (its size was checked by `checkLayout`) — and for MIH bucket starts the check of their
 * contents (a search's loops are bounded by them). Other contents are checked where they are
 * used: ids by the verify step, entries by the entry table.
 */
function destinationOf(row: Row, d: Destinations, path: string): Uint8Array {
  const n = d.meta.count;
  const placed = placedBytes(row);
  const linear = d.linear as LinearIndex;
  switch (row.kind) {
    case KIND.PLANE_A:
      return linear.planes().a;
    case KIND.PLANE_B:
      return linear.planes().b;
    case KIND.EXACT: {
      d.exact = placed();
      return d.exact;
    }
    case KIND.MIH_OFFSETS: {
      const length = row.length / 4;
      const bytes = placed();
      const table = u32(bytes, length);
      d.mihOffsets[row.part] = table;
      // Before any search runs: bucket starts from 0, never decreasing, ending at the count.
      row.check = () => {
        if (table[0] !== 0 || table[length - 1] !== n || !ascending(table))
          fail(
            'ERR_SNAPSHOT_FORMAT',
            path,
            `${d.algorithm.name}, MIH table ${row.part}: bucket starts not ascending from 0 to ${n}`,
          );
      };
      return bytes;
    }
    case KIND.MIH_IDS: {
      // Not scanned here (the largest sections: a pass would add to every open): the checksum
      // vouches for them, and the verify step of every search checks each candidate id before
      // reading its hash.
      const bytes = placed();
      d.mihIds[row.part] = u32(bytes, n);
      return bytes;
    }
    default:
      return columnDestinationOf(row, d, placed);
  }
}

/** A function giving the bytes of `row` in its arena; an empty section reads nothing. */
function placedBytes(row: Row): () => Uint8Array {
  return () => {
    if (row.length === 0) return NOTHING;
    const arena = row.arena as { buffer: ArrayBuffer; at: number };
    return new Uint8Array(arena.buffer, arena.at, row.length);
  };
}

/** `bytes` as `length` u32; an empty column section stands for zeros (every string empty). */
function u32(bytes: Uint8Array, length: number): Uint32Array {
  return bytes.length === 0 ? new Uint32Array(length) : new Uint32Array(bytes.buffer, bytes.byteOffset, length);
}

/** Where an entry column section of any table is read (its kind checked by `checkLayout`). */
function columnDestinationOf(row: Row, c: ColumnDestinations, placed: () => Uint8Array): Uint8Array {
  const n = c.count;
  switch (row.kind) {
    case KIND.ENTRY_LIST: {
      // Empty: every entry in list 0.
      const bytes = placed();
      c.listIndex = bytes.length === 0 ? new Uint16Array(n) : new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      return bytes;
    }
    case KIND.ENTRY_ID_OFFSETS:
    case KIND.ENTRY_LABEL_OFFSETS:
    case KIND.ENTRY_METADATA_OFFSETS: {
      // Empty: the column is empty for every entry; zeroed offsets say so (and cost no reading).
      const bytes = placed();
      c.strings.set(row.kind, u32(bytes, n + 1));
      return bytes;
    }
    default: {
      // String bytes: `checkLayout` let no other kind through.
      const bytes = placed();
      c.strings.set(row.kind, bytes);
      return bytes;
    }
  }
}

/**
 * Where a section of the vPDQ table is read. The frame offsets are checked once read, before
 * anything uses them: from 0, each entry whole packed frames and at most `MAX_VPDQ_ENTRY_FRAMES`,
 * ending at the frame bytes' length (META's frame count, which sized that section). The frames'
 * own bytes are checked as each entry is unpacked when the matcher builds its index.
 */
function videoDestinationOf(row: Row, v: VideoDestinations, path: string): Uint8Array {
  const placed = placedBytes(row);
  if (row.kind === KIND.VPDQ_FRAME_BYTES) {
    v.frameBytes = placed();
    return v.frameBytes;
  }
  if (row.kind !== KIND.VPDQ_FRAME_OFFSETS) return columnDestinationOf(row, v, placed);
  const bytes = placed();
  const offsets = u32(bytes, v.count + 1);
  v.frameOffsets = offsets;
  const end = v.meta.frames * VPDQ_PACKED_FRAME_BYTES;
  const most = MAX_VPDQ_ENTRY_FRAMES * VPDQ_PACKED_FRAME_BYTES;
  row.check = () => {
    if (offsets[0] !== 0 || offsets[v.count] !== end)
      fail('ERR_SNAPSHOT_FORMAT', path, `vPDQ frame offsets do not run from 0 to ${end}`);
    for (let i = 0; i < v.count; i++) {
      const length = (offsets[i + 1] as number) - (offsets[i] as number);
      if (length < 0 || length > most || length % VPDQ_PACKED_FRAME_BYTES !== 0)
        fail('ERR_SNAPSHOT_FORMAT', path, `vPDQ entry ${i}: frames of ${length} bytes`);
    }
  };
  return bytes;
}

/** Reads in flight at once: enough to keep the thread pool's four threads copying. */
const READ_WINDOW = 4;

/**
 * Reads every section into its destination, several at a time on libuv's thread pool, and checks
 * each one — checksum, then the shape of its contents — on this thread as soon as it and every section
 * before it have arrived, while later ones are still being read: at 1M entries the checks then
 * cost next to nothing beyond the reads. Padding is read too and must be zero, so no byte of the
 * file escapes every check.
 */
async function readSections(
  source: Source,
  path: string,
  rows: readonly Row[],
  tableEnd: number,
  dataEnd: number,
  digests: Uint8Array | undefined,
): Promise<void> {
  const reads: (() => Promise<unknown>)[] = [];
  let previousEnd = tableEnd;
  const checkGap = async (from: number, to: number, what: string): Promise<void> => {
    if (to <= from) return;
    const gap = new Uint8Array(to - from);
    await source.read(gap, from);
    if (gap.some((b) => b !== 0)) fail('ERR_SNAPSHOT_CORRUPT', path, `non-zero padding ${what}`);
  };
  rows.forEach((row, i) => {
    const from = previousEnd;
    reads.push(() =>
      Promise.all([
        checkGap(from, row.offset, `before section ${i}`),
        row.kind === KIND.META ? undefined : source.read(row.into as Uint8Array, row.offset),
      ]),
    );
    previousEnd = row.offset + row.length;
  });
  const end = previousEnd;
  reads.push(() => checkGap(end, dataEnd, 'after the last section'));

  const pending: Promise<unknown>[] = [];
  let next = 0;
  const refill = (): void => {
    while (next < reads.length && pending.length < READ_WINDOW) {
      const read = (reads[next++] as () => Promise<unknown>)();
      // Marked handled at once: a later read that fails while an earlier one is awaited (a file
      // cut while being read) must not count as an unhandled rejection, which would end the
      // process. Its error still reaches the loop when its turn comes — or never, if an earlier
      // check has already refused the file.
      read.catch(() => undefined);
      pending.push(read);
    }
  };
  refill();
  for (let i = 0; i < reads.length; i++) {
    await pending.shift();
    refill();
    const row = rows[i];
    if (row === undefined || row.kind === KIND.META) continue;
    if (checksum(row.into as Uint8Array) !== row.checksum)
      fail('ERR_SNAPSHOT_CORRUPT', path, `section ${i} checksum mismatch`);
    checkDigest(digests, i, row.into as Uint8Array, path);
    row.check?.();
  }
}

function stringColumn(d: ColumnDestinations, offsetsKind: number, bytesKind: number, path: string): StringColumn {
  const offsets = d.strings.get(offsetsKind) as Uint32Array | undefined;
  const bytes = d.strings.get(bytesKind) as Uint8Array | undefined;
  if (offsets === undefined || bytes === undefined)
    fail('ERR_SNAPSHOT_FORMAT', path, `${d.name}: missing string sections ${offsetsKind}/${bytesKind}`);
  // One read, not a pass: the last offset must be the end of the bytes (0 for an empty column).
  if (offsets[d.count] !== bytes.length)
    fail(
      'ERR_SNAPSHOT_FORMAT',
      path,
      `${d.name}: string offsets (section kind ${offsetsKind}) end at ${offsets[d.count]}, not at the ${bytes.length} bytes of kind ${bytesKind}`,
    );
  return { offsets, bytes };
}

/** A table's entry columns, read (the list names are META's). */
function columnsOf(d: ColumnDestinations, listNames: readonly string[], path: string): EntryColumns {
  return {
    lists: listNames,
    listIndex: d.listIndex as Uint16Array,
    ids: stringColumn(d, KIND.ENTRY_ID_OFFSETS, KIND.ENTRY_ID_BYTES, path),
    labels: stringColumn(d, KIND.ENTRY_LABEL_OFFSETS, KIND.ENTRY_LABEL_BYTES, path),
    metadata: stringColumn(d, KIND.ENTRY_METADATA_OFFSETS, KIND.ENTRY_METADATA_BYTES, path),
  };
}

function tableOf(d: Destinations, listNames: readonly string[], path: string): MatcherTable {
  const { algorithm, meta } = d;
  const entries = packedEntryTable(columnsOf(d, listNames, path));
  if (d.exact !== undefined) {
    let index: ExactIndex;
    try {
      index = ExactIndex.fromSorted(d.exact, algorithm.bits / 8);
    } catch (error) {
      fail('ERR_SNAPSHOT_FORMAT', path, `${algorithm.name}: ${(error as Error).message}`);
    }
    return { kind: 'exact', algorithm, index, search: meta.search, entries };
  }
  const linear = d.linear as LinearIndex;
  if (meta.search.tier !== 'mih')
    return { kind: 'perceptual', algorithm, linear, index: linear, search: meta.search, entries };
  // Sizes were fixed by META and each table's contents checked as it was read.
  const index = mihFromCheckedTables(
    linear,
    meta.search.substringBits,
    d.mihOffsets as Uint32Array[],
    d.mihIds as Uint32Array[],
  );
  return { kind: 'perceptual', algorithm, linear, index, search: meta.search, entries };
}

/** Reads a snapshot from any `Source` (see `readSnapshot`); internal, exported for tests. */
export async function load(
  source: Source,
  path: string,
  trust?: readonly TrustedKey[] | undefined,
): Promise<LoadedSnapshot> {
  const header = await readHeader(source, path);
  const { count } = header;
  const { rows, present, table } = await readRows(source, path, header);
  const { keyId, digests } = await readSignature(source, path, header, table, trust);
  const meta = await readMeta(source, path, rows, header.version, digests);
  const seen = new Set<AlgorithmName>();
  const required = { bytes: 0 };
  const plans = meta.algorithms.map((entry, number) => planAlgorithm(entry, number, path, seen, source.size, required));
  const videosMeta = meta.videos;
  checkLayout(rows, present, plans, videosMeta, path);
  // Only now, every size known good, is anything allocated for the sections.
  const destinations = plans.map(allocate);
  const videos: VideoDestinations | undefined =
    videosMeta === undefined
      ? undefined
      : { name: VPDQ_ALGORITHM, count: videosMeta.count, meta: videosMeta, strings: new Map() };
  planArenas(rows, destinations);
  for (const row of rows) {
    if (row.kind === KIND.META) continue;
    row.into =
      row.algorithm === VPDQ_TABLE
        ? videoDestinationOf(row, videos as VideoDestinations, path)
        : destinationOf(row, destinations[row.algorithm] as Destinations, path);
  }
  await readSections(source, path, rows, HEADER_BYTES + count * ROW_BYTES, header.dataEnd, digests);
  const listNames = meta.lists.map((l) => l.name);
  const tables = new Map<AlgorithmName, MatcherTable>();
  for (const d of destinations) tables.set(d.algorithm.name, tableOf(d, listNames, path));
  const packedVideos: PackedVpdq | undefined =
    videos === undefined || videos.count === 0
      ? undefined
      : {
          columns: columnsOf(videos, listNames, path),
          frames: { offsets: videos.frameOffsets as Uint32Array, bytes: videos.frameBytes as Uint8Array },
        };
  return {
    tables,
    ...(packedVideos === undefined ? {} : { packedVideos }),
    lists: meta.lists,
    algorithms: destinations.map((d) => d.meta),
    ...(videosMeta === undefined ? {} : { videos: { count: videosMeta.count, frames: videosMeta.frames } }),
    created: String(meta.created),
    sequence: meta.sequence,
    ...(typeof meta.source === 'string' ? { source: meta.source } : {}),
    bytes: source.size,
    ...(keyId === undefined ? {} : { signature: { keyId, verified: trust !== undefined } }),
  };
}
