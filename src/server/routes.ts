/**
 * The sidecar's routes that take no upload: HMA's lookups by hash (`GET /m/lookup`,
 * `/m/raw_lookup`), `/m/compare`, `/m/index/status`, the read-only curation routes (`/c/banks`,
 * `/c/bank/<name>`, `/c/signal_type`, `/c/signal_type/index`, `/c/content_type`), `/status`,
 * `/site-map`; and ours: the probes, `/metrics` and `/openapi.json`.
 */
import type { FastifyInstance } from 'fastify';
import { ALGORITHM_NAMES, canonicalAlgorithm } from '../algorithms/registry.js';
import { hammingDistance } from '../algorithms/hex.js';
import { isHashwardenError, type Matcher } from '../index.js';
import {
  banksParameter,
  booleanParameter,
  BY_BANK_SCHEMA,
  byBank,
  errors,
  HttpError,
  MATCH_SCHEMA,
  querySchema,
  signalType,
  type MatchesByBank,
} from './hma.js';
import type { Metrics } from './metrics.js';
import type { ResolvedServerOptions } from './options.js';
import type { Lists } from './source.js';
import { urlLookup } from './uploads.js';

/** HMA's content types; hashwarden hashes images only (`photo`), so `video` is not offered. */
export const CONTENT_TYPES = ['photo'] as const;

/** `GET /m/lookup`'s query (LookupRequest, schemas/matching.py). */
interface LookupQuery {
  readonly url?: string;
  readonly content_type?: string;
  readonly types?: string;
  readonly signal?: string;
  readonly signal_type?: string;
  readonly banks?: string;
  readonly seed?: string;
  readonly bypass_coinflip?: string;
}

/** Entries within the threshold of one hash, by bank (matching.py `lookup`, `lookup_signal_with_distance`). */
function lookupHash(
  matcher: Matcher,
  type: string | undefined,
  signal: string,
  banks: ReadonlySet<string> | undefined,
): MatchesByBank {
  const algorithm = signalType(type, matcher);
  try {
    return byBank(matcher.matchHash({ algorithm: algorithm.name, hash: signal }), banks);
  } catch (error) {
    if (isHashwardenError(error)) throw new HttpError(400, `invalid signal: ${error.message}`);
    throw error;
  }
}

/** `/m/index/status` and `/c/signal_type/index` take one `signal_type` or none: the names they report. */
function typesAsked(name: string | undefined): readonly string[] {
  if (name === undefined) return ALGORITHM_NAMES;
  if (canonicalAlgorithm(name) === undefined) throw new HttpError(400, `No such signal type '${name}'`);
  return [name];
}

/** Entries held per algorithm. */
function sizes(matcher: Matcher | undefined): Map<string, number> {
  return new Map((matcher?.describe() ?? []).map((t) => [t.algorithm, t.count]));
}

const text = { type: 'string' } as const;

function probeRoutes(app: FastifyInstance, lists: Lists, metrics: Metrics, routes: ReadonlySet<string>): void {
  const probe = { config: { public: true }, schema: { response: { 200: text, 503: text } } };
  // Liveness: the process answers. Never the lists' state, or an orchestrator would restart an
  // instance that is only loading or waiting for its source.
  for (const url of ['/healthz', '/livez'])
    app.get(url, probe, (_request, reply) => reply.type('text/plain').send('OK'));
  // Readiness, and HMA's combined /status (app.py): the same words, 503 until loaded, when stale, while draining.
  app.get('/readyz', probe, (_request, reply) => {
    const state = lists.readiness();
    return reply
      .code(state === 'READY' ? 200 : 503)
      .type('text/plain')
      .send(state);
  });
  app.get('/status', probe, (_request, reply) => {
    const state = lists.readiness();
    return reply
      .code(state === 'READY' ? 200 : 503)
      .type('text/plain')
      .send(state === 'READY' ? 'I-AM-ALIVE' : state);
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text exposition format)' } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get('/openapi.json', { schema: { summary: 'This document' } }, () => app.swagger());
  app.get('/site-map', { schema: { response: { 200: { type: 'array', items: text } } } }, () => [...routes].sort());
}

function matchRoutes(app: FastifyInstance, lists: Lists, metrics: Metrics, options: ResolvedServerOptions): void {
  app.get(
    '/m/lookup',
    {
      schema: {
        summary: 'Look up a hash (signal_type and signal), or the content at an allowed url',
        querystring: querySchema([
          'url',
          'content_type',
          'types',
          'signal',
          'signal_type',
          'banks',
          'seed',
          'bypass_coinflip',
        ]),
        response: { 200: BY_BANK_SCHEMA, ...errors(400, 403, 413, 422, 503) },
      },
    },
    (request, reply) => {
      const q = request.query as LookupQuery;
      const matcher = lists.served();
      if (q.url !== undefined) return urlLookup(request, reply, lists, metrics, q, options);
      if (!q.signal || !q.signal_type)
        throw new HttpError(400, 'Either url or both signal and signal_type are required');
      return lookupHash(matcher, q.signal_type, q.signal, banksParameter(q.banks));
    },
  );
  app.get(
    '/m/raw_lookup',
    {
      // Two item shapes in one array: plain JSON serialization rather than a compiled anyOf.
      serializerCompiler: () => JSON.stringify,
      schema: {
        summary: 'Look up a hash: matching content ids, with distances when include_distance',
        querystring: querySchema(['signal', 'signal_type', 'banks', 'include_distance'], ['signal', 'signal_type']),
        response: {
          200: {
            type: 'object',
            properties: {
              matches: { type: 'array', items: { anyOf: [{ type: ['integer', 'string'] }, MATCH_SCHEMA] } },
            },
            required: ['matches'],
          },
          ...errors(400, 503),
        },
      },
    },
    (request) => {
      const q = request.query as { signal: string; signal_type: string; banks?: string; include_distance?: string };
      const withDistance = booleanParameter(q.include_distance, 'include_distance', false);
      const banks = lookupHash(lists.served(), q.signal_type, q.signal, banksParameter(q.banks));
      const matches = Object.values(banks).flat();
      return { matches: withDistance ? matches : matches.map((m) => m.bank_content_id) };
    },
  );
  app.post(
    '/m/compare',
    {
      schema: {
        summary: 'Distance between the two hashes given for each signal type: [match, {distance}]',
        body: { type: 'object', additionalProperties: true },
        response: { 200: { type: 'object', additionalProperties: { type: 'array' } }, ...errors(400) },
      },
    },
    (request) => compare(request.body, lists.matcher),
  );
  app.get(
    '/m/index/status',
    {
      schema: {
        summary: 'Per signal type: whether entries are held, when they were loaded, how many',
        querystring: querySchema(['signal_type']),
        response: {
          200: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              properties: { present: { type: 'boolean' }, built_to: { type: 'integer' }, size: { type: 'integer' } },
            },
          },
          ...errors(400),
        },
      },
    },
    (request) => {
      const held = sizes(lists.matcher);
      const out: Record<string, { present: boolean; built_to: number; size: number }> = {};
      for (const name of typesAsked((request.query as { signal_type?: string }).signal_type)) {
        const size = held.get(name);
        out[name] =
          size === undefined
            ? { present: false, built_to: -1, size: 0 }
            : { present: true, built_to: lists.loadedAt, size };
      }
      return out;
    },
  );
}

/**
 * `POST /m/compare` (matching.py `compare`): `{"pdq": [a, b]}` → `{"pdq": [true, {"distance": 9}]}`,
 * threatexchange's `SignalComparisonResult` (a named tuple: match, then the similarity info);
 * exact hashes have no distance: `[true, {}]`. A match is a distance within the matcher's
 * threshold for the algorithm.
 */
function compare(body: unknown, matcher: Matcher | undefined): Record<string, [boolean, { distance?: number }]> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'Request input was not a dict');
  const out: Record<string, [boolean, { distance?: number }]> = {};
  for (const [name, pair] of Object.entries(body)) {
    if (!Array.isArray(pair)) throw new HttpError(400, `Comparison hashes for ${name} was not a list`);
    if (pair.length !== 2) throw new HttpError(400, 'Comparison hash list length must be exactly 2');
    const algorithm = canonicalAlgorithm(name);
    if (algorithm === undefined) throw new HttpError(400, `No such SignalType '${name}'`);
    let left: Uint8Array;
    let right: Uint8Array;
    try {
      left = algorithm.parse(String(pair[0]));
      right = algorithm.parse(String(pair[1]));
    } catch (error) {
      throw new HttpError(400, `Invalid ${name} hash: ${(error as Error).message}`);
    }
    if (algorithm.kind === 'exact') out[name] = [hammingDistance(left, right) === 0, {}];
    else {
      const distance = hammingDistance(left, right);
      const threshold = matcher?.threshold(algorithm.name) ?? algorithm.defaultThreshold;
      out[name] = [distance <= threshold, { distance }];
    }
  }
  return out;
}

function curationRoutes(app: FastifyInstance, lists: Lists): void {
  const bank = { type: 'object', properties: { name: text, matching_enabled_ratio: { type: 'number' } } } as const;
  // Every list held is matched whole: HMA's enabled ratio 1.0 (no coinflip).
  const bankOf = (name: string) => ({ name, matching_enabled_ratio: 1 });
  app.get(
    '/c/banks',
    {
      schema: {
        summary: 'The lists held, as HMA banks',
        response: { 200: { type: 'array', items: bank }, ...errors(503) },
      },
    },
    () => lists.served().lists.map((l) => bankOf(l.name)),
  );
  app.get(
    '/c/bank/:bank_name',
    { schema: { summary: 'One list, as an HMA bank', response: { 200: bank, ...errors(404, 503) } } },
    (request) => {
      const name = (request.params as { bank_name: string }).bank_name;
      if (!lists.served().lists.some((l) => l.name === name)) throw new HttpError(404, `bank '${name}' not found`);
      return bankOf(name);
    },
  );
  app.get(
    '/c/signal_type',
    {
      schema: {
        summary: 'The signal types (algorithms): enabled_ratio 1 when entries of it are held, else 0',
        response: {
          200: {
            type: 'array',
            items: { type: 'object', properties: { name: text, enabled_ratio: { type: 'number' } } },
          },
        },
      },
    },
    () => {
      const held = sizes(lists.matcher);
      return ALGORITHM_NAMES.map((name) => ({ name, enabled_ratio: held.has(name) ? 1 : 0 }));
    },
  );
  app.get(
    '/c/signal_type/index',
    {
      schema: {
        summary: 'Per signal type: entries held and when loaded; out of date when the last check of the source failed',
        querystring: querySchema(['signal_type']),
        response: {
          200: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              properties: {
                db_size: { type: 'integer' },
                index_size: { type: 'integer' },
                index_out_of_date: { type: 'boolean' },
                newest_db_item: { type: 'integer' },
                index_built_to: { type: 'integer' },
              },
            },
          },
          ...errors(400),
        },
      },
    },
    (request) => {
      const held = sizes(lists.matcher);
      const out: Record<string, Record<string, number | boolean>> = {};
      for (const name of typesAsked((request.query as { signal_type?: string }).signal_type)) {
        const size = held.get(name) ?? 0;
        const at = size === 0 ? -1 : lists.loadedAt;
        out[name] = {
          db_size: size,
          index_size: size,
          index_out_of_date: lists.lastFailed,
          newest_db_item: at,
          index_built_to: at,
        };
      }
      return out;
    },
  );
  app.get(
    '/c/content_type',
    {
      schema: {
        response: {
          200: { type: 'array', items: { type: 'object', properties: { name: text, enabled: { type: 'boolean' } } } },
        },
      },
    },
    () => CONTENT_TYPES.map((name) => ({ name, enabled: true })),
  );
}

/** Registers every route but the uploads'. */
export function matchingRoutes(
  app: FastifyInstance,
  lists: Lists,
  metrics: Metrics,
  options: ResolvedServerOptions,
): void {
  // HMA's site map (app.py `site_map`): every route, sorted, path parameters as Flask writes them.
  const routes = new Set<string>();
  app.addHook('onRoute', (route) => {
    routes.add(route.url.replace(/:(\w+)/g, '<$1>'));
  });
  probeRoutes(app, lists, metrics, routes);
  matchRoutes(app, lists, metrics, options);
  curationRoutes(app, lists);
}
