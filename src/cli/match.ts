/**
 * `hashwarden match`: hash image and video files and match them against a store (SQLite, or
 * PostgreSQL read once) or a snapshot (`hashwarden export`); a video (told by its first bytes) by
 * its vPDQ frames and its MD5/SHA-256 (match-video.ts). Exit 1 when any file matched, whatever happened to the others (a script
 * reading only the status must never miss a match); else 2 when any file could not be checked
 * (unreadable, undecodable, or every hash it would be matched by refused), since an unchecked
 * file must not read as clean; else 0. Matching against no entries at all exits 2 before any file.
 */
import { availableParallelism } from 'node:os';
import { DecisionLog, Matcher, type ImageMatchResult } from '../index.js';
import { mapSettled } from '../concurrency.js';
import { DEFAULT_MAX_FRAMES, resolveImageOptions } from '../image/options.js';
import {
  CliRefusal,
  errorJson,
  EXIT,
  integerArgument,
  parseThresholds,
  required,
  usage,
  UsageError,
  type CliIo,
  type Command,
} from './command.js';
import { jsonLine, textLine } from './escape.js';
import { readKeyFile } from './keygen.js';
import { connectPostgres, isPostgresUrl, postgresDbHelp } from './postgres.js';
import { integerInRange } from '../validate.js';
import { describeVideo, matchVideoFile, videoJson, type VideoOutcome } from './match-video.js';
import {
  isVideoFile,
  loadVideo,
  resolveVideoArguments,
  VIDEO_OPTIONS,
  videoOptionsHelp,
  type VideoModule,
} from './video.js';
import type { VpdqThresholds } from '../video/index.js';

/** Longest path given as a decision's content id (`MatchImageOptions.contentId`'s limit); a longer one goes without. */
const MAX_CONTENT_ID = 1024;

function describe(file: string, result: ImageMatchResult, checked: boolean): string {
  // A hash the matcher refused (a featureless image's PDQ) did not check the image: say so; and
  // frames past the frame limit were not checked either.
  const hashedFrames = result.frames?.length ?? 0;
  const frameCount = result.image.frameCount ?? 0;
  const partly = hashedFrames < frameCount ? `  (frames 0-${hashedFrames - 1} of ${frameCount} checked)` : '';
  // What an allow list lifted: a reviewer must see why a listed hash did not block.
  const allowed = (result.allowed ?? [])
    .filter((a) => a.overrode.length > 0)
    .map((a) => `  (allowed by list=${a.by.list} entry=${a.by.entryId} ${a.by.algorithm}: ${a.overrode.length} lifted)`)
    .join('');
  const unchecked =
    Object.entries(result.unusable)
      .map(([name, why]) => `  (${name} not used: ${why})`)
      .join('') +
    partly +
    allowed;
  if (!result.matched) return textLine(`${checked ? 'no match ' : 'UNCHECKED'} ${file}${unchecked}`);
  return result.matches
    .map((m) =>
      textLine(
        `MATCH     ${file}  list=${m.list} entry=${m.entryId} ${m.algorithm} distance=${m.distance}${m.transform === undefined || m.transform === 'original' ? '' : ` transform=${m.transform}`}${m.trimmed === true ? ' trimmed' : ''}${m.frame === undefined ? '' : ` frame=${m.frame}`}${m.label === undefined ? '' : ` label=${m.label}`}${m.listLabel === undefined ? '' : ` list-label=${m.listLabel}`}${m.listVersion === undefined ? '' : ` list-version=${m.listVersion}`}${unchecked}`,
      ),
    )
    .join('');
}

/**
 * The matcher over exactly one of `--db` and `--snapshot`, opened even when empty: `run` refuses an
 * empty source itself, with a message naming it.
 */
async function openMatcher(
  db: string | undefined,
  snapshot: string | undefined,
  lists: string[] | undefined,
  maxFrames: string | undefined,
  trust: string[] | undefined,
  minSequence: string | undefined,
  decisionLog: DecisionLog | undefined,
  io: CliIo,
): Promise<Matcher> {
  if (db !== undefined && snapshot !== undefined)
    throw new UsageError('Expected one of --db and --snapshot but received both');
  // Checked here: the matcher checks image options only when it hashes, once per file.
  const image =
    maxFrames === undefined
      ? {}
      : { maxFrames: usage(() => resolveImageOptions({ maxFrames: integerArgument(maxFrames) }).maxFrames) };
  // No ERR_BUSY here: the files' own workers (one a core) bound the calls, which wait their turn.
  const trustedKeys =
    trust === undefined ? undefined : await Promise.all(trust.map((file) => readKeyFile(file, '--trust')));
  const options = {
    allowEmpty: true,
    image,
    maxQueued: Infinity,
    ...(decisionLog === undefined ? {} : { decisionLog }),
    ...(trustedKeys === undefined ? {} : { trustedKeys }),
    ...(minSequence === undefined
      ? {}
      : {
          minSequence: usage(() =>
            integerInRange(integerArgument(minSequence), 0, Number.MAX_SAFE_INTEGER, '--min-sequence'),
          ),
        }),
  };
  if (snapshot === undefined) {
    const path = required(db, '--db PATH or --snapshot FILE');
    const chosen = { ...options, ...(lists === undefined ? {} : { lists }) };
    if (!isPostgresUrl(path)) return Matcher.open(path, chosen);
    // Read once, in one transaction: the command never reloads, so the store is closed at once.
    const store = await connectPostgres(path, { readonly: true }, io);
    try {
      return await Matcher.open(store, chosen);
    } finally {
      await store.close();
    }
  }
  const path = required(snapshot, '--snapshot');
  if (lists !== undefined)
    throw new UsageError('--list cannot be used with --snapshot: a snapshot holds the lists it was exported with');
  return Matcher.openSnapshot(path, options);
}

export const matchCommand: Command = {
  name: 'match',
  usage:
    'FILE... (--db PATH [--list NAME]... | --snapshot FILE [--trust KEYFILE.pub]... [--min-sequence N]) [--json] [--threshold blockhash=N] [--no-dihedral] [--no-trim] [--max-frames N] [--query-match-percent P] [--listed-match-percent P] [--seconds-per-hash N] [--downsample N] [--ffmpeg PATH] [--ffprobe PATH] [--max-duration N] [--video-timeout N] [--log DIR]',
  summary: 'Match image and video files against the hash lists in a SQLite store or a snapshot.',
  help: `
Options:
  --db PATH             the SQLite store (see \`hashwarden import\`),
${postgresDbHelp(24)}
  --snapshot FILE       a snapshot (see \`hashwarden export\`) instead of --db; loads faster
  --trust KEYFILE.pub   load the snapshot only if it is signed by this Ed25519 public key
                        (\`hashwarden keygen\`; repeatable, for a key rotation) and unchanged
                        since; refused with ERR_SNAPSHOT_SIGNATURE otherwise. Not with --db:
                        a store carries no signature
  --min-sequence N      load the snapshot only if its sequence (\`export --sequence\`) is at
                        least N (ERR_SNAPSHOT_ROLLBACK otherwise)
  --list NAME           only this list of the store (repeatable, enabled or not); default
                        every enabled list. Not with --snapshot: a snapshot holds the lists
                        it was exported with
  --threshold A=N       Hamming-distance threshold for algorithm A, for every list (repeatable
                        or comma-separated); default: each list's own (\`hashwarden list set\`),
                        else the algorithm's default (blockhash 10, pdq 31); vpdq=N: the
                        distance at which a video's frame matches a listed frame (default
                        31, python-threatexchange's)
  --query-match-percent P
                        a video matches a listed video when at least P% of its usable
                        frames matched (default 80, python-threatexchange's)
  --listed-match-percent P
                        and at least P% of the listed video's frames did (default 0)
${videoOptionsHelp(24)}
  --json                one JSON object per line: {"file","matched","matches","hashes",
                        "unusable"} (an animated file adds "frameCount" and "framesHashed"),
                        then "checked" (false: some type's lists could not be searched),
                        or {"file","error":{"code","message"}}; a video's has
                        "vpdqFrames" and "vpdqUsableFrames" before "checked"
  --max-frames N        match at most the first N frames of an animated GIF or WebP
                        (default ${DEFAULT_MAX_FRAMES})
  --log DIR             append each file's decision (or "not checked" with its code) to the
                        hash-chained decision log in DIR, the file name as its content id;
                        check it with \`hashwarden log verify DIR\`. A record that cannot be
                        written is an error on standard error and exit 2 unless a file matched
  -h, --help            this text

Each upload is also matched turned and mirrored (8 orientations); a match found that way names
its transform (e.g. transform=flipY). An upload with a uniform border (letterbox or pillarbox
bars, a frame, padding) is also matched by what lies inside it; such a match says "trimmed". A
video's frames are also matched inside their black bars.
--no-dihedral and --no-trim turn these off. A PDQ hash of quality below 50 is not used, and the line
says so: "(pdq not used: PDQ quality 3 is below 50)" — that file was not checked by PDQ.
Every frame of an animated GIF or WebP up to --max-frames is matched; a match names its frame
(frame=2), and an animation longer than that says, e.g., "(frames 0-31 of 41 checked)": the
later frames were not checked.
A video (MP4/MOV, Matroska/WebM, AVI, MPEG-TS, FLV, ASF/WMV, told by its first bytes) is
hashed with FFmpeg (vPDQ: one frame a second by default) and matched as python-threatexchange
matches: frames of PDQ quality below 50 dropped, a frame matching a listed video's frame within
the vpdq distance, the video matching when the shares of its frames and of the listed video's
frames matched reach --query-match-percent and --listed-match-percent. Its MD5 and SHA-256 are
looked up in the exact lists. A video match names the listed video and its matched frames, the
upload's seconds to the listed video's and their distance:
  MATCH     clip.mp4  list=known entry=v1 vpdq query=100% listed=85.7% frames=0.000s->0.000s:0,1.000s->1.000s:2
(the first 20 pairs, then "+N more"; --json has all). A video none of whose frames reach
quality 50 is UNCHECKED "(vpdq not used: vPDQ: all 3 frames have PDQ quality below 50)" when
the lists hold videos; a video against lists holding no vpdq, md5 or sha256 entry is UNCHECKED.
A block match an allow list lifted (docs/lists.md, "Allow lists") is not a match; the line says
so: "(allowed by list=known-good entry=flag-2 pdq: 1 lifted)". --json shows them all (allowed).

A file was checked when it matched, or when every hash type the lists hold had at least one of
its hashes searched (MD5, SHA-1, SHA-256 always are). A file whose hash of some type was refused
(e.g. a featureless image, whose PDQ quality is below 50) was not checked against that type's
lists: an image listed by PDQ alone is not found by its blockhash. Its line starts with
UNCHECKED, not "no match", even when its other hashes were searched; so does a blank upload.

Exit status: 1 when any file matched, even if others could not be checked (the match is never
hidden); otherwise 2 when any file could not be checked (unreadable, neither an image nor a
video, UNCHECKED, no FFmpeg for a video: ERR_MISSING_DEPENDENCY),
or when the store or snapshot holds no entries to match against (empty store, every list
disabled, empty snapshot); 0 when every file was checked and none matched.`,
  options: {
    db: { type: 'string' },
    snapshot: { type: 'string' },
    json: { type: 'boolean' },
    threshold: { type: 'string', multiple: true },
    list: { type: 'string', multiple: true },
    'no-dihedral': { type: 'boolean' },
    'no-trim': { type: 'boolean' },
    'max-frames': { type: 'string' },
    trust: { type: 'string', multiple: true },
    'min-sequence': { type: 'string' },
    log: { type: 'string' },
    'query-match-percent': { type: 'string' },
    'listed-match-percent': { type: 'string' },
    ...VIDEO_OPTIONS,
  },
  async run(values, files, io) {
    if (files.length === 0) throw new UsageError('Missing FILE');
    // A record that cannot be written leaves that decision out of the log: said, and exit 2 unless a file matched.
    const log = { unlogged: false };
    const decisionLog =
      values.log === undefined
        ? undefined
        : await DecisionLog.open(required(values.log, '--log DIR'), {
            onError: (error) => {
              log.unlogged = true;
              io.err(textLine(`hashwarden match: ${error.code}: ${error.message}`));
            },
          });
    return matchFiles(values, files, decisionLog, log, io);
  },
};

/** An image matched. */
interface ImageOutcome {
  readonly kind: 'image';
  readonly result: ImageMatchResult;
}

/** A percent option as a number; anything else goes on as text, so the usage error quotes it. */
function percentArgument(value: unknown): number {
  return (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value) as number;
}

/**
 * The vPDQ thresholds given (`--threshold vpdq=N`, the two percent options), checked as
 * `matchVideo` checks them: a bad one is a usage error before anything is loaded. Those not given
 * are left to the matcher (python-threatexchange's defaults).
 */
function videoThresholds(
  video: VideoModule,
  distance: number | undefined,
  values: Parameters<Command['run']>[0],
): VpdqThresholds {
  const given: Record<string, number> = {};
  if (distance !== undefined) given.distance = distance;
  if (values['query-match-percent'] !== undefined)
    given.queryMatchPercent = percentArgument(values['query-match-percent']);
  if (values['listed-match-percent'] !== undefined)
    given.listedMatchPercent = percentArgument(values['listed-match-percent']);
  usage(() => video.resolveVpdqThresholds(given, '--threshold vpdq / --query-match-percent / --listed-match-percent'));
  return given;
}

/** Matches `files` and prints each outcome; closes `decisionLog` when done. */
async function matchFiles(
  values: Parameters<Command['run']>[0],
  files: string[],
  decisionLog: DecisionLog | undefined,
  log: { unlogged: boolean },
  io: CliIo,
): Promise<number> {
  try {
    const { vpdq: vpdqDistance, ...thresholds } = parseThresholds(values.threshold as string[] | undefined);
    const lists = values.list as string[] | undefined;
    // Every video option checked before the store is opened: a typo costs no load.
    const video = await loadVideo();
    const videoSettings = {
      video,
      // --no-trim turns off a video's frames inside their bars too, as it does an image's border.
      options: { ...resolveVideoArguments(video, values), ...(values['no-trim'] === true ? { trim: false } : {}) },
      thresholds: videoThresholds(video, vpdqDistance, values),
    };
    const matcher = await openMatcher(
      values.db as string | undefined,
      values.snapshot as string | undefined,
      lists,
      values['max-frames'] as string | undefined,
      values.trust as string[] | undefined,
      values['min-sequence'] as string | undefined,
      decisionLog,
      io,
    );
    // Checked here whatever the library does with an empty source: "no match" against no entries
    // would read as clean.
    if (matcher.size === 0) {
      const source =
        values.snapshot === undefined
          ? `the store ${isPostgresUrl(values.db as string) ? '(PostgreSQL)' : (values.db as string)}${lists === undefined ? ' (enabled lists)' : ` (lists ${lists.join(', ')})`}`
          : `the snapshot ${values.snapshot as string}`;
      throw new CliRefusal(`the lists are empty: ${source} holds no entries to match against, so nothing was checked`);
    }
    let matched = false;
    let failed = false;
    const dihedral = values['no-dihedral'] !== true;
    const trim = values['no-trim'] !== true;
    const contentId = (file: string) =>
      decisionLog === undefined || file.length > MAX_CONTENT_ID ? {} : { contentId: file };
    const matchFile = async (file: string): Promise<ImageOutcome | VideoOutcome> => {
      if (await isVideoFile(video, file))
        return matchVideoFile(matcher, file, {
          ...videoSettings,
          ...(decisionLog === undefined ? {} : { log: decisionLog }),
          ...contentId(file),
        });
      const result = await matcher.matchImage(file, { dihedral, trim, threshold: thresholds, ...contentId(file) });
      return { kind: 'image', result };
    };
    await mapSettled(files, availableParallelism(), matchFile, (outcome, i) => {
      const file = files[i] as string;
      if (!outcome.ok) {
        failed = true;
        const error = errorJson(outcome.error);
        io.out(
          values.json === true
            ? jsonLine({ file, error })
            : textLine(`ERROR     ${file}  ${error.code}: ${error.message}`),
        );
        return;
      }
      if (outcome.value.kind === 'video') {
        matched ||= outcome.value.result.matched;
        if (!outcome.value.checked) failed = true;
        io.out(values.json === true ? videoJson(file, outcome.value, video) : describeVideo(file, outcome.value));
        return;
      }
      const { result } = outcome.value;
      matched ||= result.matched;
      const { matched: m, matches, hashes, unusable, frames, image, checked } = result;
      if (!checked) failed = true;
      const animated = frames === undefined ? {} : { frameCount: image.frameCount, framesHashed: frames.length };
      io.out(
        values.json === true
          ? jsonLine({ file, matched: m, matches, hashes, unusable, ...animated, checked })
          : describe(file, result, checked),
      );
    });
    return matched ? EXIT.matched : failed || log.unlogged ? EXIT.error : EXIT.ok;
  } finally {
    await decisionLog?.close();
  }
}
