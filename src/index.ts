/**
 * `hashwarden`: the core entry. Matching, hash types, list parsing and errors, with no native
 * module: importing it loads neither sharp nor better-sqlite3 (a test checks this). Image hashing
 * lives in `hashwarden/image`, the SQLite store in `hashwarden/sqlite`; the matcher loads them on
 * first use.
 */
import type { ReadSnapshotOptions, Snapshot } from './snapshot/format.js';
import { readSnapshot as readSnapshotTables } from './snapshot/read.js';

export { HashwardenError, isHashwardenError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';

export { Matcher } from './matcher/matcher.js';
export { DEFAULT_MATCH_CONCURRENCY, DEFAULT_MAX_QUEUED } from './matcher/types.js';
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
  MatcherList,
  MatcherTableInfo,
  AllowedMatch,
  ExactHashes,
  MatchVpdqOptions,
  VideoMatch,
} from './matcher/types.js';
export type { VpdqFramePair, VpdqMatchOptions, VpdqThresholds, VpdqVideoMatch } from './search/vpdq.js';
export type { VpdqFeature } from './algorithms/vpdq.js';
export type { FollowOptions, ReloadEvent } from './matcher/follow.js';
export type { StormEntry, StormEvent, StormOptions, StormState } from './matcher/types.js';
export { DecisionLog, DEFAULT_LOG_FILE_BYTES, DEFAULT_LOG_SYNC_MS, verifyLog } from './log/index.js';
export type { DecisionContext, DecisionLogOptions, LogHead, LogVerifyResult, VerifyLogOptions } from './log/index.js';

export { getAlgorithm, isAlgorithmName, ALGORITHM_NAMES } from './algorithms/registry.js';
export type { AlgorithmName, Thresholds } from './algorithms/registry.js';
export type { HashAlgorithm, AlgorithmKind } from './algorithms/types.js';
export {
  blockhash,
  blockhashRgba,
  BLOCKHASH_DEFAULT_THRESHOLD,
  BLOCKHASH_MAX_THRESHOLD,
} from './algorithms/blockhash.js';
export type { RgbaImage } from './algorithms/blockhash.js';
export { md5, sha1, sha256 } from './algorithms/digests.js';
export {
  pdq,
  pdqRgba,
  pdqRgbaDihedral,
  PDQ_DEFAULT_THRESHOLD,
  PDQ_MAX_THRESHOLD,
  PDQ_MIN_QUALITY,
} from './algorithms/pdq.js';
export type { PdqDihedralResult, PdqResult } from './algorithms/pdq.js';
export { DIHEDRAL_NAMES } from './algorithms/dihedral.js';
export type { DihedralName } from './algorithms/dihedral.js';
export { hammingDistance, parseHex, formatHex } from './algorithms/hex.js';

export { chooseSearchTier, MIN_SUBSTRING_BITS, MAX_SUBSTRING_BITS, SEARCH_TIERS } from './search/tier.js';
export type { SearchTier, SearchTierOptions } from './search/tier.js';

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
export const readSnapshot: (path: string, options?: ReadSnapshotOptions) => Promise<Snapshot> = readSnapshotTables;
export { writeSnapshot } from './snapshot/write.js';
export { snapshotKeyId } from './snapshot/sign.js';
export { SNAPSHOT_VERSION } from './snapshot/format.js';
export type {
  ReadSnapshotOptions,
  Snapshot,
  SnapshotList,
  SnapshotQuarantine,
  SnapshotAlgorithm,
  SnapshotSource,
  SnapshotSummary,
  SnapshotVideos,
} from './snapshot/format.js';

export { normalizeEntry } from './lists/entry.js';
export type { ListEntry, ListEntryInput, EntryMetadata } from './lists/entry.js';
export { detectListFormat } from './lists/detect.js';
export {
  DEDUPE_POLICIES,
  LIST_FORMATS,
  LIST_READ_FORMATS,
  MAX_ROW_PROBLEMS,
  DEFAULT_MAX_LIST_BYTES,
  MAX_LIST_LINE_BYTES,
} from './lists/formats.js';
export { parseList, readListFile } from './lists/parse.js';
export type { ListReadFormat } from './lists/formats.js';
export { EXPORT_FORMATS, formatList, writeListFile, type ExportFormat } from './lists/write.js';
export type {
  ListFormat,
  RowErrorPolicy,
  DedupePolicy,
  ParseListOptions,
  ReadListFileOptions,
  RowProblem,
  ParsedList,
} from './lists/formats.js';
export {
  streamListFile,
  DEFAULT_MAX_STREAM_BYTES,
  DEFAULT_LIST_BATCH_SIZE,
} from './lists/stream.js';
export type { ListRow, ListBatch, ListStreamSummary, StreamListOptions } from './lists/stream.js';
