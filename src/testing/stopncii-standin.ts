/**
 * A stand-in for StopNCII.org's hash exchange API, as python-threatexchange's StopNCII client and
 * its tests show it: `GET /FetchHashes?startTimestamp=&pageSize=[&nextPageToken=]` answering
 * `{count, nextSetTimestamp, nextPageToken, hasMoreRecords, hashRecords}`, and `POST
 * /SubmitFeedback` taking `{count, hashFeedbacks: [{tags, feedbackValue, hashValue}]}`. Every
 * request must carry the subscription key (`Ocp-Apim-Subscription-Key`) and the endpoint's function
 * key (`x-functions-key`), else 401, as Azure API Management answers. The records are generated
 * (random hex, made-up case ids and platforms), never real hashes.
 */
import { mulberry32 } from './prng.js';
import { type RecordedRequest, type StandIn, startStandIn } from './exchange-server.js';

/** A hash record as the service holds it (the fields `FetchHashes` answers). */
export interface StopnciiStandInRecord {
  lastModtimestamp: number;
  signalType: string;
  hashValue: string;
  hashStatus: string;
  caseNumbers: Record<string, string>;
  CSPFeedbacks?: { source: string; feedbackValue: string; tags: string[] }[];
}

/** The keys the stand-in takes. */
export interface StopnciiStandInKeys {
  readonly subscriptionKey: string;
  readonly fetchFunctionKey: string;
  readonly feedbackFunctionKey: string;
}

/** A running StopNCII stand-in. */
export interface StopnciiStandIn {
  readonly server: StandIn;
  readonly url: string;
  /** The service's records, in the order pages give them (by `lastModtimestamp`); change at will. */
  readonly records: StopnciiStandInRecord[];
  /** The bodies of the `SubmitFeedback` requests taken. */
  readonly feedback: unknown[];
  /** The keys it takes (replace them to make the client's expire). */
  keys: StopnciiStandInKeys;
  /** The `FetchHashes` answer after `skip` good ones is `body` instead of a page (once). */
  malform(body: string, skip?: number): void;
  /** Page tokens given so far stop being valid (400), as a token kept too long. */
  expireTokens(): void;
  /** The `FetchHashes` requests, with their parameters. */
  fetches(): { startTimestamp: string | null; pageSize: string | null; nextPageToken: string | null }[];
  close(): Promise<void>;
}

/** What a page token carries: the pass's start, the offset of the next record, its generation. */
interface Token {
  readonly start: number;
  readonly offset: number;
  readonly generation: number;
}

const HEX = '0123456789abcdef';

/**
 * `count` generated records: mostly `ImagePDQ`, some `VideoMD5` and `VideoTMK`, a few with CSP
 * feedback, timestamps increasing from `firstTimestamp`.
 *
 * @example
 * ```ts
 * const records = stopnciiRecords(300, 7);
 * ```
 */
export function stopnciiRecords(count: number, seed: number, firstTimestamp = 1_700_000_000): StopnciiStandInRecord[] {
  const random = mulberry32(seed);
  const hex = (digits: number): string => Array.from({ length: digits }, () => HEX[Math.floor(random() * 16)]).join('');
  return Array.from({ length: count }, (_, i) => {
    const kind = i % 10;
    const signalType = kind === 7 ? 'VideoMD5' : kind === 9 ? 'VideoTMK' : 'ImagePDQ';
    const record: StopnciiStandInRecord = {
      lastModtimestamp: firstTimestamp + i,
      signalType,
      hashValue: hex(signalType === 'VideoMD5' ? 32 : signalType === 'VideoTMK' ? 256 : 64),
      hashStatus: kind === 3 ? 'Received' : 'Active',
      caseNumbers: { [`${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`]: 'Active' },
    };
    if (kind === 5) record.CSPFeedbacks = [{ source: 'ExamplePlatform', feedbackValue: 'Blocked', tags: ['Nude'] }];
    return record;
  });
}

function encodeToken(token: Token): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): Token | undefined {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Token;
    return Number.isSafeInteger(token.offset) ? token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a StopNCII stand-in holding `records` and taking `keys`.
 *
 * @example
 * ```ts
 * const stopncii = await startStopnciiStandIn(stopnciiRecords(300, 1), keys);
 * stopncii.server.fail({ kind: 'status', status: 500 }, { skip: 3, times: 10 });
 * ```
 */
export async function startStopnciiStandIn(
  records: StopnciiStandInRecord[],
  keys: StopnciiStandInKeys,
): Promise<StopnciiStandIn> {
  const malformed: { body: string; skip: number }[] = [];
  const feedback: unknown[] = [];
  let generation = 0;
  const state = { keys };
  const authorised = (request: RecordedRequest, functionKey: string): boolean =>
    request.headers['ocp-apim-subscription-key'] === state.keys.subscriptionKey &&
    request.headers['x-functions-key'] === functionKey;
  const unauthorised = {
    status: 401,
    headers: { 'content-type': 'application/json' },
    body: '{"statusCode": 401, "message": "Access denied due to invalid subscription key or function key."}',
  };

  const server = await startStandIn((request, url) => {
    if (url.pathname === '/FetchHashes' && request.method === 'GET') {
      if (!authorised(request, state.keys.fetchFunctionKey)) return unauthorised;
      const pending = malformed[0];
      if (pending !== undefined && pending.skip-- <= 0) {
        malformed.shift();
        return { headers: { 'content-type': 'application/json' }, body: pending.body };
      }
      const start = Number(url.searchParams.get('startTimestamp') ?? Number.NaN);
      const pageSize = Number(url.searchParams.get('pageSize') ?? 800);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(pageSize) || pageSize < 1) return { status: 400 };
      const tokenText = url.searchParams.get('nextPageToken');
      let offset = 0;
      if (tokenText !== null) {
        const token = decodeToken(tokenText);
        if (token === undefined || token.start !== start || token.generation !== generation) return { status: 400 };
        offset = token.offset;
      }
      const selected = records.filter((r) => r.lastModtimestamp >= start);
      const page = selected.slice(offset, offset + pageSize);
      const hasMoreRecords = offset + pageSize < selected.length;
      const latest = selected.reduce((max, r) => Math.max(max, r.lastModtimestamp), start);
      return {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          count: page.length,
          nextSetTimestamp: latest,
          nextPageToken: encodeToken({ start, offset: offset + pageSize, generation }),
          hasMoreRecords,
          hashRecords: page,
        }),
      };
    }
    if (url.pathname === '/SubmitFeedback' && request.method === 'POST') {
      if (!authorised(request, state.keys.feedbackFunctionKey)) return unauthorised;
      feedback.push(JSON.parse(request.body));
      return { headers: { 'content-type': 'application/json' }, body: '{}' };
    }
    return { status: 404 };
  });
  return {
    server,
    url: server.url,
    records,
    feedback,
    get keys() {
      return state.keys;
    },
    set keys(value) {
      state.keys = value;
    },
    malform(body, skip = 0) {
      malformed.push({ body, skip });
    },
    expireTokens() {
      generation++;
    },
    fetches() {
      return server.requests
        .filter((r) => r.url.startsWith('/FetchHashes'))
        .map((r) => {
          const params = new URL(r.url, server.url).searchParams;
          return {
            startTimestamp: params.get('startTimestamp'),
            pageSize: params.get('pageSize'),
            nextPageToken: params.get('nextPageToken'),
          };
        });
    },
    close: () => server.close(),
  };
}
