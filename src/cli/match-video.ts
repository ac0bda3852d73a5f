/**
 * A video in `hashwarden match`: matched through `matchVideo` with the command's matcher (its vPDQ
 * entries and its MD5/SHA-256 lists), and printed as an image's outcome is: `MATCH` lines naming
 * the listed video and the matched frame timestamps, or `no match` / `UNCHECKED` with what was not
 * used and why; `--json` the same object shape as an image's.
 */
import type { DecisionLog, Match, Matcher } from '../index.js';
import type { HashVideoOptions, VideoMatchResult, VpdqThresholds } from '../video/index.js';
import { jsonLine, textLine } from './escape.js';
import { noUsableFrame, usableFrames, type VideoModule } from './video.js';

/** Frame pairs a text line names; `--json` has them all. */
const TEXT_FRAME_PAIRS = 20;

/** What the command passes for each video. */
export interface VideoMatchSettings {
  readonly video: VideoModule;
  readonly options: HashVideoOptions;
  readonly thresholds: VpdqThresholds;
  /** The decision log `match --log` keeps, if any. */
  readonly log?: DecisionLog;
  /** The file's content id in the log (none for a path too long to be one). */
  readonly contentId?: string;
}

/** A video matched, with whether it was checked and what was not used. */
export interface VideoOutcome {
  readonly kind: 'video';
  readonly result: VideoMatchResult<Match>;
  readonly checked: boolean;
  readonly unusable: Readonly<Record<string, string>>;
  readonly usable: number;
}

/** The hash types of a video the matcher holds entries of: vPDQ (its `describe()` row of videos), MD5, SHA-256. */
function videoTypesHeld(matcher: Matcher): { readonly vpdq: boolean; readonly exact: boolean } {
  const held = matcher.describe().filter((table) => table.count > 0);
  return {
    vpdq: held.some((table) => table.algorithm === 'vpdq'),
    exact: held.some((table) => table.algorithm === 'md5' || table.algorithm === 'sha256'),
  };
}

/**
 * Matches one video. It was checked when it matched, or when its vPDQ hash was searched (a frame
 * of quality 50 or more) wherever the lists hold vPDQ entries and at least one of its hash types
 * (vPDQ, MD5, SHA-256) is held: a video against lists of image hashes alone was not checked.
 */
export async function matchVideoFile(matcher: Matcher, file: string, s: VideoMatchSettings): Promise<VideoOutcome> {
  const context = s.contentId === undefined ? {} : { contentId: s.contentId };
  let result: VideoMatchResult<Match>;
  try {
    // The matcher logs only the vPDQ lookup, and nothing when the video cannot be hashed: the
    // record of the whole decision (exact matches too) is written below instead.
    result = await s.video.matchVideo(file, { ...s.options, ...s.thresholds, matcher, decision: false });
  } catch (error) {
    s.log?.logNotChecked(error, context);
    throw error;
  }
  const held = videoTypesHeld(matcher);
  const unusable: Record<string, string> = {};
  const none = noUsableFrame(s.video, result.frames);
  if (held.vpdq && none !== undefined) unusable.vpdq = none;
  if (!held.vpdq && !held.exact) unusable.lists = 'no list holds a hash a video has (vpdq, md5, sha256)';
  const checked = result.matched || Object.keys(unusable).length === 0;
  const usable = usableFrames(s.video, result.frames);
  s.log?.logResult(
    {
      matched: result.matched,
      // Small whatever the video's length, as the matcher's own video records: frame pairs counted, not listed.
      matches: [
        ...result.videos.map(({ frames, ...video }) => ({ ...video, matchedFrames: frames.length })),
        ...result.exact,
      ],
      query: { algorithm: 'vpdq', frames: result.frames.length, usableFrames: usable },
      hashes: { md5: result.md5, sha256: result.sha256 },
      unusable,
      checked,
    } as Parameters<DecisionLog['logResult']>[0],
    context,
  );
  return { kind: 'video', result, checked, unusable, usable };
}

/** Seconds as Meta's lines print them: 3 decimals. */
function seconds(value: number): string {
  return value.toFixed(3);
}

/** The outcome as text lines: one `MATCH` line per match, else one `no match` or `UNCHECKED` line. */
export function describeVideo(file: string, outcome: VideoOutcome): string {
  const { result, checked, unusable } = outcome;
  const notUsed = Object.entries(unusable)
    .map(([name, why]) => `  (${name} not used: ${why})`)
    .join('');
  if (!result.matched) return textLine(`${checked ? 'no match ' : 'UNCHECKED'} ${file}${notUsed}`);
  const exact = result.exact.map((m) =>
    textLine(
      `MATCH     ${file}  list=${m.list} entry=${m.entryId} ${m.algorithm} distance=${m.distance}${m.label === undefined ? '' : ` label=${m.label}`}${m.listLabel === undefined ? '' : ` list-label=${m.listLabel}`}${m.listVersion === undefined ? '' : ` list-version=${m.listVersion}`}${notUsed}`,
    ),
  );
  const videos = result.videos.map((v) => {
    const pairs = v.frames
      .slice(0, TEXT_FRAME_PAIRS)
      .map((p) => `${seconds(p.querySeconds)}s->${seconds(p.listedSeconds)}s:${p.distance}`)
      .join(',');
    const more = v.frames.length > TEXT_FRAME_PAIRS ? `,+${v.frames.length - TEXT_FRAME_PAIRS} more` : '';
    const { listLabel, listVersion } = v as { listLabel?: string; listVersion?: number };
    return textLine(
      `MATCH     ${file}  list=${v.list} entry=${v.entryId} vpdq query=${percent(v.queryMatchPercent)}% listed=${percent(v.listedMatchPercent)}% frames=${pairs}${more}${v.label === undefined ? '' : ` label=${v.label}`}${listLabel === undefined ? '' : ` list-label=${listLabel}`}${listVersion === undefined ? '' : ` list-version=${listVersion}`}${notUsed}`,
    );
  });
  return [...videos, ...exact].join('');
}

/** A share as a person reads it: at most one decimal. */
function percent(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/**
 * The outcome as one `--json` line, laid out as an image's: `file`, `matched`, `matches` (listed
 * videos, then exact matches), `hashes` (md5, sha256, vpdq's signal text), `unusable`, then the
 * video's `vpdqFrames` and `vpdqUsableFrames` (as an animation adds its frame counts), `checked`.
 */
export function videoJson(file: string, outcome: VideoOutcome, video: VideoModule): string {
  const { result, checked, unusable, usable } = outcome;
  return jsonLine({
    file,
    matched: result.matched,
    matches: [...result.videos, ...result.exact],
    hashes: { md5: result.md5, sha256: result.sha256, vpdq: video.formatVpdqJson(result.frames) },
    unusable,
    vpdqFrames: result.frames.length,
    vpdqUsableFrames: usable,
    checked,
  });
}
