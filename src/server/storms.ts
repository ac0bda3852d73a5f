/**
 * The sidecar's storm routes, behind the token like every route but the probes: `GET /storms`, the
 * entries in a match storm in this process's matcher, and `POST /storms/release`, an operator's
 * decision that an entry is right (its matches block again), applied by `releaseStorm` (every
 * worker's, under `hashwarden serve --workers`).
 */
import type { FastifyInstance } from 'fastify';
import type { StormEntry } from '../index.js';
import { checkStormEntry } from '../matcher/storm.js';
import { errors, HttpError } from './hma.js';
import type { StormRelease } from './options.js';
import type { Lists } from './source.js';

const text = { type: 'string' } as const;

const STORM_SCHEMA = {
  type: 'object',
  properties: {
    list: text,
    algorithm: text,
    entryId: text,
    count: { type: 'integer' },
    since: { type: 'integer' },
    held: { type: 'boolean' },
    released: { type: 'boolean' },
  },
} as const;

const TARGET_SCHEMA = {
  type: 'object',
  properties: { list: text, algorithm: text, entryId: text },
  required: ['list', 'algorithm', 'entryId'],
} as const;

/** The body of a release, checked as `Matcher.releaseStorm` checks its argument: 400 otherwise. */
function target(body: unknown): StormEntry {
  try {
    return checkStormEntry(body as StormEntry);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new HttpError(400, error.message);
    throw error;
  }
}

/** Registers `GET /storms` and `POST /storms/release`. */
export function stormRoutes(
  app: FastifyInstance,
  lists: Lists,
  worker: number | undefined,
  release: (target: StormEntry) => Promise<StormRelease>,
): void {
  app.get(
    '/storms',
    {
      schema: {
        summary:
          "Entries in a match storm in the process that answered (scope: counts are that process's own; " +
          'with several workers, each counts the uploads it answered)',
        response: {
          200: {
            type: 'object',
            properties: {
              worker: { type: ['integer', 'null'] },
              pid: { type: 'integer' },
              scope: text,
              storms: { type: 'array', items: STORM_SCHEMA },
            },
          },
          ...errors(503),
        },
      },
    },
    () => ({ worker: worker ?? null, pid: process.pid, scope: 'process', storms: lists.served().storms() }),
  );
  app.post(
    '/storms/release',
    {
      schema: {
        summary: "Release an entry's storm (the entry is right): its matches block again, in every worker",
        body: TARGET_SCHEMA,
        response: {
          200: {
            type: 'object',
            properties: { processes: { type: 'integer' }, released: { type: 'integer' } },
          },
          ...errors(400, 404, 503, 504),
        },
      },
    },
    async (request) => {
      lists.served();
      const entry = target(request.body);
      const outcome = await release(entry);
      if (outcome.released === 0)
        throw new HttpError(404, `No storm of entry '${entry.entryId}' of list '${entry.list}' (${entry.algorithm})`, {
          extra: { processes: outcome.processes },
        });
      return outcome;
    },
  );
}
