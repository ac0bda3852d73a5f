/**
 * The vPDQ matching matrix of issue 24: every sample clip of ../shared/reference/vpdq hashed as a
 * deployment would hash it and matched against the others, at python-threatexchange's defaults.
 * Each rendition of one clip (the clip's name up to its first `-`: chair, pattern, doorknob) must
 * match its siblings and no other clip. Shared by bench/vpdq-matrix.ts (the table in
 * docs/video.md) and src/video/matrix.test.ts.
 *
 * The setup (the default, {@link DEPLOYMENT_SETUP}): a list hashes its known videos once, every
 * frame (`secondsPerHash` 0) and inside their bars (`trim`), and holds both frame sets in one
 * entry (`listedVpdqFrames`); an upload is hashed at one frame a second with `trim`, and matches a
 * listed video when either of its sets does (`matchVideoFrameSets`).
 */
import { join } from 'node:path';
import { hammingDistance, parseHex } from '../algorithms/hex.js';
import type { VpdqFeature } from '../algorithms/vpdq.js';
import { matchVpdqBrute, prepareVpdqFrames, type VpdqShares, VpdqIndex } from '../search/vpdq.js';
import { hashVideo, type VideoHashResult } from '../video/hash.js';
import { listedVpdqFrames, matchVideoFrameSets, type VideoFrameSets } from '../video/renditions.js';
import { vpdqClips } from './vpdq-conformance.js';

/** How the list's and the upload's frames are hashed. */
export interface MatrixSetup {
  /** `secondsPerHash` of the listed videos (0: every frame). */
  readonly listSecondsPerHash: number;
  /** `secondsPerHash` of the uploads. */
  readonly querySecondsPerHash: number;
  /** `hashVideo`'s `trim`, both sides: frames also hashed inside their bars. */
  readonly trim: boolean;
  /**
   * Take an upload's frames from its list hash (the frames numbered a multiple of the upload's
   * frame step) instead of decoding it again: the same frames by construction (both keep frame
   * `n` when `n` is a multiple of the step), at half the decoding. The bench decodes again.
   */
  readonly sampleFromList: boolean;
}

/** A list hashed every frame and inside the bars, uploads one frame a second: what docs/video.md recommends. */
export const DEPLOYMENT_SETUP: MatrixSetup = Object.freeze({
  listSecondsPerHash: 0,
  querySecondsPerHash: 1,
  trim: true,
  sampleFromList: false,
});

/** One query clip against one listed clip. */
export interface MatrixCell {
  readonly query: string;
  readonly listed: string;
  /**
   * The two shares, percent, from the brute-force reference (every pair of frames), of the
   * upload's set that matched more of its frames (whole frames on a tie).
   */
  readonly queryMatchPercent: number;
  readonly listedMatchPercent: number;
  /** Whether the index, at pytx's default thresholds, reported the listed clip. */
  readonly matched: boolean;
  /** The query share the index reported (NaN when it reported none). */
  readonly indexQueryMatchPercent: number;
  /** Median over the query's frames (quality ≥ 50, unique) of the distance to the nearest listed frame. */
  readonly medianNearest: number;
  /** Least distance between a frame of the query (either set) and one of the listed clip. */
  readonly minNearest: number;
}

/** The matrix: clips in name order, `cells[q][l]` the query `clips[q]` against the listed `clips[l]`. */
export interface VpdqMatrix {
  readonly setup: MatrixSetup;
  readonly clips: readonly string[];
  /** Frames of each clip's list entry (both sets), and of its upload (whole frames). */
  readonly listedFrames: readonly number[];
  readonly queryFrames: readonly number[];
  /** Clips with black bars: their `trimmed` set was there. */
  readonly barred: readonly string[];
  readonly cells: readonly (readonly MatrixCell[])[];
}

/** The clip a rendition is of: its name up to the first `-` (`chair-22-sd-grey-bar` → `chair`). */
export function clipFamily(clip: string): string {
  return clip.split('-')[0] as string;
}

/** Each of `query`'s prepared frames' distance to the nearest of `listed`'s, rising (empty when either has none). */
function nearest(query: readonly VpdqFeature[], listed: readonly VpdqFeature[]): number[] {
  const l = prepareVpdqFrames(listed).map((f) => parseHex(f.hash, 32, 'vpdq'));
  if (l.length === 0) return [];
  return prepareVpdqFrames(query)
    .map((f) => parseHex(f.hash, 32, 'vpdq'))
    .map((q) => Math.min(...l.map((x) => hammingDistance(q, x))))
    .sort((a, b) => a - b);
}

/** The frames of `video` numbered a multiple of `step`, in both sets: what hashing it every `step` frames gives. */
function sampled(video: VideoHashResult, step: number): VideoFrameSets {
  const keep = (f: { frame: number }): boolean => f.frame % step === 0;
  const frames = video.frames.filter(keep);
  return video.trimmed === undefined ? { frames } : { frames, trimmed: video.trimmed.filter(keep) };
}

/** The upload's sets one by one: whole frames first, so they win a tie as in `matchVideoFrameSets`. */
function setsOf(video: VideoFrameSets): (readonly VpdqFeature[])[] {
  return video.trimmed === undefined ? [video.frames] : [video.frames, video.trimmed];
}

/** The brute force's shares of the set that matched more of the upload (the first on a tie). */
function bruteShares(query: VideoFrameSets, listed: readonly VpdqFeature[]): VpdqShares {
  let best: VpdqShares | undefined;
  for (const set of setsOf(query)) {
    const shares = matchVpdqBrute(set, listed);
    if (best === undefined || shares.queryMatchPercent > best.queryMatchPercent) best = shares;
  }
  return best as VpdqShares;
}

/**
 * Hashes every sample clip of the reference folder `root` as `setup` says (default: the
 * deployment's, {@link DEPLOYMENT_SETUP}), lists each as one entry, matches each against all with
 * the index and the brute force.
 */
export async function vpdqMatrix(root: string, setup: MatrixSetup = DEPLOYMENT_SETUP): Promise<VpdqMatrix> {
  const clips = vpdqClips(root);
  const listed: VpdqFeature[][] = [];
  const queries: VideoFrameSets[] = [];
  const barred: string[] = [];
  for (const clip of clips) {
    const path = join(root, 'videos', `${clip}.mp4`);
    const list = await hashVideo(path, { secondsPerHash: setup.listSecondsPerHash, trim: setup.trim });
    listed.push(listedVpdqFrames(list));
    if (list.trimmed !== undefined) barred.push(clip);
    if (setup.sampleFromList) {
      // The upload's frame step, as hashVideo computes it (the reference's frameMod).
      const step = Math.max(1, Math.trunc(setup.querySecondsPerHash * list.frameRate));
      if (step % list.frameStep !== 0) throw new RangeError(`${clip}: the upload's frames are not among the list's`);
      queries.push(sampled(list, step));
    } else queries.push(await hashVideo(path, { secondsPerHash: setup.querySecondsPerHash, trim: setup.trim }));
  }
  const index = VpdqIndex.fromEntries(clips.map((clip, i) => ({ list: 'samples', id: clip, hash: listed[i] ?? [] })));
  const cells = clips.map((query, q) => {
    const upload = queries[q] as VideoFrameSets;
    const reported = new Map(matchVideoFrameSets(index, upload).map((m) => [m.entryId, m.queryMatchPercent]));
    return clips.map((clip, l) => {
      const frames = listed[l] ?? [];
      const whole = nearest(upload.frames, frames);
      const all = setsOf(upload).flatMap((set) => nearest(set, frames));
      return {
        query,
        listed: clip,
        ...bruteShares(upload, frames),
        matched: reported.has(clip),
        indexQueryMatchPercent: reported.get(clip) ?? Number.NaN,
        medianNearest: whole.length === 0 ? 256 : (whole[Math.floor((whole.length - 1) / 2)] as number),
        minNearest: Math.min(256, ...all),
      };
    });
  });
  return {
    setup,
    clips,
    listedFrames: listed.map((f) => f.length),
    queryFrames: queries.map((v) => v.frames.length),
    barred,
    cells,
  };
}

/**
 * What must never happen: a clip matching a different clip (a false positive), or the index's
 * decision or share disagreeing with the brute force at pytx's defaults (≥ 80% of the query).
 * Empty when the matrix holds.
 */
export function matrixProblems(matrix: VpdqMatrix): string[] {
  const problems: string[] = [];
  for (const cell of matrix.cells.flat()) {
    if (cell.matched && clipFamily(cell.query) !== clipFamily(cell.listed))
      problems.push(`${cell.query} matches ${cell.listed}, another clip (${shares(cell)})`);
    if (cell.matched !== cell.queryMatchPercent >= 80)
      problems.push(`${cell.query} × ${cell.listed}: the index and the brute force disagree`);
    else if (cell.matched && cell.indexQueryMatchPercent !== cell.queryMatchPercent)
      problems.push(
        `${cell.query} × ${cell.listed}: the index reports ${cell.indexQueryMatchPercent}%, the brute force ${cell.queryMatchPercent}%`,
      );
  }
  return problems;
}

/** The sibling pairs that do not match (renditions of one clip too far apart), with their shares. */
export function siblingMisses(matrix: VpdqMatrix): string[] {
  return matrix.cells
    .flat()
    .filter((c) => !c.matched && clipFamily(c.query) === clipFamily(c.listed))
    .map((c) => `${c.query} × ${c.listed}: ${shares(c)}, median nearest-frame distance ${c.medianNearest}`);
}

/**
 * The safety margin: over pairs of different clips, the highest query share (brute force) and
 * the least distance between a frame of one and a frame of the other.
 */
export function crossClipMargin(matrix: VpdqMatrix): { maxQueryMatchPercent: number; minDistance: number } {
  const cross = matrix.cells.flat().filter((c) => clipFamily(c.query) !== clipFamily(c.listed));
  return {
    maxQueryMatchPercent: Math.max(0, ...cross.map((c) => c.queryMatchPercent)),
    minDistance: Math.min(256, ...cross.map((c) => c.minNearest)),
  };
}

function shares(cell: MatrixCell): string {
  return `${cell.queryMatchPercent.toFixed(1)}% / ${cell.listedMatchPercent.toFixed(1)}%`;
}
