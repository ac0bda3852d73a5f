/**
 * `hashwarden`: the core entry. Matching, hash types, list parsing and errors, with no native
 * module: importing it loads neither sharp nor better-sqlite3 (a test checks this). Image hashing
 * lives in `hashwarden/image`, the SQLite store in `hashwarden/sqlite`; the matcher loads them on
 * first use.
 */
import type { Snapshot } from './snapshot/format.js';
import { readSnapshot as readSnapshotTables } from './snapshot/read.js';

export { HashwardenError, isHashwardenError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';

export { Matcher, DEFAULT_MATCH_CONCURRENCY } from './matcher/matcher.js';
export type {
  Match,
  MatcherOptions,
  MatchHashOptions,
  MatchImageOptions,
  MatchImagesOptions,
  ImageMatchResult,
  ImageBatchResult,
  HashQuery,
  HashBatchResult,
  Thresholds,
  MatcherTableInfo,
} from './matcher/matcher.js';

export { getAlgorithm, isAlgorithmName, ALGORITHM_NAMES } from './algorithms/registry.js';
export type { AlgorithmName } from './algorithms/registry.js';
export type { HashAlgorithm, AlgorithmKind } from './algorithms/types.js';
export {
  blockhash,
  blockhashRgba,
  blockhashSums,
  blockhashFromSums,
  blockhashDihedralHashes,
  blockhashSpread,
  blockhashDetail,
  blockhashBoundary,
  BLOCKHASH_MIN_SPREAD,
  BLOCKHASH_MIN_DETAIL,
  BLOCKHASH_MIN_BOUNDARY,
  BLOCKHASH_BLOCKS,
  BLOCKHASH_DEFAULT_THRESHOLD,
  BLOCKHASH_MAX_THRESHOLD,
} from './algorithms/blockhash.js';
export type { RgbaImage, BlockSums } from './algorithms/blockhash.js';
export { md5, sha1, sha256 } from './algorithms/digests.js';
export {
  pdq,
  pdqRgba,
  pdqLuma,
  pdqCoefficients,
  pdqHashFromCoefficients,
  pdqDihedralHashes,
  pdqRgbaDihedral,
  PDQ_DEFAULT_THRESHOLD,
  PDQ_MAX_THRESHOLD,
  PDQ_MIN_QUALITY,
  PDQ_MIN_DIMENSION,
  PDQ_REFERENCE_MAX_SIDE,
} from './algorithms/pdq.js';
export type { PdqCoefficients, PdqDihedralResult, PdqResult } from './algorithms/pdq.js';
export { DIHEDRAL_NAMES, dihedralSource } from './algorithms/dihedral.js';
export type { DihedralName } from './algorithms/dihedral.js';
export { hammingDistance, parseHex, formatHex } from './algorithms/hex.js';
export { searchedHashes } from './matcher/queries.js';
export type { HashedImage, SearchedHash } from './matcher/queries.js';

export { LinearIndex } from './search/linear.js';
export type { SearchHit, LinearIndexOptions, LinearKernel } from './search/linear.js';
export {
  MihIndex,
  chooseSearchTier,
  defaultSubstringBits,
  indexBytesPerEntry,
  MAX_INDEX_BYTES_PER_ENTRY,
  MIH_MIN_COUNT,
  DEFAULT_GUARD_FRACTION,
  MIN_SUBSTRING_BITS,
  MAX_SUBSTRING_BITS,
  SEARCH_TIERS,
} from './search/mih.js';
export type { MihOptions, MihPlan, SearchTier, SearchTierOptions } from './search/mih.js';

/**
 * Reads and checks a whole snapshot and tells what it holds: lists with versions, algorithms with
 * counts and search tiers. Refuses a damaged file with `ERR_SNAPSHOT_*` (see docs/api.md). Typed
 * without the tables it loads: those are the matcher's business (`Matcher.open`).
 *
 * @example
 * ```ts
 * const { lists } = await readSnapshot('lists.snap'); // [{ name: 'ncmec', version: 3 }]
 * ```
 */
export const readSnapshot: (path: string) => Promise<Snapshot> = readSnapshotTables;
export { writeSnapshot } from './snapshot/write.js';
export { SNAPSHOT_VERSION } from './snapshot/format.js';
export type { Snapshot, SnapshotList, SnapshotAlgorithm, SnapshotSource, SnapshotSummary } from './snapshot/format.js';

export { normalizeEntry, normalEntry } from './lists/entry.js';
export type { ListEntry, ListEntryInput, EntryMetadata } from './lists/entry.js';
export { detectListFormat, LIST_FORMATS, MAX_ROW_PROBLEMS, DEFAULT_MAX_LIST_BYTES } from './lists/formats.js';
export { parseList, readListFile } from './lists/parse.js';
export { formatList, writeListFile } from './lists/write.js';
export type { ListFormat, RowErrorPolicy, ParseListOptions, ReadListFileOptions, RowProblem, ParsedList } from './lists/formats.js';
export { streamListFile, DEFAULT_MAX_STREAM_BYTES, DEFAULT_LIST_BATCH_SIZE, MAX_LIST_LINE_BYTES } from './lists/stream.js';
export type { ListRow, ListBatch, ListStreamSummary, StreamListOptions } from './lists/stream.js';

export { mapSettled, MAX_CONCURRENCY } from './concurrency.js';
export type { Settled } from './concurrency.js';
