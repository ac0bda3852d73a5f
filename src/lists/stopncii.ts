/**
 * StopNCII.org's hash records (issue 21), shared by the `stopncii` list format and the StopNCII
 * connector (`src/exchanges/stopncii.ts`): how one record of a `FetchHashes` answer becomes a row,
 * and a streaming reader of a file of them, a JSON array of records or a whole `FetchHashes`
 * answer (`{"count": …, "hashRecords": [ … ]}`), pretty-printed or not.
 *
 * A record is the current state of one hash (`signalType` + `hashValue`), as python-threatexchange's
 * StopNCII client reads it: a later record of the same hash replaces the earlier one. `ImagePDQ`
 * is a `pdq` entry and `VideoMD5` an `md5` one (a video file's MD5, an exact file hash); other
 * signal types (`VideoTMK`, `Text`, `URL`, `Unknown`) are hashes hashwarden cannot match and are
 * ignored. A record whose `hashStatus` is `Withdrawn` or `Deleted` (the person withdrew the case,
 * or StopNCII deleted it) is a removal; every other status adds. StopNCII records carry no id of
 * their own, so an entry's id is hashwarden's default `<algorithm>:<hash>`: stable across syncs,
 * and what a removal by hash finds.
 *
 * The reader holds one record at a time, never the file: a record is refused past
 * {@link MAX_LIST_LINE_BYTES} (the longest row any list reader takes) or nested deeper than
 * {@link MAX_METADATA_DEPTH}, so no input (a huge string, a nesting bomb, a file without an end)
 * makes it hold more.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { createRequire } from 'node:module';
import type { ParsedTokenInfo, TokenType } from '@streamparser/json';
import { HashwardenError } from '../errors.js';
import { MAX_METADATA_DEPTH } from './entry.js';
import { MAX_LIST_LINE_BYTES } from './formats.js';
import { listError, type RawRow, type RowSink } from './rows.js';

/**
 * StopNCII signal types hashwarden matches, with its algorithm for each (the others are ignored).
 *
 * @internal Shared with the StopNCII connector.
 */
export const STOPNCII_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['ImagePDQ', 'pdq'],
  ['VideoMD5', 'md5'],
]);

/**
 * Bytes handed to the reader at a time by `parseList`, which holds the text whole: 64 KiB, the
 * streaming reader's chunk, so that a record past the bound is refused before it is built.
 *
 * @internal Shared with `parse.ts`.
 */
export const STOPNCII_CHUNK_BYTES = 64 * 1024;

/** Case statuses that take a hash out of the programme: the client must delete it. */
const REMOVED_STATUSES: ReadonlySet<string> = new Set(['Withdrawn', 'Deleted']);

/**
 * Most CSP feedbacks kept with an entry: 100. The programme's CSPs (the platforms taking part) are
 * a few dozen, so every record seen fits; a record listing more is cut here rather than refused, so
 * that no opinion count can turn a hash into a bad row and let it through.
 */
export const MAX_STOPNCII_FEEDBACKS = 100;

/** Most tags kept of one feedback: 32, far above the few StopNCII's CSPs set, for the same reason. */
const MAX_FEEDBACK_TAGS = 32;

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function expect(value: unknown, type: 'string' | 'number', field: string): void {
  if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) {
    throw listError(`Expected a ${type} for ${field} but found ${jsonType(value)}`);
  }
}

/** A record's CSP feedbacks as metadata: `{ source, value, tags }`, cut to the bounds above. */
function feedbacks(value: unknown): Record<string, unknown>[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw listError(`Expected an array for CSPFeedbacks but found ${jsonType(value)}`);
  const kept: Record<string, unknown>[] = [];
  for (const item of value.slice(0, MAX_STOPNCII_FEEDBACKS)) {
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      throw listError(`Expected objects in CSPFeedbacks but found ${jsonType(item)}`);
    const { source, feedbackValue, tags } = item as Record<string, unknown>;
    const feedback: Record<string, unknown> = {};
    if (typeof source === 'string' && source !== '') feedback.source = source;
    // The reference client refuses a record with a value it does not know; kept as text here, so a
    // new value never drops a hash.
    if (typeof feedbackValue === 'string') feedback.value = feedbackValue;
    if (Array.isArray(tags)) {
      const words = tags.filter((tag): tag is string => typeof tag === 'string').slice(0, MAX_FEEDBACK_TAGS);
      if (words.length > 0) feedback.tags = words;
    }
    kept.push(feedback);
  }
  return kept.length > 0 ? kept : undefined;
}

/**
 * The row of one StopNCII hash record: an add, a removal (`Withdrawn`, `Deleted`), or ignored (a
 * signal type hashwarden lacks). Metadata: `hashStatus`, `lastModtimestamp` (seconds since 1970),
 * `cases` (how many cases the hash has), `feedback` (the CSPs' `{ source, value, tags }`) and
 * `hashRegions`. A record that is not an object, or whose fields have the wrong types, throws
 * `ERR_LIST_FORMAT`; the hash itself is checked by `normalizeEntry`.
 *
 * @internal Shared with the StopNCII connector.
 * @example
 * ```ts
 * stopnciiRow({ signalType: 'ImagePDQ', hashValue: hex, hashStatus: 'Withdrawn', caseNumbers: {} }, 'ncii');
 * // { op: 'remove', list: 'ncii', algorithm: 'pdq', hash: hex, … }
 * ```
 */
export function stopnciiRow(record: unknown, list: string): RawRow {
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    throw listError(`Expected a hash record object but found ${jsonType(record)}`);
  const { signalType, hashValue, hashStatus, lastModtimestamp, caseNumbers, CSPFeedbacks, hashRegions } =
    record as Record<string, unknown>;
  expect(signalType, 'string', 'signalType');
  expect(hashValue, 'string', 'hashValue');
  expect(hashStatus, 'string', 'hashStatus');
  const algorithm = STOPNCII_ALGORITHMS.get(signalType as string);
  if (algorithm === undefined) return { list, algorithm: '', hash: '', ignore: signalType as string };
  const metadata: Record<string, unknown> = { hashStatus };
  if (lastModtimestamp !== undefined) {
    expect(lastModtimestamp, 'number', 'lastModtimestamp');
    metadata.lastModtimestamp = lastModtimestamp;
  }
  if (caseNumbers !== undefined && caseNumbers !== null) {
    if (typeof caseNumbers !== 'object' || Array.isArray(caseNumbers))
      throw listError(`Expected an object for caseNumbers but found ${jsonType(caseNumbers)}`);
    // The count, not the case ids: a hash many people reported has thousands, and no use here.
    metadata.cases = Object.keys(caseNumbers).length;
  }
  const feedback = feedbacks(CSPFeedbacks);
  if (feedback !== undefined) metadata.feedback = feedback;
  if (Array.isArray(hashRegions)) {
    const regions = hashRegions.filter((region): region is string => typeof region === 'string');
    if (regions.length > 0) metadata.hashRegions = regions.slice(0, MAX_FEEDBACK_TAGS);
  }
  const op = REMOVED_STATUSES.has(hashStatus as string) ? 'remove' : 'add';
  return { op, list, algorithm, hash: hashValue as string, metadata };
}

/**
 * Where the reader is in the file's structure, and so which tokens may come: before the top-level
 * value (`start`); in the answer object, after `{` (`first-key`), after a comma (`key`), after a
 * key (`colon`), after its colon (`value`), after its value (`after-value`); in the records array,
 * after `[` (`first-record`), after a comma (`record`), after a record (`after-record`); after the
 * top-level value (`done`).
 */
type Place =
  | 'start'
  | 'first-key'
  | 'key'
  | 'colon'
  | 'value'
  | 'after-value'
  | 'first-record'
  | 'record'
  | 'after-record'
  | 'done';

// The reader's own faults (the file's structure), told apart from a bad row the sink throws.
const FAULTS = new WeakSet<HashwardenError>();

function fault(message: string): HashwardenError {
  const error = listError(message);
  FAULTS.add(error);
  return error;
}

/** The fault behind an error of the tokenizer or token parser, without its stack. */
function syntaxError(error: unknown): HashwardenError {
  if (error instanceof HashwardenError) return error;
  return fault(`Not valid JSON: ${(error as Error).message}`);
}

type JsonStream = typeof import('@streamparser/json');
let jsonStream: JsonStream | undefined;
/** The token kinds, set when @streamparser/json is loaded (before any token exists). */
let Tokens: JsonStream['TokenType'];
let OPENING: ReadonlySet<TokenType>;
let CLOSING: ReadonlySet<TokenType>;

/**
 * @streamparser/json, loaded on first use through `require` (sync, as csv-parse is in csv.ts): a
 * process that never reads a StopNCII file does not pay for loading it.
 */
function streamParser(): JsonStream {
  if (jsonStream === undefined) {
    jsonStream = createRequire(import.meta.url)('@streamparser/json') as JsonStream;
    Tokens = jsonStream.TokenType;
    OPENING = new Set([Tokens.LEFT_BRACE, Tokens.LEFT_BRACKET]);
    CLOSING = new Set([Tokens.RIGHT_BRACE, Tokens.RIGHT_BRACKET]);
  }
  return jsonStream;
}

/**
 * One value being read (a record, or a field of the answer object read past): the token parser
 * builds and checks it, the depth is bounded here before a token reaches it.
 */
class Value {
  readonly #parser = new (streamParser().TokenParser)();
  #depth = 0;
  done = false;
  value: unknown;

  constructor(readonly keep: boolean) {
    this.#parser.onValue = ({ value, stack }) => {
      if (stack.length > 0) return;
      this.value = value;
      this.done = true;
    };
    this.#parser.onError = (error) => {
      throw syntaxError(error);
    };
  }

  token(token: ParsedTokenInfo): void {
    if (OPENING.has(token.token)) {
      if (++this.#depth > MAX_METADATA_DEPTH)
        throw fault(`Expected a record nested at most ${MAX_METADATA_DEPTH} deep`);
    } else if (CLOSING.has(token.token)) this.#depth--;
    this.#parser.write(token);
  }
}

/**
 * Reads a StopNCII file a chunk at a time (bytes, split anywhere) and hands each record, numbered
 * from 1, to `onRecord`. Structural faults (not JSON, truncated, another top-level value, a record
 * too large or too deep, invalid UTF-8) throw `ERR_LIST_FORMAT` from `write` or `end`, `record`
 * then being the record the reader was in. A record's content is `onRecord`'s to check.
 *
 * @internal Shared with `stream.ts`, `parse.ts` and the StopNCII connector's tests.
 * @example
 * ```ts
 * const reader = new StopnciiReader((n, record) => rows.push(stopnciiRow(record, 'ncii')));
 * for await (const chunk of createReadStream(path)) reader.write(chunk);
 * reader.end();
 * ```
 */
export class StopnciiReader {
  readonly #tokenizer = new (streamParser().Tokenizer)();
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });
  #place: Place = 'start';
  /** The value being read, a record or a field of the answer object. */
  #value: Value | undefined;
  /** The key whose value comes next, in the answer object. */
  #key: string | undefined;
  #sawRecords = false;
  /** Bytes written so far, and where the current value (or the last token outside one) began. */
  #written = 0;
  #mark = 0;
  /** Records whole so far; the one being read is `record`. */
  records = 0;

  constructor(readonly onRecord: (record: number, value: unknown) => void) {
    this.#tokenizer.onToken = (token) => this.#token(token);
    this.#tokenizer.onError = (error) => {
      throw syntaxError(error);
    };
  }

  /** The number of the record the reader is in (or about to read). */
  get record(): number {
    return this.records + 1;
  }

  write(bytes: Uint8Array): void {
    try {
      this.#utf8.decode(bytes, { stream: true });
    } catch {
      throw fault('Not valid UTF-8 text');
    }
    this.#written += bytes.length;
    if (this.#place === 'done') {
      // The tokenizer ends with the top-level value: only white space may follow.
      if (/\S/.test(Buffer.from(bytes).toString('latin1')))
        throw fault('Not valid JSON: more after the top-level value');
      return;
    }
    this.#tokenizer.write(bytes);
    // A string, a number or white space still open at the chunk's end is held by the tokenizer:
    // bounded, as a record is, by the bytes since its start.
    if (this.#written - this.#mark > MAX_LIST_LINE_BYTES)
      throw fault(`A record or value longer than ${MAX_LIST_LINE_BYTES} bytes: not a StopNCII file`);
  }

  end(): void {
    try {
      this.#utf8.decode();
    } catch {
      throw fault('Not valid UTF-8 text: the file ends inside a character');
    }
    const truncated = fault('Not valid JSON: the file ends before its last record');
    try {
      // Ending flushes a number still open (a file of just `42`).
      if (!this.#tokenizer.isEnded) this.#tokenizer.end();
    } catch (error) {
      // A token cut short: the tokenizer's account of it adds nothing.
      throw error instanceof HashwardenError && !error.message.startsWith('Not valid JSON: ') ? error : truncated;
    }
    if (this.#place === 'start') throw fault('Empty: expected a JSON array of hash records');
    if (this.#place !== 'done') throw truncated;
  }

  #token(token: ParsedTokenInfo): void {
    const value = this.#value;
    if (value !== undefined) {
      value.token(token);
      if (value.done) this.#ended(value);
      return;
    }
    this.#mark = token.offset;
    const kind = token.token;
    switch (this.#place) {
      case 'start':
        if (kind === Tokens.LEFT_BRACKET) this.#place = 'first-record';
        else if (kind === Tokens.LEFT_BRACE) this.#place = 'first-key';
        else throw fault('Expected a JSON array of hash records, or an object with hashRecords');
        return;
      case 'first-key':
      case 'key':
        if (kind === Tokens.STRING) {
          this.#key = token.value as string;
          this.#place = 'colon';
          return;
        }
        if (kind === Tokens.RIGHT_BRACE && this.#place === 'first-key') return this.#closeAnswer();
        break;
      case 'colon':
        if (kind === Tokens.COLON) {
          this.#place = 'value';
          return;
        }
        break;
      case 'value':
        if (this.#key === 'hashRecords') {
          if (kind !== Tokens.LEFT_BRACKET) throw fault('Expected an array for hashRecords');
          this.#sawRecords = true;
          this.#place = 'first-record';
          return;
        }
        // Another field of the answer (count, nextPageToken, …): read past, not kept.
        return this.#begin(token, false);
      case 'after-value':
        if (kind === Tokens.COMMA) {
          this.#place = 'key';
          return;
        }
        if (kind === Tokens.RIGHT_BRACE) return this.#closeAnswer();
        break;
      case 'first-record':
      case 'record':
        if (kind === Tokens.RIGHT_BRACKET && this.#place === 'first-record') return this.#closeRecords();
        if (kind !== Tokens.COMMA && !CLOSING.has(kind) && kind !== Tokens.COLON) return this.#begin(token, true);
        break;
      case 'after-record':
        if (kind === Tokens.COMMA) {
          this.#place = 'record';
          return;
        }
        if (kind === Tokens.RIGHT_BRACKET) return this.#closeRecords();
        break;
      case 'done':
        throw fault('Not valid JSON: more after the top-level value');
    }
    throw fault(`Not valid JSON: unexpected ${JSON.stringify(String(token.value)).slice(0, 40)}`);
  }

  #closeAnswer(): void {
    if (!this.#sawRecords) throw fault('Expected a hashRecords array in the answer object');
    this.#place = 'done';
  }

  #closeRecords(): void {
    this.#place = this.#sawRecords ? 'after-value' : 'done';
  }

  #begin(token: ParsedTokenInfo, keep: boolean): void {
    const value = new Value(keep);
    value.token(token);
    if (value.done) this.#ended(value);
    else this.#value = value;
  }

  #ended(value: Value): void {
    this.#value = undefined;
    this.#mark = this.#written;
    if (value.keep) {
      this.#place = 'after-record';
      this.records++;
      this.onRecord(this.records, value.value);
    } else this.#place = 'after-value';
  }
}

/**
 * A reader handing each record to a sink as a row numbered as the record (1-based): a bad record's
 * problem reads `source:<record number>: …`, the number where other formats give a line.
 *
 * @internal Shared with `parse.ts` and `stream.ts`.
 */
export function stopnciiSink(sink: RowSink): StopnciiReader {
  return new StopnciiReader((record, value) => sink.add(record, () => stopnciiRow(value, sink.options.list)));
}

/**
 * Writes `bytes` to a reader (ends it when `undefined`), turning a structural fault into the
 * sink's fatal error at the record the reader was in.
 *
 * @internal Shared with `parse.ts` and `stream.ts`.
 */
export function feedStopncii(sink: RowSink, reader: StopnciiReader, bytes: Uint8Array | undefined): void {
  try {
    if (bytes === undefined) reader.end();
    else reader.write(bytes);
  } catch (error) {
    // A bad row thrown by the sink under 'fail' passes as it is; a fault of the file is fatal.
    if (!(error instanceof HashwardenError) || !FAULTS.has(error)) throw error;
    sink.fatal(reader.record, error);
  }
}

/**
 * How much of a head the answer-object test looks at: 64 KiB. A `FetchHashes` answer names a few
 * short fields before `hashRecords`; a head without it that far is no answer.
 */
const SNIFF_CHARS = 64 * 1024;

/**
 * True when `head` (the start of a file, without its BOM) is a StopNCII
 * file: a JSON array, or an object with a `hashRecords` key before any nested value (an NDJSON
 * line is an object too, but never with that key at its top).
 *
 * @internal Used by `detectListFormat`.
 */
export function looksLikeStopncii(head: string): boolean {
  const text = head.trimStart();
  if (text.startsWith('[')) return true;
  return /^\{\s*(?:"(?:[^"\\]|\\.)*"\s*:\s*(?:"(?:[^"\\]|\\.)*"|[-+\w.]+)\s*,\s*)*"hashRecords"\s*:/.test(
    text.slice(0, SNIFF_CHARS),
  );
}
