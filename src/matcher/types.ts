import type { KeyObject } from 'node:crypto';
import type { DihedralName } from '../algorithms/dihedral.js';
import { type AlgorithmName, type Thresholds } from '../algorithms/registry.js';
import { type Settled } from '../concurrency.js';
import type {
  FrameHashes,
  HashImageOptions,
  ImageHashes,
  ImageInfo,
  ImageQualities,
  UnusableHashes,
} from '../image/index.js';
import { type EntryMetadata } from '../lists/entry.js';
import type { ExactHashes } from '../image/upload.js';
import { type TableSearch } from '../search/tables.js';
import type { DecisionLog } from '../log/decision-log.js';
import type { SnapshotQuarantine } from '../snapshot/format.js';
import type { VpdqMatchOptions, VpdqVideoMatch } from '../search/vpdq.js';

/** One entry that matched a query. */
export interface Match {
  readonly list: string;
  readonly entryId: string;
  readonly algorithm: AlgorithmName;
  /** Hamming distance between the query and the entry (0 for exact hashes). */
  readonly distance: number;
  /** The entry's hash, lower-case hex. */
  readonly hash: string;
  /**
   * Perceptual matches in `matchImage` with `dihedral` on: which rotation or flip of the upload
   * matched (`'original'` when the upload as it is), one of `DIHEDRAL_NAMES`.
   */
  readonly transform?: DihedralName;
  /**
   * Perceptual matches in `matchImage` with `trim` on: true when the match was found on what lies
   * inside the upload's uniform border (letterbox, pillarbox, frame, padding), absent otherwise.
   */
  readonly trimmed?: true;
  /**
   * Perceptual matches of an animated upload (GIF, WebP): the frame, 0-based, whose hash matched
   * (the first such frame when several did equally near). Absent for a still image and for exact
   * hashes, which are of the whole file.
   */
  readonly frame?: number;
  /** The entry's label (`csam`, …), when it has one. */
  readonly label?: string;
  readonly metadata?: EntryMetadata;
  /** The list's label: what a match on it means to the caller (`block-and-report`, `review`…), when set. */
  readonly listLabel?: string;
  /** The version of the list the entry came from, when the source has versions (stores, snapshots). */
  readonly listVersion?: number;
  /**
   * The entry is in a match storm and the matcher holds such matches for review (`storm.hold`):
   * review the upload rather than block it on this match alone. Absent otherwise.
   */
  readonly review?: true;
}

/**
 * A list as a matcher holds it: its name, version and policy. From a store or a snapshot, or
 * given to `fromEntries`; a list with entries but no policy uses the matcher's thresholds.
 */
export interface MatcherList {
  readonly name: string;
  readonly version?: number;
  /** Per-algorithm thresholds for this list; an algorithm not named uses the matcher's. */
  readonly thresholds?: Thresholds;
  /** What a match on this list means (`block-and-report`, `review`…): `Match.listLabel`. */
  readonly label?: string;
  /**
   * A snapshot's list: the entries quarantined when it was exported (`SnapshotList.quarantined`),
   * which its tables leave out. Absent otherwise (a store's quarantines: `HashStore.quarantined`).
   */
  readonly quarantined?: readonly SnapshotQuarantine[];
  /**
   * `'allow'`: an allow list, whose entries are known-good images. An upload matching one of them
   * within this list's threshold is not blocked by block-list matches of the same algorithm
   * (`ImageMatchResult.allowed`). Default `'block'`.
   */
  readonly action?: 'block' | 'allow';
}

/**
 * An allow-list entry that matched an upload (`by`, within its list's own threshold), and the
 * block-list matches of the same algorithm, on the same frames, it overrode: they were removed from
 * `matches`. Each allow match that counted appears once as `by`; the block matches overridden are
 * all given to the nearest allow match of their algorithm (the others have an empty `overrode`).
 */
export interface AllowedMatch {
  readonly by: Match;
  readonly overrode: readonly Match[];
}

/** The exact hashes of an upload's bytes (declared with the upload's hashing: src/image/upload.ts). */
export type { ExactHashes } from '../image/upload.js';

/** Options of a matcher. */
export interface MatcherOptions {
  /** Thresholds used when a call sets none. Default: each algorithm's `defaultThreshold`. */
  readonly thresholds?: Thresholds;
  /** Options for hashing in `matchImage` (resolution, limits). Default: `hashImage`'s defaults. */
  readonly image?: Omit<HashImageOptions, 'algorithms'>;
  /**
   * How perceptual hashes are searched. `tier`: `'auto'` (multi-index hashing from about 180k
   * entries, where its tables fit 80 bytes an entry; the linear scan below), `'linear'` or
   * `'mih'`; `substringBits`: the MIH substring width, 8–24 (default: from the list size). Every
   * tier returns exactly the same matches; only speed and memory differ. A snapshot keeps the
   * index it was written with unless this option is given. Default: `{ tier: 'auto' }`.
   */
  readonly search?: { readonly tier?: 'auto' | 'linear' | 'mih'; readonly substringBits?: number };
  /**
   * Accept a source with no entry to match (an empty list, every list disabled). A matcher over
   * nothing answers "no match" to every upload, which for this domain is failing open, so by
   * default `fromEntries`, `open`, `openSnapshot` and `reload` refuse it with `ERR_NO_ENTRIES`.
   * Default `false`.
   */
  readonly allowEmpty?: boolean;
  /**
   * Uploads read, decoded and hashed at once by this matcher, over every `matchImage` and
   * `matchImages` call, 1–1024: a call beyond them waits its turn, first come, first served.
   * Default {@link DEFAULT_MATCH_CONCURRENCY} (4).
   */
  readonly concurrency?: number;
  /**
   * `matchImage` calls that may wait for a turn beyond those in hand: one that would find this
   * many waiting already rejects at once with `ERR_BUSY` (not checked: retry it or hold the
   * upload). An integer ≥ 0, or `Infinity` for no limit. `matchImages`' items wait in the same line
   * but are never refused. Default {@link DEFAULT_MAX_QUEUED} (64).
   */
  readonly maxQueued?: number;
  /**
   * Ed25519 public keys (KeyObject or PEM, `hashwarden keygen` writes them) whose snapshot
   * signatures are trusted; several for a key rotation. When given, `open`, `openSnapshot` and
   * `reload` refuse a snapshot that is not signed by one of them, or changed in any byte since,
   * with `ERR_SNAPSHOT_SIGNATURE`, and a SQLite store (it carries no signature) the same way.
   * Default: signatures are not checked.
   */
  readonly trustedKeys?: readonly (KeyObject | string)[];
  /**
   * The lowest snapshot sequence `open` and `openSnapshot` accept (`ERR_SNAPSHOT_ROLLBACK` below
   * it): give the last sequence an instance served, so a fresh instance cannot be handed an older,
   * validly signed snapshot. Only for snapshots. Default 0.
   */
  readonly minSequence?: number;
  /**
   * Let `reload` swap in a snapshot whose sequence is lower than the one served (a deliberate
   * rollback). Default `false`: such a snapshot is refused with `ERR_SNAPSHOT_ROLLBACK` and the
   * matcher keeps serving the lists it has.
   */
  readonly allowRollback?: boolean;
  /**
   * Threads that decode and hash uploads (sharp, then PDQ, blockhash, their turned hashes, the
   * border), 0–1024, so the calling thread only reads an upload, hands its bytes over and
   * searches: its event loop stays free for other requests. Default 0: decoded and hashed from the
   * calling thread, no thread started (serverless functions and one-shot jobs, where a thread's
   * start would cost more than it frees). On a server: the cores less one. Measured on 2 cores
   * (docs/benchmark.md, issue 19): more calls a second, both cores busy, the same p99, a far less
   * busy event loop, more memory. Threads start with the first upload and as uploads wait for one (at most
   * the `concurrency` uploads in hand), and do not keep the process alive. Results and errors are
   * the same either way.
   */
  readonly hashThreads?: number;
  /**
   * The match-rate alarm: matches are counted per entry over a sliding `window` (ms, default 10
   * minutes), and an entry that matches `threshold` times within it (default 100) is in a storm:
   * `onStorm` is called once as it starts, and with `hold` its matches carry `review: true` until
   * someone decides (`releaseStorm`, or quarantine and reload); an unheld or released storm ends
   * when the count falls below half the threshold. `storms()` lists them. At most `maxTracked` entries
   * (default 10,000) are counted at once, the least recently matched forgotten beyond, so memory
   * is bounded whatever the traffic. Every match of `matchImage`, `matchImages`, `matchHash`,
   * `matchHashes` and `matchVpdq` counts, per instance. `false` turns counting off. Default: on, `hold` off.
   */
  readonly storm?: StormOptions | false;
  /**
   * Called once when an entry starts a match storm (see `storm`), synchronously inside the match
   * that reached the threshold: keep it quick (log, alert, queue a review). An exception it throws
   * is written as a process warning and the match goes on. Without it, a storm is written as a
   * process warning (`HashwardenWarning`), so it is never silent.
   */
  readonly onStorm?: (event: StormEvent) => void;
  /**
   * A decision log (`DecisionLog.open`) every `matchImage`, `matchImages`, `matchHash`,
   * `matchHashes` and `matchVpdq` decision is appended to: the result (hashes, matches with the
   * threshold each was found within, and whatever else the result holds; for a video, its frame
   * count and each match's shares and thresholds, never a frame), or "not checked" with the
   * error's code when the call rejects, with the call's `contentId`. Appending never throws into the call: a record that cannot be written goes
   * to the log's `onError`. Default: no log.
   */
  readonly decisionLog?: DecisionLog;
}

/**
 * How one algorithm's entries are held and searched, as `Matcher.describe()` reports it; for the
 * vPDQ entries (`algorithm: 'vpdq'`), how their frames are.
 */
export interface MatcherTableInfo {
  readonly algorithm: AlgorithmName | 'vpdq';
  /** Entries of this algorithm (for vPDQ: listed videos). */
  readonly count: number;
  /** `'linear'` scan, `'mih'` (multi-index hashing), or `'exact'` (hash table). */
  readonly tier: TableSearch['tier'];
  /** MIH only: the width of each substring (table), summing to the hash's bits. */
  readonly substringBits?: readonly number[];
  /** vPDQ only: the unique frame hashes indexed (quality 50 or more, across every video). */
  readonly frames?: number;
}

/** Options of `matchHash` and `matchHashes`; `matchImage` and `matchImages` take them too. */
export interface MatchHashOptions {
  /**
   * Largest distance that matches, for this call and every list: one number for every perceptual
   * algorithm (exact hashes match by equality), or per algorithm (`{ pdq: 31, blockhash: 8 }`).
   * An algorithm not named uses each list's threshold, else the matcher's. Default: none.
   */
  readonly threshold?: number | Thresholds;
  /**
   * The caller's id for the upload or the lookup (a key, a path), up to 1,024 characters: written
   * to the matcher's `decisionLog` with its decision; for `matchImages` and `matchHashes` with
   * each item's index. Default: none.
   */
  readonly contentId?: string;
  /**
   * `false` for a call that decides nothing, one made only for an upload's hashes (the sidecar's
   * `/h/hash`, whose hashes a client then looks up by hash): its matches are not counted by the
   * match-rate alarm and it is not written to the decision log, so that the lookup that follows is
   * not counted or logged twice. Default `true`.
   */
  readonly decision?: boolean;
}

/**
 * Options of `matchVpdq`: the vPDQ thresholds of the call (`distance`, `queryMatchPercent`,
 * `listedMatchPercent` for every list; `lists` for some lists: each field falls back to the
 * call's `lists` entry, then pytx's default: 31 bits, 80%, 0%), and the log and early-stop options
 * the other calls take.
 */
export interface MatchVpdqOptions extends VpdqMatchOptions {
  /** The caller's id for the upload, up to 1,024 characters, written to the decision log with its decision. */
  readonly contentId?: string;
  /** `false` for a call that decides nothing: not written to the decision log. Default `true`. */
  readonly decision?: boolean;
  /**
   * Only the best block match (the highest share of the query's frames, then of the listed
   * video's, then the first in the lists' order), once allow lists have applied: for upload paths
   * that only need to know whether to block. Default `false`.
   */
  readonly first?: boolean;
}

/** A listed video that matched (`matchVpdq`), with its list's label and version as `Match` carries them. */
export interface VideoMatch extends VpdqVideoMatch {
  /**
   * The listed video is in a match storm and the matcher holds such matches for review
   * (`storm.hold`), as `Match.review`. Absent otherwise.
   */
  readonly review?: true;
  /** The list's label (`Match.listLabel`), when set. */
  readonly listLabel?: string;
  /** The version of the list the entry came from, when the source has versions (stores, snapshots). */
  readonly listVersion?: number;
}

/** Options of `matchImage`. */
export interface MatchImageOptions extends MatchHashOptions {
  /**
   * Thresholds for this call, per algorithm.
   *
   * @deprecated Use `threshold`, which takes the same object (or one number); giving both is a
   * TypeError.
   */
  readonly thresholds?: Thresholds;
  /** Which hashes to compute and match. Default: every algorithm the lists contain. */
  readonly algorithms?: readonly AlgorithmName[];
  /**
   * Also match the upload turned and mirrored: the 8 rotations and flips of each perceptual hash,
   * derived from the one decode, are each searched and every entry is reported once, at its
   * nearest, with the `transform` that matched. Mirroring or rotating is the cheapest evasion of a
   * perceptual hash; it costs 8 searches instead of one (docs/benchmark.md) and, on
   * unrelated images about 128 bits apart, adds no measurable chance match. Default: `true`
   * (or the matcher's `image.dihedral`).
   */
  readonly dihedral?: boolean;
  /**
   * Also match what lies inside the upload's uniform border, when it has one (black bars added to
   * fit a frame, padding, a plain frame): such a border moves every block and frequency of a
   * perceptual hash, and a 10% border defeated PDQ and blockhash on every photo measured
   * (docs/thresholds.md). Costs a second hashing only for images with a border. Default: `true`
   * (or the matcher's `image.trim`).
   */
  readonly trim?: boolean;
  /**
   * Stop at the first list entry found instead of finding them all: exact hashes are computed and
   * looked up first, from the bytes alone, and the image is decoded only when none matched; then
   * each perceptual algorithm in turn, its nearest match. For upload paths that only need to
   * know whether to block. Default `false` (every match, nearest first). Allow lists are applied
   * to each algorithm's matches before the first is taken: an algorithm whose every block match an
   * allow entry overrides stops nothing, and the search goes on to the next algorithm, which an
   * allow entry of another algorithm never hides.
   */
  readonly first?: boolean;
  /**
   * Report the upload's MD5, SHA-1 and SHA-256 (`exactHashes`) even when no list holds exact hashes,
   * for a reviewer or a report to a clearinghouse. Those the call hashes anyway are not hashed
   * again. Default `false` (they are reported anyway when any list holds exact hashes).
   */
  readonly exact?: boolean;
}

/** The result of `matchImage`. */
export interface ImageMatchResult {
  /** True when any entry matched, once allow lists have overridden what they allow (`matches` not empty). */
  readonly matched: boolean;
  /** Block-list matches, nearest first; allow-list matches and the matches they overrode are in `allowed`. */
  readonly matches: readonly Match[];
  /**
   * Allow-list entries that matched, nearest first, each with the block matches it overrode
   * (docs/lists.md, "Allow lists"). Absent when no allow entry matched.
   */
  readonly allowed?: readonly AllowedMatch[];
  /**
   * The upload's MD5, SHA-1 and SHA-256, lower-case hex, when any list held holds exact hashes or
   * the call passed `exact: true`. Of the bytes as uploaded (an animated upload's whole file).
   */
  readonly exactHashes?: ExactHashes;
  /** The image's hashes, as `hashImage` returns them. */
  readonly hashes: ImageHashes;
  /** Quality of the hashes that have one (PDQ). */
  readonly quality: ImageQualities;
  /**
   * Hashes that were computed but not matched, and why: a PDQ hash of quality below 50. A result
   * with `matched: false` and an entry here means "could not be checked by that hash", not clean.
   * For an animated upload, frame 0's (each frame's are in `frames`).
   */
  readonly unusable: UnusableHashes;
  /**
   * Animated uploads only: the perceptual hashes of each frame hashed, from frame 0, as `hashImage`
   * returns them. Fewer than `image.frameCount` when the frame limit (`maxFrames`, default 32) or
   * the pixel limit cut the hashing short: the later frames were not checked.
   */
  readonly frames?: readonly FrameHashes[];
  /**
   * How many hashes of the upload were looked up in the lists held (its turns, its inside of a
   * border and its frames each count). 0 with `matched: false` means nothing of the upload could be
   * searched (every hash refused, e.g. a featureless image against PDQ-only lists); whether every
   * list could be searched is `checked`.
   */
  readonly searched: number;
  /**
   * True when the upload was checked against every list the call could search: it matched, or
   * every algorithm the call searches (after its `algorithms` option) that the matcher holds
   * entries for had at least one hash of the upload looked up. Exact hashes are always looked up;
   * a perceptual hash the matcher refuses (`unusable`: PDQ quality below 50, a blockhash of a flat
   * or smooth image) leaves its algorithm's lists unchecked, because an image listed by PDQ alone
   * is not found by its blockhash. `false` means "not checked", never "clean": a blank upload
   * against perceptual lists is not checked; a service that accepts blank uploads decides so from
   * `unusable` (which says per algorithm why).
   */
  readonly checked: boolean;
  readonly image: ImageInfo;
  /** True when any match carries `review: true` (its entry is in a storm the matcher holds); absent otherwise. */
  readonly review?: true;
}

/**
 * Default number of images `matchImages` hashes at once, and a matcher's `concurrency`, its bound
 * on uploads in hand over every call: 4. sharp decodes on libuv's thread pool,
 * 4 threads unless `UV_THREADPOOL_SIZE` says otherwise, and hashing runs on the JavaScript thread
 * or the hashing threads (`hashThreads`), so on a machine of up to 4 cores more images in flight only wait, each
 * holding its bytes and raster: memory grows with the concurrency (at most about `maxBytes` +
 * 4 bytes × `maxPixels` an image), speed does not.
 */
export const DEFAULT_MATCH_CONCURRENCY = 4;

/**
 * Default number of `matchImage` calls a matcher lets wait beyond those in hand: 64. A waiting call
 * holds only its copy of the upload (the raster comes in turn): 64 typical uploads of a few MB are
 * a few hundred MB at most, and 64 at the 50 MiB byte limit 3,200 MiB, the worst case. At 4 in hand
 * the last of 64 waits 16 turns already, past what an upload request should wait; a call beyond
 * that is better refused at once (`ERR_BUSY`) for the caller to retry or hold than queued.
 */
export const DEFAULT_MAX_QUEUED = 64;

/** Options of `matchImages`: those of `matchImage`, for every item, and how many at once. */
export interface MatchImagesOptions extends MatchImageOptions {
  /** Images hashed and matched at once, 1–1024. Default {@link DEFAULT_MATCH_CONCURRENCY} (4). */
  readonly concurrency?: number;
}

/** One item of `matchImages`: its result, or the error that kept it from being checked. */
export type ImageBatchResult = Settled<ImageMatchResult>;

/** One item of `matchHashes`: its matches, or why it could not be matched. */
export type HashBatchResult =
  | { readonly ok: true; readonly matches: readonly Match[] }
  | { readonly ok: false; readonly error: unknown };

/** A query for `matchHash`: an algorithm and its hash (hex or bytes). */
export interface HashQuery {
  readonly algorithm: AlgorithmName | string;
  readonly hash: string | Uint8Array;
}

/** Options of the match-rate alarm, `MatcherOptions.storm`; `false` turns it off. */
export interface StormOptions {
  /** Milliseconds of the sliding window, 1,000 to a week. Default `DEFAULT_STORM_WINDOW_MS` (10 minutes). */
  readonly window?: number;
  /** Matches of one entry within the window that make a storm, ≥ 1. Default `DEFAULT_STORM_THRESHOLD` (100). */
  readonly threshold?: number;
  /**
   * Hold the matches of an entry in storm for review: each carries `review: true`, and so does the
   * result. They stay in `matches` and `matched` stays true; the caller decides. A held storm
   * lasts until released (`Matcher.releaseStorm`) or its entry is no longer counted (`maxTracked`),
   * however quiet the entry becomes. Default `false`.
   */
  readonly hold?: boolean;
  /** Entries counted at once, 1 to 1,000,000; the least recently matched is forgotten beyond. Default `DEFAULT_STORM_MAX_TRACKED`. */
  readonly maxTracked?: number;
}

/**
 * An entry that began a storm: it matched `count` times between `since` and `at`, at least the
 * threshold. Raised once when the storm starts, not for every match; a storm ends when the
 * entry's count in the window falls below half the threshold (a held one only once released),
 * and the next crossing raises again.
 */
export interface StormEvent {
  readonly list: string;
  readonly entryId: string;
  /** The entry's algorithm, `'vpdq'` for a listed video. */
  readonly algorithm: AlgorithmName | 'vpdq';
  /** Matches of the entry counted within the window, at least `threshold`. */
  readonly count: number;
  readonly threshold: number;
  /** The window, in milliseconds. */
  readonly window: number;
  /** Start of the time counted (milliseconds since the epoch): `at` less the window, to a tenth of it. */
  readonly since: number;
  /** When the storm was raised: the match that reached the threshold (milliseconds since the epoch). */
  readonly at: number;
  /** True when the matcher holds the entry's matches for review (`storm.hold`). */
  readonly held: boolean;
}

/** One entry of a list, as `Matcher.releaseStorm` names it. */
export interface StormEntry {
  readonly list: string;
  /** The algorithm's name, as matches carry it (`pdq`, `md5`…). */
  readonly algorithm: string;
  readonly entryId: string;
}

/** An entry in storm now, as `Matcher.storms()` lists it. */
export interface StormState {
  readonly list: string;
  /** The entry's algorithm, `'vpdq'` for a listed video. */
  readonly algorithm: AlgorithmName | 'vpdq';
  readonly entryId: string;
  /** Matches of the entry counted within the window as of now (to a tenth of the window). */
  readonly count: number;
  /** When the storm was raised (its `StormEvent`'s `at`, milliseconds since the epoch). */
  readonly since: number;
  /** True while its matches are held for review (`storm.hold`, not released). */
  readonly held: boolean;
  /** True once released (`Matcher.releaseStorm`): its matches block; it ends as an unheld storm does. */
  readonly released: boolean;
}
