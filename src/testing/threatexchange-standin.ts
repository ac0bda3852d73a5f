/**
 * A stand-in for ThreatExchange's Graph API, as python-threatexchange's client speaks to it: GET
 * `/<version>/<privacy group>/threat_updates/` with `access_token`, `fields`, `limit`,
 * `start_time`, `stop_time`, `types`, answered `{ data, paging: { cursors, next } }` in order of
 * `last_updated` (the `next` link carrying the query, token included, as the Graph API's do), and
 * POST `/<version>/<descriptor id>/` with `reactions`. A wrong or expired token gets what the
 * Graph API answers: HTTP 400, an `OAuthException` of code 190 and an RFC 6750 challenge.
 * Generated data only: no real hash from anywhere.
 */
import { type StandIn, startStandIn } from './exchange-server.js';
import { mulberry32 } from './prng.js';

/** One descriptor of an update, as the stand-in serves it. */
export interface StandInDescriptor {
  readonly id: string;
  readonly owner: string;
  readonly status?: string;
  readonly tags?: readonly string[];
  readonly addedOn?: string;
  /** `{ key: 'HELPFUL', value: '<app id>,<app id>' }`, the Graph API's shape. */
  readonly reactions?: readonly { readonly key: string; readonly value: string }[];
}

/** One `/threat_updates` record. */
export interface StandInUpdate {
  /** The indicator's id. */
  readonly id: string;
  readonly indicator: string;
  readonly type: string;
  readonly lastUpdated: number;
  readonly shouldDelete?: boolean;
  readonly descriptors?: readonly StandInDescriptor[];
}

/** Options of {@link startThreatExchangeStandIn}. */
export interface ThreatExchangeStandInOptions {
  /** The app token accepted (`<app id>|<secret>`). */
  readonly token: string;
  readonly privacyGroup: string;
  /** The group's updates; tests may push more while it runs. */
  readonly updates: StandInUpdate[];
  /** Graph API version in the paths. Default `v21.0`. */
  readonly version?: string;
}

/** A running ThreatExchange stand-in. */
export interface ThreatExchangeStandIn extends StandIn {
  /** `<url>/<version>`: the client's `baseUrl`. */
  readonly base: string;
  readonly updates: StandInUpdate[];
  /** Reactions posted, in order. */
  readonly reactions: { readonly descriptor: string; readonly reaction: string }[];
  /** The token is refused from now on (HTTP 400, OAuthException 190), as an expired one is. */
  expire(): void;
  /** The next `times` threat_updates answers (after `skip` of them) are malformed: `json` is not JSON, `field` has a bad `last_updated`. */
  malform(kind: 'json' | 'field', options?: { readonly skip?: number; readonly times?: number }): void;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=UTF-8' };

/** The Graph API's error answer. */
function graphError(
  code: number,
  message: string,
  challenge: string,
): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: 400,
    headers: { ...JSON_HEADERS, 'www-authenticate': `OAuth "Facebook Platform" "${challenge}" "${message}"` },
    body: JSON.stringify({ error: { message, type: 'OAuthException', code, fbtrace_id: 'standin' } }),
  };
}

function order(a: StandInUpdate, b: StandInUpdate): number {
  return a.lastUpdated - b.lastUpdated || a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function recordJson(u: StandInUpdate): unknown {
  const record: Record<string, unknown> = {
    id: u.id,
    indicator: u.indicator,
    type: u.type,
    last_updated: String(u.lastUpdated),
    should_delete: u.shouldDelete === true,
  };
  // Tombstones come without descriptors (ThreatExchange issue #834 is why pytx checks both).
  if (u.descriptors !== undefined && u.shouldDelete !== true) {
    record.descriptors = {
      data: u.descriptors.map((d) => ({
        id: d.id,
        owner: { id: d.owner },
        status: d.status ?? 'MALICIOUS',
        tags: { data: (d.tags ?? []).map((text, i) => ({ id: `${d.id}${i}`, text })) },
        added_on: d.addedOn ?? '2024-01-01T00:00:00+0000',
        reactions: d.reactions ?? [],
      })),
    };
  }
  return record;
}

/**
 * Starts the stand-in on 127.0.0.1.
 *
 * @example
 * ```ts
 * const te = await startThreatExchangeStandIn({ token, privacyGroup: '1234567890', updates });
 * const client = threatExchange({ credentials: { accessToken: token }, privacyGroup: '1234567890', baseUrl: te.base });
 * ```
 */
export async function startThreatExchangeStandIn(
  options: ThreatExchangeStandInOptions,
): Promise<ThreatExchangeStandIn> {
  const version = options.version ?? 'v21.0';
  const reactions: { descriptor: string; reaction: string }[] = [];
  let expired = false;
  const malformed: { kind: 'json' | 'field'; skip: number; times: number }[] = [];
  let url = '';

  const standIn = await startStandIn((request, parsed) => {
    const token = parsed.searchParams.get('access_token');
    if (expired || token !== options.token) {
      return graphError(190, 'Error validating access token: Session has expired.', 'invalid_token');
    }
    const parts = parsed.pathname.split('/').filter(Boolean);
    if (parts[0] !== version) return graphError(2500, 'Unknown path components', 'invalid_request');
    if (request.method === 'POST' && parts.length === 2) {
      const descriptor = parts[1] ?? '';
      const known = options.updates.some((u) => u.descriptors?.some((d) => d.id === descriptor));
      const reaction = new URLSearchParams(request.body).get('reactions');
      if (!known || reaction === null) return graphError(100, 'Unsupported post request.', 'invalid_request');
      reactions.push({ descriptor, reaction });
      return { headers: JSON_HEADERS, body: JSON.stringify({ success: true }) };
    }
    if (
      request.method !== 'GET' ||
      parts.length !== 3 ||
      parts[2] !== 'threat_updates' ||
      parts[1] !== options.privacyGroup
    ) {
      return graphError(100, 'Unsupported get request.', 'invalid_request');
    }
    const q = parsed.searchParams;
    const start = Number(q.get('start_time') ?? 0);
    const stop = q.has('stop_time') ? Number(q.get('stop_time')) : Number.POSITIVE_INFINITY;
    const types = q.has('types') ? new Set((q.get('types') ?? '').split(',')) : undefined;
    const limit = Math.min(Number(q.get('limit') ?? 25), 1000);
    const after = q.get('after');
    const cursor =
      after === null ? undefined : (JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as [number, string]);
    const eligible = options.updates
      .filter((u) => u.lastUpdated >= start && u.lastUpdated < stop && (types === undefined || types.has(u.type)))
      .sort(order)
      .filter(
        (u) => cursor === undefined || order(u, { id: cursor[1], lastUpdated: cursor[0], indicator: '', type: '' }) > 0,
      );
    const data = eligible.slice(0, limit);
    const paging: Record<string, unknown> = {};
    const last = data.at(-1);
    if (last !== undefined) {
      const next = Buffer.from(JSON.stringify([last.lastUpdated, last.id])).toString('base64url');
      paging.cursors = { after: next };
      if (eligible.length > data.length) {
        const link = new URL(`${url}${parsed.pathname}`);
        for (const [key, value] of q) if (key !== 'after') link.searchParams.set(key, value);
        link.searchParams.set('after', next);
        paging.next = link.href;
      }
    }
    const fault = malformed.find((m) => m.times > 0);
    if (fault !== undefined) {
      if (fault.skip > 0) fault.skip--;
      else {
        fault.times--;
        if (fault.kind === 'json') return { headers: JSON_HEADERS, body: '{"data": [{"id": "1", ' };
        const records = data.map(recordJson) as Record<string, unknown>[];
        if (records[0] !== undefined)
          records[records.length >> 1] = { ...records[records.length >> 1], last_updated: 'yesterday' };
        return { headers: JSON_HEADERS, body: JSON.stringify({ data: records, paging }) };
      }
    }
    return { headers: JSON_HEADERS, body: JSON.stringify({ data: data.map(recordJson), paging }) };
  });
  url = standIn.url;
  return Object.assign(standIn, {
    base: `${standIn.url}/${version}`,
    updates: options.updates,
    reactions,
    expire() {
      expired = true;
    },
    malform(kind: 'json' | 'field', o: { readonly skip?: number; readonly times?: number } = {}) {
      malformed.push({ kind, skip: o.skip ?? 0, times: o.times ?? 1 });
    },
  });
}

/** Hex digits of each indicator type's hashes, for generated records. */
const HEX_BITS: Readonly<Record<string, number>> = {
  HASH_PDQ: 256,
  HASH_MD5: 128,
  HASH_VIDEO_MD5: 128,
  HASH_SHA1: 160,
  HASH_SHA256: 256,
  HASH_TMK: 1024,
};

/** The eight types generated records cycle through: mostly PDQ, one TMK (which hashwarden ignores). */
const GENERATED_TYPES = [
  'HASH_PDQ',
  'HASH_PDQ',
  'HASH_MD5',
  'HASH_PDQ',
  'HASH_SHA256',
  'HASH_TMK',
  'HASH_SHA1',
  'HASH_VIDEO_MD5',
];

/**
 * `count` generated records (random hex from a seeded generator, no real hash), three per second
 * from `time`, ids from `firstId`, one descriptor each, every fourth tagged.
 *
 * @example
 * ```ts
 * const updates = generateUpdates(300);
 * ```
 */
export function generateUpdates(
  count: number,
  seed = 1,
  firstId = 100_000_000_000_000,
  time = 1_700_000_000,
): StandInUpdate[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => {
    const type = GENERATED_TYPES[i % GENERATED_TYPES.length] ?? 'HASH_PDQ';
    let indicator = '';
    for (let d = 0; d < (HEX_BITS[type] ?? 256) / 4; d++) indicator += Math.floor(random() * 16).toString(16);
    return {
      id: String(firstId + i),
      type,
      indicator,
      lastUpdated: time + Math.floor(i / 3),
      descriptors: [
        { id: String(firstId * 10 + i), owner: '555000111', tags: i % 4 === 0 ? ['media_type_photo', 'csam'] : [] },
      ],
    };
  });
}
