/**
 * ThreatExchange's `/threat_updates` records, checked and turned into rows: each record is one
 * indicator (a hash of one type) with the descriptors the privacy group's members wrote about it,
 * or a tombstone (`should_delete`). The opinions of the descriptors and reactions are folded as
 * python-threatexchange folds them (`FBThreatExchangeIndicatorRecord`, its aggregate opinion):
 * every opinion negative → the indicator is cleared, left out (and removed); negative and
 * positive opinions → imported, marked `disputed: true` (the meaning the `.te` rows' `disputed`
 * tag has, src/lists/te-rows.ts: a signal to review, not a withdrawal).
 */
import type { AlgorithmName } from '../algorithms/registry.js';
import { HashwardenError, isHashwardenError } from '../errors.js';
import { normalizeEntry } from '../lists/entry.js';
import type { ImportRow } from '../store/types.js';

/**
 * ThreatExchange indicator types → hashwarden algorithms. `HASH_VIDEO_MD5` is the MD5 of a
 * video file's bytes, an exact file hash, read as `md5` like pytx's `video_md5` lines. Types not
 * here (HASH_TMK, HASH_PHOTODNA, HASH_VPDQ, URIs, …) are counted as ignored.
 *
 * @internal For threatexchange.ts.
 */
export const THREATEXCHANGE_TYPES: Readonly<Record<string, AlgorithmName>> = Object.freeze({
  HASH_PDQ: 'pdq',
  HASH_MD5: 'md5',
  HASH_VIDEO_MD5: 'md5',
  HASH_SHA1: 'sha1',
  HASH_SHA256: 'sha256',
});

/**
 * Descriptor ids kept in an entry's metadata (the targets of feedback) and owners listed: an
 * indicator rarely has more than a handful of descriptors; a bound keeps a record with thousands
 * (one per member of a large group) within MAX_METADATA_BYTES (64 × 20 digits each).
 */
const MAX_KEPT_DESCRIPTORS = 64;
/**
 * Tags kept per entry, and the longest tag kept: ThreatExchange tags are short words (letters,
 * digits, `_`, `:`); 128 of 256 characters stay far below MAX_METADATA_BYTES with the rest.
 */
const MAX_KEPT_TAGS = 128;
const MAX_TAG_LENGTH = 256;

/** Reactions that are a negative opinion of the reactor (pytx: DISAGREE_WITH_TAGS; Meta's docs add NON_MALICIOUS). */
const NEGATIVE_REACTIONS: ReadonlySet<string> = new Set(['DISAGREE_WITH_TAGS', 'NON_MALICIOUS']);

/** A Graph API id: decimal digits (they pass 2^53, so kept as text). */
const GRAPH_ID = /^\d{1,30}$/;

type Opinion = 'positive' | 'negative' | 'neutral';

/** One page of `/threat_updates` turned into rows. */
export interface ThreatUpdatesPage {
  readonly rows: ImportRow[];
  readonly ignored: number;
  /** The greatest `last_updated` of the page (0 when it holds no record). */
  readonly highest: number;
  /** `paging.next`, as given (the access token still in it). */
  readonly next: string | undefined;
}

/** Where a fault is, for messages: the page and the record (never the URL's query). */
class Fault {
  constructor(readonly what: string) {}

  error(detail: string): HashwardenError {
    return new HashwardenError('ERR_EXCHANGE_RESPONSE', `${this.what}: ${detail}; the page was not imported`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function graphId(value: unknown, fault: Fault, name: string): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
  if (typeof text !== 'string' || !GRAPH_ID.test(text)) throw fault.error(`${name} is not a Graph API id`);
  return text;
}

/** `last_updated`: Unix seconds, a number or its decimal text (pytx reads it with `int()`). */
function unixTime(value: unknown, fault: Fault, name: string): number {
  const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw fault.error(`${name} is not a Unix time`);
  return n;
}

function optionalString(value: unknown, fault: Fault, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw fault.error(`${name} is not a string`);
  return value;
}

/** A descriptor's tags: an array of texts, or the Graph API's `{ data: [{ text }] }` edge. */
function tagTexts(value: unknown, fault: Fault, name: string): string[] {
  if (value === undefined || value === null) return [];
  const items = isObject(value) ? value.data : value;
  if (!Array.isArray(items)) throw fault.error(`${name} is not a list of tags`);
  return items.map((item, i) => {
    const text = isObject(item) ? item.text : item;
    if (typeof text !== 'string') throw fault.error(`${name}[${i}] is not a tag text`);
    return text;
  });
}

/** `{ key: 'HELPFUL', value: '<app id>,<app id>' }` reactions → reactor app id → reaction names. */
function reactionsOf(value: unknown, fault: Fault, name: string): Map<string, Set<string>> {
  const byReactor = new Map<string, Set<string>>();
  if (value === undefined || value === null) return byReactor;
  if (!Array.isArray(value)) throw fault.error(`${name} is not a list`);
  value.forEach((reaction: unknown, i) => {
    if (!isObject(reaction) || typeof reaction.key !== 'string' || typeof reaction.value !== 'string') {
      throw fault.error(`${name}[${i}] is not a { key, value } reaction`);
    }
    for (const reactor of reaction.value.split(',')) {
      const id = graphId(reactor.trim(), fault, `${name}[${i}].value`);
      const set = byReactor.get(id) ?? new Set<string>();
      set.add(reaction.key);
      byReactor.set(id, set);
    }
  });
  return byReactor;
}

interface Descriptor {
  readonly id: string;
  readonly owner: string;
  readonly opinion: Opinion;
  readonly tags: readonly string[];
  readonly addedOn: string | undefined;
  readonly reactions: Map<string, Set<string>>;
}

function descriptorOf(value: unknown, fault: Fault, name: string): Descriptor {
  if (!isObject(value)) throw fault.error(`${name} is not an object`);
  if (!isObject(value.owner)) throw fault.error(`${name}.owner is not an object`);
  const status = optionalString(value.status, fault, `${name}.status`);
  return {
    id: graphId(value.id, fault, `${name}.id`),
    owner: graphId(value.owner.id, fault, `${name}.owner.id`),
    // pytx: MALICIOUS is a positive opinion, NON_MALICIOUS a negative one, the rest (SUSPICIOUS, UNKNOWN) neither.
    opinion: status === 'MALICIOUS' ? 'positive' : status === 'NON_MALICIOUS' ? 'negative' : 'neutral',
    tags: tagTexts(value.tags, fault, `${name}.tags`),
    addedOn: optionalString(value.added_on, fault, `${name}.added_on`),
    reactions: reactionsOf(value.reactions, fault, `${name}.reactions`),
  };
}

/**
 * Each member's opinion of the indicator: its descriptor's status, else its reactions (HELPFUL
 * positive, DISAGREE_WITH_TAGS or NON_MALICIOUS negative; HELPFUL wins when a member gave both).
 */
function opinions(descriptors: readonly Descriptor[]): Opinion[] {
  const explicit = new Map<string, Opinion>();
  for (const d of descriptors) explicit.set(d.owner, d.opinion);
  const implicit = new Map<string, Opinion>();
  for (const d of descriptors) {
    for (const [reactor, names] of d.reactions) {
      if (explicit.has(reactor)) continue;
      if (names.has('HELPFUL')) implicit.set(reactor, 'positive');
      else if (implicit.get(reactor) !== 'positive' && [...names].some((n) => NEGATIVE_REACTIONS.has(n))) {
        implicit.set(reactor, 'negative');
      }
    }
  }
  return [...explicit.values(), ...implicit.values()];
}

/** The rows of one record, and whether it counts as ignored. */
function recordRows(value: unknown, list: string, fault: Fault): { rows: ImportRow[]; ignored: boolean; time: number } {
  if (!isObject(value)) throw fault.error('the record is not an object');
  const id = graphId(value.id, fault, 'id');
  const time = unixTime(value.last_updated, fault, 'last_updated');
  if (typeof value.should_delete !== 'boolean') throw fault.error('should_delete is not a boolean');
  // Every record names its indicator, tombstones too (pytx keys its updates on type and indicator).
  if (typeof value.type !== 'string') throw fault.error('type is not a string');
  if (typeof value.indicator !== 'string') throw fault.error('indicator is not a string');
  const { type, indicator } = value;
  const remove: ImportRow[] = [{ op: 'remove', list, id }];
  let descriptors: Descriptor[] = [];
  if (value.descriptors !== undefined && value.descriptors !== null) {
    if (!isObject(value.descriptors) || !Array.isArray(value.descriptors.data)) {
      throw fault.error('descriptors is not a { data: [...] } edge');
    }
    descriptors = value.descriptors.data.map((d, i) => descriptorOf(d, fault, `descriptors.data[${i}]`));
  }
  // A tombstone; or no descriptor visible (pytx treats that as one too: ThreatExchange issue #834).
  if (value.should_delete || descriptors.length === 0) return { rows: remove, ignored: false, time };
  const algorithm = Object.hasOwn(THREATEXCHANGE_TYPES, type) ? THREATEXCHANGE_TYPES[type] : undefined;
  if (algorithm === undefined) return { rows: [], ignored: true, time };
  if (indicator.trim() === '') return { rows: remove, ignored: true, time };
  const views = opinions(descriptors);
  const negative = views.filter((o) => o === 'negative').length;
  // Every member that spoke cleared it (pytx's FALSE_POSITIVE aggregate): listing it would flag
  // exactly what was cleared. Removed in case an earlier update listed it.
  if (negative === views.length) return { rows: remove, ignored: true, time };
  const kept = [...descriptors].sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const tags = [...new Set(descriptors.flatMap((d) => d.tags))].filter((t) => t.length <= MAX_TAG_LENGTH).sort();
  const added = descriptors.map((d) => d.addedOn).filter((a): a is string => a !== undefined && a.length <= 64);
  const metadata: Record<string, unknown> = {
    type,
    lastUpdated: time,
    descriptors: kept.slice(0, MAX_KEPT_DESCRIPTORS).map((d) => d.id),
    owners: [...new Set(kept.map((d) => d.owner))].slice(0, MAX_KEPT_DESCRIPTORS),
  };
  if (added.length > 0) metadata.addedOn = added.sort()[0];
  if (tags.length > 0) metadata.tags = tags.slice(0, MAX_KEPT_TAGS).join(' ');
  if (negative > 0) metadata.disputed = true;
  try {
    const entry = normalizeEntry({ id, list, algorithm, hash: indicator, metadata });
    return { rows: [{ op: 'add', entry }], ignored: false, time };
  } catch (error) {
    // A hash that is not one of its type (another member's upload): pytx logs and skips it. One
    // bad record must not stop the group's sync; an earlier good version of it is removed.
    if (isHashwardenError(error, 'ERR_HASH_FORMAT')) return { rows: remove, ignored: true, time };
    throw error;
  }
}

/**
 * Checks one `/threat_updates` answer (`{ data: [...], paging: { next } }`) whole and turns its
 * records into rows of `list`. Throws `ERR_EXCHANGE_RESPONSE` naming `what` and the record.
 *
 * @internal For threatexchange.ts.
 */
export function threatUpdatesPage(body: unknown, list: string, what: string): ThreatUpdatesPage {
  const page = new Fault(what);
  if (!isObject(body) || !Array.isArray(body.data)) throw page.error('the answer is not a { data: [...] } object');
  let next: string | undefined;
  if (body.paging !== undefined && body.paging !== null) {
    if (!isObject(body.paging)) throw page.error('paging is not an object');
    next = optionalString(body.paging.next, page, 'paging.next');
  }
  const rows: ImportRow[] = [];
  let ignored = 0;
  let highest = 0;
  body.data.forEach((record, i) => {
    const one = recordRows(record, list, new Fault(`${what}, record ${i}`));
    rows.push(...one.rows);
    if (one.ignored) ignored++;
    highest = Math.max(highest, one.time);
  });
  return { rows, ignored, highest, next };
}
