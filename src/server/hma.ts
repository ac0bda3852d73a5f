/**
 * HMA 2's request and response shapes (Meta's Hasher-Matcher-Actioner, OpenMediaMatch; BSD), as
 * the sidecar answers them, and the JSON schemas of those shapes (for validation, fast
 * serialization and the OpenAPI document). Where a shape is quoted, the source is HMA's
 * blueprints: matching.py, hashing.py, curation.py, and its error handler (flask_utils.py).
 */
import { canonicalAlgorithm, type AlgorithmName } from '../algorithms/registry.js';
import type { HashAlgorithm } from '../algorithms/types.js';
import type { Match, Matcher } from '../index.js';

/**
 * An error answered in HMA's shape, `{ "message": ... }` (flask_utils.api_error_handler), with the
 * `code` of a `HashwardenError` when one caused it, and extra fields (an upload's `unusable`).
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly extra: Readonly<Record<string, unknown>> | undefined;
  /** Seconds for a Retry-After header (503s). */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    message: string,
    details: { code?: string; extra?: Record<string, unknown>; retryAfter?: number } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = details.code;
    this.extra = details.extra;
    this.retryAfter = details.retryAfter;
  }
}

/** The error body: `{ message, code?, ...extra }`. */
export function errorBody(error: HttpError): Record<string, unknown> {
  return { message: error.message, ...(error.code === undefined ? {} : { code: error.code }), ...error.extra };
}

/** HMA's answer when the index is not loaded yet (matching.py `query_index`: 503 "index not yet ready"). */
export const notReady = (): HttpError => new HttpError(503, 'index not yet ready', { retryAfter: 1 });

/** A decimal integer that a JSON number holds exactly. */
const INTEGER_ID = /^(?:0|[1-9]\d{0,15})$/;

/**
 * HMA's `bank_content_id` is an integer (matching.py, `MatchWithDistancePayload`); ours is the
 * entry's id, any string. An id that is a decimal integer within 2^53 is answered as that number,
 * so an HMA client's integer handling works; any other id as its string.
 */
export function contentId(entryId: string): number | string {
  if (INTEGER_ID.test(entryId)) {
    const n = Number(entryId);
    if (Number.isSafeInteger(n)) return n;
  }
  return entryId;
}

/**
 * One match as HMA gives it: `{"bank_content_id": 1, "distance": "0"}` (distance a string:
 * `pretty_str()`); ours adds `"review": true` to a match of an entry in a held storm (HMA's
 * clients read the fields they know and ignore it).
 */
export interface HmaMatch {
  readonly bank_content_id: number | string;
  readonly distance: string;
  readonly review?: true;
}

/** Bank name to matches (matching.py `TMatchByBank`): `{"TEST_BANK": [{"bank_content_id": 1, "distance": "0"}]}`. */
export type MatchesByBank = Record<string, HmaMatch[]>;

/** Matches grouped by list (HMA's bank), in the matcher's order (nearest first), optionally only `banks`. */
export function byBank(matches: readonly Match[], banks: ReadonlySet<string> | undefined): MatchesByBank {
  // No prototype: a list may be called "__proto__".
  const out: MatchesByBank = Object.create(null);
  for (const m of matches) {
    if (banks !== undefined && !banks.has(m.list)) continue;
    const entry: HmaMatch = {
      bank_content_id: contentId(m.entryId),
      distance: String(m.distance),
      ...(m.review === true ? { review: true } : {}),
    };
    const bank = out[m.list];
    if (bank === undefined) out[m.list] = [entry];
    else bank.push(entry);
  }
  return out;
}

/** HMA's `banks` parameter: a comma-separated list of bank names (matching.py `lookup_get`). */
export function banksParameter(value: string | undefined): ReadonlySet<string> | undefined {
  return value ? new Set(value.split(',')) : undefined;
}

/**
 * The algorithm a `signal_type` names, which the matcher holds entries of: HMA's
 * `_validate_and_transform_signal_type` (matching.py) answers 400 "No such SignalType 'x'" for an
 * unknown type and "SignalType 'x' is not enabled" for one not enabled; ours is enabled when the
 * lists hold entries of it. Names are exact (`pdq`, not `PDQ`), as HMA's are.
 */
export function signalType(name: string | undefined, matcher: Matcher): HashAlgorithm<AlgorithmName> {
  const algorithm = name === undefined ? undefined : canonicalAlgorithm(name);
  if (algorithm === undefined) throw new HttpError(400, `No such SignalType '${name ?? ''}'`);
  if (!matcher.algorithms.includes(algorithm.name)) throw new HttpError(400, `SignalType '${name}' is not enabled`);
  return algorithm;
}

/** pydantic's boolean words (HMA's query models are pydantic): true/false, 1/0, yes/no, on/off, t/f, y/n. */
export function booleanParameter(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const v = value.toLowerCase();
  if (['true', '1', 'yes', 'on', 't', 'y'].includes(v)) return true;
  if (['false', '0', 'no', 'off', 'f', 'n'].includes(v)) return false;
  throw new HttpError(400, `invalid boolean parameter ${name} - prefer true/false`);
}

// JSON schemas: Fastify validates requests with them, serializes responses with them (compiled,
// fast-json-stringify) and @fastify/swagger writes them into /openapi.json.

/** HMA's ErrorResponse (schemas/shared.py): `message`, optional `details`; ours adds `code`. */
export const ERROR_SCHEMA = {
  type: 'object',
  properties: { message: { type: 'string' }, details: { type: 'string' }, code: { type: 'string' } },
  required: ['message'],
  additionalProperties: true,
} as const;

/** `MatchWithDistance` (schemas/matching.py), `bank_content_id` an integer or, for a non-integer id, a string. */
export const MATCH_SCHEMA = {
  type: 'object',
  properties: {
    bank_content_id: { type: ['integer', 'string'] },
    distance: { type: 'string' },
    review: { type: 'boolean', description: "held for review: the entry is in a storm (hashwarden's own)" },
  },
  required: ['bank_content_id', 'distance'],
} as const;

/** Bank name to matches. */
export const BY_BANK_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'array', items: MATCH_SCHEMA },
} as const;

/** Signal type to bank name to matches (POST /m/lookup, GET /m/lookup?url=). */
export const BY_TYPE_SCHEMA = { type: 'object', additionalProperties: BY_BANK_SCHEMA } as const;

/** Signal type to hash (HashResponse, schemas/hashing.py: extra fields allowed). */
export const HASHES_SCHEMA = { type: 'object', additionalProperties: { type: 'string' } } as const;

/** A querystring of optional strings, HMA's query models' fields (all sent as text). */
export function querySchema(names: readonly string[], required: readonly string[] = []): Record<string, unknown> {
  return {
    type: 'object',
    properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])),
    ...(required.length === 0 ? {} : { required }),
  };
}

/**
 * Fastify's validator compiler for the sidecar's routes: a querystring's fields are strings (one
 * value each) and its `required` ones present, answered 400 in HMA's shape otherwise; bodies and
 * path parameters are checked by their handlers, in HMA's words. The schemas stay whole for the
 * OpenAPI document; compiling them with Ajv would cost every start more than the checks it adds.
 */
export function validatorCompiler({ schema, httpPart }: { schema: unknown; httpPart?: string }) {
  if (httpPart !== 'querystring') return () => true;
  const { properties = {}, required = [] } = schema as { properties?: object; required?: readonly string[] };
  const names = Object.keys(properties);
  return (query: Record<string, unknown>): true | { error: HttpError } => {
    for (const name of names) {
      const value = query[name];
      if (value !== undefined && typeof value !== 'string')
        return { error: new HttpError(400, `querystring/${name} must be one string`) };
    }
    for (const name of required)
      if (query[name] === undefined) return { error: new HttpError(400, `${name} is required`) };
    return true;
  };
}

/** The common error responses of a route, by status. */
export function errors(...statuses: number[]): Record<string, unknown> {
  return Object.fromEntries(statuses.map((s) => [String(s), ERROR_SCHEMA]));
}
