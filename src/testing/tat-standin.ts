/**
 * A stand-in for Tech Against Terrorism's hash list API (TCAP), as python-threatexchange's client
 * and its tests show it: a token from `POST /token-auth/tcap/` (a form of username and password),
 * then with `Authorization: Bearer <token>` either v2's pages (`/api/hash-list/v2/<ideology>?
 * order=asc&after=<timestamp>,<id>` → `{count, next, previous, checkpoint, results}`) or v1's
 * answer (`/api/hash-list/<ideology>` → `{file_url, file_name, created_on, total_hashes,
 * ideology}`) whose presigned `file_url` (same server, `/files/<name>?X-Amz-Signature=…`) gives the
 * whole list as one JSON array, to a request WITHOUT an Authorization header, as S3 wants it.
 * Records are generated (random hex from a seeded generator), never real hashes.
 */
import { randomBytes } from 'node:crypto';
import { mulberry32 } from './prng.js';
import { type RecordedRequest, type StandIn, type StandInAnswer, startStandIn } from './exchange-server.js';

/** One record of TAT's list, as its API sends it (python-threatexchange's `TATHashListEntry`). */
export interface TatRecord {
  id: number;
  hash_digest: string;
  algorithm: string;
  ideology: string;
  file_type: string;
  deleted: boolean;
  updated_on: number;
}

/** Options of {@link startTatStandIn}. */
export interface TatStandInOptions {
  readonly username?: string;
  readonly password?: string;
  /** The list's records (the stand-in keeps this array and changes it). Default none. */
  readonly records?: TatRecord[];
  /** Records per v2 page. Default 50. */
  readonly pageSize?: number;
  /** A token is refused after this many requests made with it (it expired). Default: never. */
  readonly tokenUses?: number;
}

/** A running TAT stand-in: the shared stand-in's controls, and the list's. */
export interface TatStandIn extends StandIn {
  readonly records: TatRecord[];
  /** Tokens issued so far. */
  readonly tokensIssued: () => number;
  /** Every token issued so far is refused from now on (401). */
  expireTokens(): void;
  /** The account's password changes: the token endpoint refuses the old one (401). */
  setPassword(password: string): void;
  /** Withdraws a record: `deleted: true`, updated now (so v2 sends it again after the checkpoint). */
  withdraw(id: number): void;
  /** Adds records, updated now. */
  add(records: readonly TatRecord[]): void;
  /**
   * Publishes the v1 file of the current records (what the list endpoint then points to); the
   * name is the date's unless given.
   */
  publish(createdOn?: string): string;
  /** Every presigned file URL handed out so far is refused from now on (403, as S3 after expiry). */
  expireFileUrls(): void;
  /**
   * Replaces by `body` the body of the next `times` (default 1) successful answers whose path
   * matches `when`, after `skip` (default 0) such answers pass untouched.
   */
  tamper(when: RegExp, body: string, options?: { readonly times?: number; readonly skip?: number }): void;
}

const HEX = '0123456789abcdef';

/** Hex digits from a seeded generator: random, never a real hash of anything. */
function hex(next: () => number, digits: number): string {
  let text = '';
  for (let i = 0; i < digits; i++) text += HEX[Math.floor(next() * 16)];
  return text;
}

/** The generated records' hash types: hashwarden's three, and TMK (a video hash it lacks). */
const KINDS = [
  ['MD5', 32, 'mp4'],
  ['PDQ', 64, 'png'],
  ['SHA256', 64, 'jpg'],
  ['TMK', 64, 'mp4'],
] as const;

/** First `updated_on` of the generated records (2024-01-10, TAT's example's day). */
const EPOCH = 1704901040.222779;

/**
 * `count` generated records: MD5, PDQ and SHA256 in turn (every 25th a TMK video hash, which
 * hashwarden lacks), ideologies `islamist` and `far-right` in turn, ids from `firstId`.
 *
 * @example
 * ```ts
 * const records = tatRecords(300);
 * ```
 */
export function tatRecords(count: number, seed = 21, firstId = 1000): TatRecord[] {
  const next = mulberry32(seed);
  const records: TatRecord[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 25 === 24 ? 3 : i % 3;
    const [algorithm, digits, fileType] = KINDS[kind] as (typeof KINDS)[number];
    records.push({
      id: firstId + i,
      hash_digest: hex(next, digits),
      algorithm,
      ideology: i % 2 === 0 ? 'islamist' : 'far-right',
      file_type: fileType,
      deleted: false,
      updated_on: EPOCH + i,
    });
  }
  return records;
}

/** Records in v2's order: by update time, then id. */
function byUpdate(a: TatRecord, b: TatRecord): number {
  return a.updated_on - b.updated_on || a.id - b.id;
}

const json = (body: unknown, status = 200): StandInAnswer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * Starts a TAT stand-in on 127.0.0.1.
 *
 * @example
 * ```ts
 * const tat = await startTatStandIn({ records: tatRecords(300) });
 * const client = tatExchange({ credentials: { username: 'analyst', password: 'pw' }, baseUrl: tat.url });
 * ```
 */
export async function startTatStandIn(options: TatStandInOptions = {}): Promise<TatStandIn> {
  const username = options.username ?? 'analyst';
  let password = options.password ?? 'correct horse battery staple';
  const records = options.records ?? [];
  const pageSize = options.pageSize ?? 50;
  const tokens = new Map<string, { uses: number; expired: boolean }>();
  const files = new Map<string, { readonly createdOn: string; readonly records: readonly TatRecord[] }>();
  const signatures = new Set<string>();
  const tampers: { when: RegExp; body: string; remaining: number; skip: number }[] = [];
  let clock = EPOCH + 1_000_000;
  let current: string | undefined;
  let published = 0;

  const authorized = (request: RecordedRequest): boolean => {
    const match = /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''));
    const token = match === null ? undefined : tokens.get(match[1] as string);
    if (token === undefined || token.expired) return false;
    token.uses++;
    if (options.tokenUses !== undefined && token.uses > options.tokenUses) token.expired = true;
    return !token.expired;
  };

  const ofIdeology = (ideology: string, all: readonly TatRecord[]): TatRecord[] | undefined => {
    if (ideology === 'all') return [...all];
    if (ideology === 'islamist' || ideology === 'far-right') return all.filter((r) => r.ideology === ideology);
    return undefined;
  };

  const answer = (request: RecordedRequest, url: URL, base: string): StandInAnswer => {
    const path = url.pathname;
    if (path === '/token-auth/tcap/') {
      if (
        request.method !== 'POST' ||
        !String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')
      ) {
        return json({ detail: 'Expected a form POST' }, 400);
      }
      const form = new URLSearchParams(request.body);
      if (form.get('username') !== username || form.get('password') !== password) {
        return json({ non_field_errors: ['Unable to log in with provided credentials.'] }, 401);
      }
      const token = `tcap.${randomBytes(24).toString('base64url')}`;
      tokens.set(token, { uses: 0, expired: false });
      return json({ token, user: { username } });
    }
    const file = /^\/files\/([^/]+)$/.exec(path);
    if (file !== null) {
      // S3 refuses a presigned URL sent with another credential.
      if (request.headers.authorization !== undefined) return json({ error: 'Only one auth mechanism allowed' }, 400);
      const published = files.get(file[1] as string);
      if (published === undefined || !signatures.has(url.searchParams.get('X-Amz-Signature') ?? '')) {
        return json({ error: 'Request has expired' }, 403);
      }
      return json(published.records);
    }
    const page = /^\/api\/hash-list\/v2\/([^/]+)$/.exec(path);
    const list = /^\/api\/hash-list\/([^/]+)$/.exec(path);
    if (page === null && list === null) return json({ detail: 'Not found' }, 404);
    if (!authorized(request)) return json({ detail: 'Given token not valid for any token type' }, 401);
    if (page !== null) {
      const matching = ofIdeology(page[1] as string, records)?.sort(byUpdate);
      if (matching === undefined) return json({ detail: 'Unknown ideology' }, 404);
      const after = url.searchParams.get('after') ?? '';
      const [time, id] = after === '' ? [Number.NEGATIVE_INFINITY, 0] : after.split(',').map(Number);
      const rest = matching.filter(
        (r) => r.updated_on > (time as number) || (r.updated_on === time && r.id > (id as number)),
      );
      const results = rest.slice(0, pageSize);
      const last = results.at(-1);
      return json({
        count: matching.length,
        next:
          rest.length > pageSize
            ? `${base}${path}?limit=${pageSize}&offset=${matching.length - rest.length + pageSize}`
            : null,
        previous: null,
        checkpoint: last === undefined ? after : `${last.updated_on},${last.id}`,
        results,
      });
    }
    const ideology = (list as RegExpExecArray)[1] as string;
    if (current === undefined || ofIdeology(ideology, []) === undefined) return json({ detail: 'Not found' }, 404);
    const name = `${current.replace('.json', '')}-${ideology}.json`;
    const source = files.get(current) as { readonly createdOn: string; readonly records: readonly TatRecord[] };
    const chosen = ofIdeology(ideology, source.records) as TatRecord[];
    files.set(name, { createdOn: source.createdOn, records: chosen });
    const signature = randomBytes(16).toString('hex');
    signatures.add(signature);
    return json({
      file_url: `${base}/files/${name}?X-Amz-Expires=300&X-Amz-Signature=${signature}`,
      file_name: name,
      created_on: source.createdOn,
      total_hashes: chosen.length,
      ideology,
    });
  };

  let base = '';
  const standIn = await startStandIn((request, url) => {
    const result = answer(request, url, base);
    const tamper = tampers.find((t) => t.remaining > 0 && t.when.test(url.pathname));
    if (tamper === undefined || (result.status ?? 200) !== 200) return result;
    if (tamper.skip > 0) {
      tamper.skip--;
      return result;
    }
    tamper.remaining--;
    return { ...result, body: tamper.body };
  });
  base = standIn.url;
  return Object.assign(standIn, {
    records,
    tokensIssued: () => tokens.size,
    expireTokens() {
      for (const token of tokens.values()) token.expired = true;
    },
    setPassword(value: string) {
      password = value;
    },
    withdraw(id: number) {
      const record = records.find((r) => r.id === id);
      if (record === undefined) throw new Error(`No record ${id}`);
      Object.assign(record, { deleted: true, updated_on: ++clock });
    },
    add(added: readonly TatRecord[]) {
      for (const record of added) records.push({ ...record, updated_on: ++clock });
    },
    publish(createdOn = new Date(Date.UTC(2026, 0, 1) + published++ * 86_400_000).toISOString()) {
      current = `tat-hash-list-${createdOn.slice(0, 10)}.json`;
      files.set(current, { createdOn, records: records.map((r) => ({ ...r })) });
      return current;
    },
    expireFileUrls() {
      signatures.clear();
    },
    tamper(when: RegExp, body: string, { times = 1, skip = 0 } = {}) {
      tampers.push({ when, body, remaining: times, skip });
    },
  });
}
