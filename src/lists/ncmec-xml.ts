/**
 * NCMEC's hash-sharing API v2 XML (`GET /v2/entries`, a `<queryResult>` of `<images>` and
 * `<videos>`), read as list rows: by the `ncmec` list format (a saved answer) and by the NCMEC
 * connector (`src/exchanges/ncmec.ts`, each page it fetches), so that both map a record the same
 * way. The layout is the one python-threatexchange's NCMEC client parses (its tests' data.py).
 *
 * One record (`<image>`, `<video>`) holds up to one fingerprint of each type; each MD5, SHA-1 and
 * PDQ fingerprint is an entry whose id is `<member id>-<record id>:<algorithm>` (a record id is
 * unique within its member, as the feedback URL `<member>/<record>` shows). PhotoDNA, TMK and the
 * other types hashwarden lacks are ignored rows. A deleted record (`<deletedImage>`,
 * `<deletedVideo>`) removes every id the record may have produced.
 *
 * The XML is parsed by fast-xml-parser with entity processing off, and a document with a DOCTYPE
 * is refused before parsing: a DTD's entities can expand a few hundred bytes into gigabytes, and
 * NCMEC never sends one. The five predefined entities and character references are decoded here.
 *
 * Part of the core: no native modules here (no sharp, no better-sqlite3).
 */
import { createRequire } from 'node:module';
import type { HashwardenError } from '../errors.js';
import { MAX_FIELD_LENGTH } from './entry.js';
import { listError, type RawRow, type RowSink } from './rows.js';

/**
 * Most bytes of one NCMEC XML document read whole: 64 MiB. An API page holds at most 1,000
 * records (about 2 MiB with every fingerprint); a document thirty times that is no page, and
 * parsing holds the document's tree, several times its size, in memory at once.
 *
 * @example
 * ```ts
 * if (bytes > MAX_NCMEC_XML_BYTES) refuse();
 * ```
 */
export const MAX_NCMEC_XML_BYTES = 64 * 1024 * 1024;

/**
 * Longest tag (`<` to `>`, attributes included) or text between tags an NCMEC document may hold:
 * 64 KiB. Its fields are ids, names, hashes and timestamps of a few hundred bytes at most (a
 * PhotoDNA hash, the longest, is 144 bytes of base64); the XML parser spends about half a second on
 * each MiB of one attribute, so a longer run is refused before parsing, by a scan that costs little.
 */
const MAX_XML_RUN = 64 * 1024;

/**
 * Most tags (each `<`) an NCMEC document may hold: 500,000. A page of 1,000 records is about 20
 * elements a record, and a few hundred more for a record many members voted on; the parsed tree
 * costs a few hundred bytes a tag, so 64 MiB of `<a/>` would otherwise take gigabytes.
 */
const MAX_XML_TAGS = 500_000;

/**
 * `ERR_LIST_FORMAT` for a document over {@link MAX_NCMEC_XML_BYTES}.
 *
 * @internal Shared with `stream.ts`, which refuses it while gathering it.
 */
export function ncmecTooLarge(source: string): HashwardenError {
  return listError(`${source}: an NCMEC XML document of more than ${MAX_NCMEC_XML_BYTES} bytes is refused; split it`);
}

/** The fingerprint types hashwarden matches, by NCMEC's element name, and the algorithm of each. */
const ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['md5', 'md5'],
  ['sha1', 'sha1'],
  ['pdq', 'pdq'],
]);

/**
 * The algorithms an NCMEC record can give an entry, in the order its rows come.
 *
 * @internal Shared with the NCMEC connector.
 */
export const NCMEC_ALGORITHMS: readonly string[] = Object.freeze([...ALGORITHMS.values()]);

/**
 * Most reason names kept per fingerprint in an entry's `feedback` metadata: NCMEC offers a handful
 * of reasons per type; past this the list only grows the entry.
 */
const MAX_FEEDBACK_REASONS = 16;

// Ids, names and timestamps longer than this are no NCMEC field but a parsing accident or an attack.
const MAX_TEXT = MAX_FIELD_LENGTH;

/** Up and down votes of NCMEC members on one fingerprint of a record. */
export interface NcmecFeedback {
  readonly up: number;
  readonly down: number;
  /** The names of the down votes' reasons, distinct, at most 16. */
  readonly reasons: readonly string[];
}

/** One record of a `<queryResult>`, checked. */
export interface NcmecRecord {
  readonly mediaType: 'image' | 'video';
  readonly deleted: boolean;
  /** The member (ESP) that shared it. */
  readonly memberId: number;
  readonly member: string | undefined;
  /** NCMEC's id of the record, unique within its member. */
  readonly id: string;
  readonly timestamp: string | undefined;
  readonly classification: string | undefined;
  /** Fingerprints by lower-case element name (`md5`, `pdna`, `tmk-pdqf`); undefined: no value given (a link only). */
  readonly fingerprints: ReadonlyMap<string, string | undefined>;
  /** Feedback by lower-case fingerprint type (`md5`, `sha1`). */
  readonly feedback: ReadonlyMap<string, NcmecFeedback>;
  /** Offset of the record's element in the text, for line numbers. */
  readonly offset: number;
}

/** A record that could not be read: what is wrong and where. */
export interface NcmecBadRecord {
  readonly problem: string;
  readonly offset: number;
}

/** A `<queryResult>` document. */
export interface NcmecDocument {
  /** The records in document order, and the ones that could not be read in their place. */
  readonly records: readonly (NcmecRecord | NcmecBadRecord)[];
  /** Elements inside `<images>`/`<videos>` that are no record NCMEC documents (counted, not read). */
  readonly unknown: number;
  /** The largest `maxTimestamp` of `<images>` and `<videos>`, in Unix seconds, if any. */
  readonly maxTimestamp: number | undefined;
  /** `<paging><next>`: the path of the next page (entities decoded), if any. */
  readonly next: string | undefined;
}

/** A node of fast-xml-parser's `preserveOrder` output: one tag name key, `:@` attributes. */
type XmlNode = Record<string, unknown>;

const ATTRIBUTES = ':@';
const TEXT = '#text';

const PARSER_OPTIONS = Object.freeze({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Entities are never expanded (see the file comment); the predefined ones are decoded below.
  processEntities: false,
  htmlEntities: false,
  captureMetaData: true,
});
type Fxp = typeof import('fast-xml-parser');
let fxp: Fxp | undefined;
/** The key under which the parser keeps each node's offset in the document (`captureMetaData`). */
let metadataKey: symbol | undefined;

/**
 * fast-xml-parser, loaded on first use through `require` (sync, as csv-parse is in csv.ts): it
 * takes longer to load than the rest of the core together, and only a process reading NCMEC XML
 * needs it.
 */
function xmlParser(): Fxp {
  if (fxp === undefined) {
    fxp = createRequire(import.meta.url)('fast-xml-parser') as Fxp;
    metadataKey = fxp.XMLParser.getMetaDataSymbol() as unknown as symbol;
  }
  return fxp;
}

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text with XML's predefined entities and character references decoded; any other `&…;` kept as it is. */
function decodeText(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});/g, (whole, name: string) => {
    if (!name.startsWith('#')) return PREDEFINED[name] ?? whole;
    const code = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

function tagOf(node: XmlNode): string | undefined {
  for (const key of Object.keys(node)) if (key !== ATTRIBUTES) return key;
  return undefined;
}

function childrenOf(node: XmlNode, tag: string): XmlNode[] {
  const value = Object.hasOwn(node, tag) ? node[tag] : undefined;
  return Array.isArray(value) ? (value as XmlNode[]) : [];
}

function attribute(node: XmlNode, name: string): string | undefined {
  const attributes = node[ATTRIBUTES];
  if (attributes === null || typeof attributes !== 'object' || !Object.hasOwn(attributes, name)) return undefined;
  const value = (attributes as Record<string, unknown>)[name];
  return typeof value === 'string' ? decodeText(value) : undefined;
}

/** The element's own text (its text children joined), decoded; undefined when it has none. */
function textOf(node: XmlNode, tag: string): string | undefined {
  let text: string | undefined;
  for (const child of childrenOf(node, tag)) {
    if (Object.hasOwn(child, TEXT) && typeof child[TEXT] === 'string') text = (text ?? '') + child[TEXT];
  }
  return text === undefined ? undefined : decodeText(text).trim();
}

/** The first child element named `tag` (case-sensitive, as XML is) of a node's children. */
function child(children: readonly XmlNode[], tag: string): XmlNode | undefined {
  return children.find((c) => tagOf(c) === tag);
}

function offsetOf(node: XmlNode): number {
  // A node exists only once the parser has run, so the key is set.
  const meta = (node as Record<symbol, unknown>)[metadataKey as symbol] as { startIndex?: unknown } | undefined;
  return typeof meta?.startIndex === 'number' ? meta.startIndex : 0;
}

/**
 * Unix seconds of an NCMEC timestamp (`2017-10-24T15:10:00Z`, milliseconds allowed), undefined
 * when it is not one.
 *
 * @internal Shared with the NCMEC connector.
 */
export function ncmecTime(text: string): number | undefined {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function boundedText(value: string | undefined, what: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_TEXT) throw new RangeError(`${what} longer than ${MAX_TEXT} characters`);
  return value;
}

/** Up/down votes per fingerprint type from a record's `<feedback>`, laid out as pytx's client reads it. */
function readFeedback(element: XmlNode | undefined): Map<string, NcmecFeedback> {
  const result = new Map<string, { up: number; down: number; reasons: string[] }>();
  if (element === undefined) return result;
  const votes = (type: string | undefined) => {
    const key = (type ?? '').toLowerCase();
    let votes = result.get(key);
    if (votes === undefined) result.set(key, (votes = { up: 0, down: 0, reasons: [] }));
    return votes;
  };
  const members = (node: XmlNode) => childrenOf(node, 'members').filter((m) => tagOf(m) === 'member').length;
  for (const sentiment of childrenOf(element, 'feedback')) {
    const tag = tagOf(sentiment);
    if (tag === 'affirmativeFeedback') {
      const target = votes(attribute(sentiment, 'type'));
      for (const group of childrenOf(sentiment, tag)) if (tagOf(group) === 'members') target.up += members(group);
    } else if (tag === 'negativeFeedback') {
      const target = votes(attribute(sentiment, 'type'));
      for (const block of childrenOf(sentiment, tag)) {
        if (tagOf(block) !== 'reasons') continue;
        // `<reason/>` then the `<members>` who gave it, repeated.
        let reason: string | undefined;
        for (const item of childrenOf(block, 'reasons')) {
          const itemTag = tagOf(item);
          if (itemTag === 'reason') reason = attribute(item, 'name');
          else if (itemTag === 'members') {
            target.down += members(item);
            if (reason !== undefined && reason.length <= MAX_TEXT && !target.reasons.includes(reason)) {
              if (target.reasons.length < MAX_FEEDBACK_REASONS) target.reasons.push(reason);
            }
          }
        }
      }
    }
  }
  return result;
}

const RECORD_TAGS: ReadonlyMap<string, { mediaType: 'image' | 'video'; deleted: boolean }> = new Map([
  ['image', { mediaType: 'image', deleted: false }],
  ['deletedImage', { mediaType: 'image', deleted: true }],
  ['video', { mediaType: 'video', deleted: false }],
  ['deletedVideo', { mediaType: 'video', deleted: true }],
] as const);

function readRecord(node: XmlNode, tag: string, kind: { mediaType: 'image' | 'video'; deleted: boolean }): NcmecRecord {
  const children = childrenOf(node, tag);
  const memberNode = child(children, 'member');
  const memberText = memberNode === undefined ? undefined : attribute(memberNode, 'id');
  if (memberText === undefined || !/^\d{1,15}$/.test(memberText)) {
    throw new RangeError(`<${tag}> without a <member id="…"> that is a whole number`);
  }
  const idNode = child(children, 'id');
  const id = boundedText(idNode === undefined ? undefined : textOf(idNode, 'id'), 'record id');
  if (id === undefined) throw new RangeError(`<${tag}> without an <id>`);
  const field = (name: string) => {
    const element = child(children, name);
    return boundedText(element === undefined ? undefined : textOf(element, name), name);
  };
  const timestamp = field('timestamp');
  const fingerprints = new Map<string, string | undefined>();
  const prints = child(children, 'fingerprints');
  for (const print of prints === undefined ? [] : childrenOf(prints, 'fingerprints')) {
    const type = tagOf(print);
    if (type === undefined || type === TEXT) continue;
    fingerprints.set(type.toLowerCase(), textOf(print, type) || undefined);
  }
  return {
    ...kind,
    memberId: Number(memberText),
    member: memberNode === undefined ? undefined : boundedText(textOf(memberNode, 'member'), 'member name'),
    id,
    timestamp: timestamp !== undefined && ncmecTime(timestamp) !== undefined ? timestamp : undefined,
    classification: field('classification'),
    fingerprints,
    feedback: readFeedback(child(children, 'feedback')),
    offset: offsetOf(node),
  };
}

/**
 * Refuses a tag or a text between tags longer than {@link MAX_XML_RUN} (white space between tags
 * aside), and more than {@link MAX_XML_TAGS} tags.
 */
function refuseLongRuns(text: string): void {
  for (let at = 0, tags = 0; at < text.length; tags++) {
    if (tags > MAX_XML_TAGS) throw listError(`More than ${MAX_XML_TAGS} tags: no NCMEC page holds that many`);
    const open = text.indexOf('<', at);
    const textEnd = open < 0 ? text.length : open;
    if (textEnd - at > MAX_XML_RUN && /\S/.test(text.slice(at, textEnd))) {
      throw listError(`A text of more than ${MAX_XML_RUN} characters between tags: no NCMEC field is that long`);
    }
    if (open < 0) break;
    const close = text.indexOf('>', open);
    if ((close < 0 ? text.length : close) - open > MAX_XML_RUN) {
      throw listError(`A tag of more than ${MAX_XML_RUN} characters: no NCMEC element is that long`);
    }
    if (close < 0) break;
    at = close + 1;
  }
}

/** The tree of a document after the checks every NCMEC answer gets, and its root element. */
function parseChecked(text: string, expectedRoot: string): { root: XmlNode; rootTag: string } {
  // Before any parsing: refused, never read (see the file comment).
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw listError('NCMEC XML with a DOCTYPE is refused: its entity declarations could expand without bound');
  }
  refuseLongRuns(text);
  const { XMLParser, XMLValidator } = xmlParser();
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw listError(`Not well-formed XML (line ${valid.err.line}): ${valid.err.msg}`);
  }
  let tree: XmlNode[];
  try {
    tree = new XMLParser(PARSER_OPTIONS).parse(text) as XmlNode[];
  } catch (error) {
    throw listError(`Not well-formed XML: ${(error as Error).message}`);
  }
  const root = tree.find((node) => {
    const tag = tagOf(node);
    return tag !== undefined && !tag.startsWith('?');
  });
  const rootTag = root === undefined ? undefined : tagOf(root);
  if (root === undefined || rootTag !== expectedRoot) {
    throw listError(
      `Expected an NCMEC <${expectedRoot}> document but the root element is ${rootTag === undefined ? 'missing' : `<${rootTag}>`}`,
    );
  }
  return { root, rootTag };
}

/**
 * The reasons NCMEC offers for a down vote on a fingerprint type (`GET /v2/feedback/<TYPE>/reasons`,
 * an `<availableFeedbackReasons>` of `<reason guid="…" name="…"/>`). Throws `ERR_LIST_FORMAT` for
 * another document.
 *
 * @internal For the NCMEC connector.
 */
export function readNcmecFeedbackReasons(text: string): { readonly guid: string; readonly name: string }[] {
  const { root, rootTag } = parseChecked(text, 'availableFeedbackReasons');
  const reasons: { guid: string; name: string }[] = [];
  for (const node of childrenOf(root, rootTag)) {
    if (tagOf(node) !== 'reason') continue;
    const guid = attribute(node, 'guid');
    if (guid === undefined || !/^[0-9a-fA-F-]{1,64}$/.test(guid)) throw listError('A <reason> without a guid');
    reasons.push({ guid, name: attribute(node, 'name')?.slice(0, MAX_TEXT) ?? guid });
  }
  return reasons;
}

/**
 * Parses an NCMEC `<queryResult>` document. A document that is not well-formed XML (truncated, a
 * tag left open), has a DOCTYPE, or has another root throws `ERR_LIST_FORMAT`; a record that
 * cannot be read (no member id, no record id) is returned as a {@link NcmecBadRecord} in its
 * place, for the caller to report by line or refuse the page.
 *
 * @internal Shared with the NCMEC connector.
 * @example
 * ```ts
 * const { records, next } = readNcmecDocument(body);
 * ```
 */
export function readNcmecDocument(text: string): NcmecDocument {
  const { root } = parseChecked(text, 'queryResult');
  const records: (NcmecRecord | NcmecBadRecord)[] = [];
  let unknown = 0;
  let maxTimestamp: number | undefined;
  let next: string | undefined;
  for (const section of childrenOf(root, 'queryResult')) {
    const sectionTag = tagOf(section);
    if (sectionTag === 'paging') {
      const nextNode = child(childrenOf(section, 'paging'), 'next');
      const value = nextNode === undefined ? undefined : textOf(nextNode, 'next');
      if (value !== undefined && value !== '') next = value;
      continue;
    }
    if (sectionTag !== 'images' && sectionTag !== 'videos') continue;
    const max = attribute(section, 'maxTimestamp');
    if (max !== undefined) {
      const seconds = ncmecTime(max);
      if (seconds === undefined) throw listError(`<${sectionTag}> has a maxTimestamp that is no timestamp`);
      maxTimestamp = Math.max(maxTimestamp ?? 0, seconds);
    }
    for (const node of childrenOf(section, sectionTag)) {
      const tag = tagOf(node);
      const kind = tag === undefined ? undefined : RECORD_TAGS.get(tag);
      if (tag === undefined || tag === TEXT) continue;
      if (kind === undefined || `${kind.mediaType}s` !== sectionTag) {
        unknown++;
        continue;
      }
      try {
        records.push(readRecord(node, tag, kind));
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        records.push({ problem: error.message, offset: offsetOf(node) });
      }
    }
  }
  return { records, unknown, maxTimestamp, next };
}

/**
 * The key of a record: its member and id (`42-image1`), unique across NCMEC, as pytx keys them.
 *
 * @internal Shared with the NCMEC connector.
 */
export function ncmecRecordKey(record: Pick<NcmecRecord, 'memberId' | 'id'>): string {
  return `${record.memberId}-${record.id}`;
}

/**
 * The rows of one record, for `list`: in `delta` mode (a sync, `streamListFile`), each algorithm
 * of {@link NCMEC_ALGORITHMS} gives an add where the record has that fingerprint and a removal
 * where it does not (an update that dropped a fingerprint, a deletion, a record leaving a filter
 * remove what an earlier version added); in `whole` mode (`parseList`, a list with nothing stored
 * to remove from) a deleted record is one ignored row and nothing else is removed. Fingerprints of
 * other types are ignored rows. `exclude` (a connector's filter) turns the record's adds into removals.
 *
 * @internal Shared with the NCMEC connector.
 */
export function ncmecRecordRows(record: NcmecRecord, list: string, mode: 'delta' | 'whole', exclude = false): RawRow[] {
  const key = ncmecRecordKey(record);
  const rows: RawRow[] = [];
  if (record.deleted && mode === 'whole') return [{ list, algorithm: '', hash: '', ignore: 'deleted' }];
  for (const [type, value] of record.fingerprints) {
    if (!ALGORITHMS.has(type) || value === undefined) rows.push({ list, algorithm: '', hash: '', ignore: type });
  }
  for (const [type, algorithm] of ALGORITHMS) {
    const id = `${key}:${algorithm}`;
    const hash = record.deleted || exclude ? undefined : record.fingerprints.get(type);
    if (hash === undefined) {
      if (mode === 'delta') rows.push({ op: 'remove', id, list, algorithm, hash: '' });
      continue;
    }
    const feedback = record.feedback.get(type);
    const metadata: Record<string, unknown> = {
      ncmecId: record.id,
      memberId: record.memberId,
      ...(record.member === undefined ? {} : { member: record.member }),
      mediaType: record.mediaType,
      ...(record.timestamp === undefined ? {} : { timestamp: record.timestamp }),
      ...(record.classification === undefined ? {} : { classification: record.classification }),
      ...(feedback === undefined ? {} : { feedback: { ...feedback } }),
    };
    rows.push({ id, list, algorithm, hash, label: record.classification, metadata });
  }
  return rows;
}

/** Index of line starts, for the line number of an offset. */
function lineFinder(text: string, firstLine: number): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return firstLine + low;
  };
}

/**
 * Parses an NCMEC XML document (the whole file: XML is not line-based) into a sink, each row at
 * the line of its record's element. Records are folded first, the last of a member's record id
 * winning (a document may hold a record and its deletion), so the rows say what the document's
 * end state is. Whether deletions remove is the sink's: see `RowSink.delta`.
 *
 * @internal Registered in `read-formats.ts`.
 * @example
 * ```ts
 * parseNcmecRows(await readFile('entries.xml', 'utf8'), sink);
 * ```
 */
export function parseNcmecRows(text: string, sink: RowSink, firstLine = 1): void {
  const { list, source } = sink.options;
  if (text.length > MAX_NCMEC_XML_BYTES) throw ncmecTooLarge(source);
  let document: NcmecDocument;
  try {
    document = readNcmecDocument(text);
  } catch (error) {
    throw listError(`${source}: ${(error as Error).message}`);
  }
  const lineOf = lineFinder(text, firstLine);
  const last = new Map<string, NcmecRecord | NcmecBadRecord>();
  document.records.forEach((record, index) => {
    last.set('problem' in record ? `\u0000${index}` : ncmecRecordKey(record), record);
  });
  const mode = sink.delta ? 'delta' : 'whole';
  for (const record of last.values()) {
    const line = lineOf(record.offset);
    if ('problem' in record) {
      sink.add(line, () => {
        throw listError(record.problem);
      });
      continue;
    }
    for (const row of ncmecRecordRows(record, list, mode)) sink.add(line, () => row);
  }
  for (let i = 0; i < document.unknown; i++) {
    sink.add(firstLine, () => ({ list, algorithm: '', hash: '', ignore: 'unknown element' }));
  }
}

/**
 * True when `line` (a file's first non-blank line) opens an NCMEC XML document: `<?xml` or `<queryResult`.
 *
 * @internal Used by `detectListFormat`.
 */
export function looksLikeNcmecXml(line: string): boolean {
  return line.startsWith('<?xml') || line.startsWith('<queryResult');
}
