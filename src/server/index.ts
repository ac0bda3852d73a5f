/**
 * Entry `hashwarden/server`: the HMA-compatible sidecar (`hashwarden serve`). The only module that
 * loads Fastify, @fastify/multipart, @fastify/swagger and prom-client (optional peers): importing
 * `hashwarden` alone never does.
 */
export { createServer, DEFAULT_PORT } from './server.js';
export type { Sidecar } from './server.js';
export {
  DEFAULT_INTERVAL_SECONDS,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_REQUEST_TIMEOUT_SECONDS,
  DEFAULT_STALE_INTERVALS,
  DEFAULT_URL_TIMEOUT_SECONDS,
} from './options.js';
export type { ServerOptions, StormRelease } from './options.js';
