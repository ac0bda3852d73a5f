/**
 * A stand-in for NCMEC's hash-sharing API v2, for the connector's tests: `GET /v2/entries` with
 * `from`/`to` time ranges and `start`/`size`/`max` paging behind `<paging><next>` links, in the
 * XML layout python-threatexchange's tests show (`<queryResult>`, `<images>`/`<videos>`,
 * `<deletedImage>`/`<deletedVideo>`), the feedback reasons and the feedback PUT; HTTP basic
 * authentication checked on every request (401 otherwise, and once the credential is expired).
 * The real service needs an account this project cannot have. Data: generated, never real hashes.
 */
import { type RecordedRequest, type StandIn, type StandInAnswer, startStandIn } from './exchange-server.js';

/** One record the stand-in serves. */
export interface NcmecStandInRecord {
  readonly memberId: number;
  readonly member?: string;
  readonly id: string;
  readonly mediaType: 'image' | 'video';
  readonly deleted?: boolean;
  /** Unix seconds: the ranges select on it. */
  readonly timestamp: number;
  readonly classification?: string;
  /** By element name (`md5`, `pdq`, `pdna`); `null`: a link only (`<tmk-pdqf href=…/>`). */
  readonly fingerprints?: Readonly<Record<string, string | null>>;
}

/** Options of {@link startNcmecStandIn}. */
export interface NcmecStandInOptions {
  readonly username: string;
  readonly password: string;
  /** Records a page holds (NCMEC's is 1,000). */
  readonly pageSize?: number;
  /** A path the API sits under, as the environments' URLs have (`/hashsharing`). Default none. */
  readonly prefix?: string;
  readonly reasons?: readonly { readonly guid: string; readonly name: string }[];
}

/** A running NCMEC stand-in. */
export interface NcmecStandIn {
  readonly server: StandIn;
  /** The base URL to give the connector (`http://127.0.0.1:<port><prefix>`). */
  readonly baseUrl: string;
  /** What it serves, in its (not time) order; tests add, update and delete. */
  readonly records: NcmecStandInRecord[];
  /** The credential expires: every later request is refused with 401. */
  expire(): void;
  /**
   * The entries page starting at record `start` (1 for a range's first) answers `body` with
   * status 200 instead of its records (a malformed page), until `undefined` is given.
   */
  breakPage(start: number, body: string | undefined): void;
  /** The entries requests received. */
  entryRequests(): RecordedRequest[];
  close(): Promise<void>;
}

const NAMESPACE = 'https://hashsharing.ncmec.org/hashsharing/v2';

function time(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function recordXml(record: NcmecStandInRecord): string {
  const media = record.mediaType;
  const tag = record.deleted === true ? `deleted${media[0]?.toUpperCase()}${media.slice(1)}` : media;
  const lines = [
    `        <${tag}>`,
    `            <member id="${record.memberId}">${escape(record.member ?? `Member ${record.memberId}`)}</member>`,
    `            <timestamp>${time(record.timestamp)}</timestamp>`,
    `            <id>${escape(record.id)}</id>`,
  ];
  if (record.deleted !== true) {
    if (record.classification !== undefined)
      lines.push(`            <classification>${escape(record.classification)}</classification>`);
    lines.push('            <fingerprints>');
    for (const [type, value] of Object.entries(record.fingerprints ?? {})) {
      lines.push(
        value === null
          ? `                <${type} rel="self" href="/v2/entries/${record.memberId}/fingerprints/${type.toUpperCase()}"/>`
          : `                <${type}>${escape(value)}</${type}>`,
      );
    }
    lines.push('            </fingerprints>');
  }
  lines.push(`        </${tag}>`);
  return lines.join('\n');
}

function section(name: 'images' | 'videos', records: readonly NcmecStandInRecord[]): string {
  if (records.length === 0) return `    <${name} count="0"/>`;
  const max = Math.max(...records.map((r) => r.timestamp));
  return [
    `    <${name} count="${records.length}" maxTimestamp="${time(max)}">`,
    ...records.map(recordXml),
    `    </${name}>`,
  ].join('\n');
}

/**
 * Starts an NCMEC stand-in on 127.0.0.1.
 *
 * @example
 * ```ts
 * const ncmec = await startNcmecStandIn({ username: 'u', password: 'p', pageSize: 50 });
 * ncmec.records.push({ memberId: 42, id: 'image1', mediaType: 'image', timestamp: 1_600_000_000, fingerprints: { md5 } });
 * ```
 */
export async function startNcmecStandIn(options: NcmecStandInOptions): Promise<NcmecStandIn> {
  const records: NcmecStandInRecord[] = [];
  const pageSize = options.pageSize ?? 1000;
  const prefix = options.prefix ?? '';
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  let expired = false;
  const broken = new Map<number, string>();
  const xml = (body: string): StandInAnswer => ({
    headers: { 'content-type': 'application/xml; charset=utf-8' },
    body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n${body}\n`,
  });

  const server = await startStandIn((request, url): StandInAnswer => {
    if (expired || request.headers.authorization !== expected) {
      return { status: 401, headers: { 'www-authenticate': 'Basic realm="hashsharing"' }, body: 'Unauthorized' };
    }
    if (!url.pathname.startsWith(`${prefix}/v2/`)) return { status: 404, body: 'Not found' };
    const path = url.pathname.slice(prefix.length);
    if (request.method === 'GET' && path === '/v2/entries') {
      const from = Date.parse(url.searchParams.get('from') ?? '') / 1000;
      const to = Date.parse(url.searchParams.get('to') ?? '') / 1000;
      if (Number.isNaN(from) || Number.isNaN(to)) return { status: 400, body: 'from and to are required' };
      const inRange = records.filter((r) => r.timestamp >= from && r.timestamp <= to);
      const start = Number(url.searchParams.get('start') ?? '1');
      const size = Number(url.searchParams.get('size') ?? String(pageSize));
      const brokenBody = broken.get(start);
      if (brokenBody !== undefined) return { headers: { 'content-type': 'application/xml' }, body: brokenBody };
      const page = inRange.slice(start - 1, start - 1 + size);
      const max = inRange.length;
      const parts = [`<queryResult xmlns="${NAMESPACE}">`];
      parts.push(
        section(
          'images',
          page.filter((r) => r.mediaType === 'image'),
        ),
      );
      parts.push(
        section(
          'videos',
          page.filter((r) => r.mediaType === 'video'),
        ),
      );
      if (start - 1 + size < max) {
        const next = new URLSearchParams({
          from: url.searchParams.get('from') ?? '',
          to: url.searchParams.get('to') ?? '',
          start: String(start + size),
          size: String(size),
          max: String(max),
        });
        parts.push(`    <paging>\n        <next>${escape(`/v2/entries?${next}`)}</next>\n    </paging>`);
      }
      parts.push('</queryResult>');
      return xml(parts.join('\n'));
    }
    const reasons = /^\/v2\/feedback\/([A-Z0-9_]+)\/reasons$/.exec(path);
    if (request.method === 'GET' && reasons !== null) {
      const items = (options.reasons ?? []).map(
        (r) => `    <reason guid="${r.guid}" name="${escape(r.name)}" type="${reasons[1]}"/>`,
      );
      return xml(`<availableFeedbackReasons xmlns="${NAMESPACE}">\n${items.join('\n')}\n</availableFeedbackReasons>`);
    }
    if (request.method === 'PUT' && /^\/v2\/entries\/\d+\/[^/]+\/[A-Z0-9_]+\/feedback$/.test(path)) {
      if (!/<feedbackSubmission[^>]*>\s*<(affirmative|negative)/.test(request.body))
        return { status: 400, body: 'bad' };
      return xml(`<submissionResult xmlns="${NAMESPACE}"/>`);
    }
    if (request.method === 'GET' && path === '/v2/status') {
      return xml(
        `<status xmlns="${NAMESPACE}"><username>${escape(options.username)}</username><member id="1">Stand-in</member></status>`,
      );
    }
    return { status: 404, body: 'Not found' };
  });
  return {
    server,
    baseUrl: `${server.url}${prefix}`,
    records,
    expire() {
      expired = true;
    },
    breakPage(start, body) {
      if (body === undefined) broken.delete(start);
      else broken.set(start, body);
    },
    entryRequests() {
      return server.requests.filter((r) => r.url.includes('/v2/entries?'));
    },
    close: () => server.close(),
  };
}
