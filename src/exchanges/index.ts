/**
 * Entry `hashwarden/exchanges`: the hash-sharing programmes' connectors (NCMEC, StopNCII,
 * ThreatExchange, Tech Against Terrorism), the sync that brings their pages into a store's list
 * with a checkpoint, the HTTP client they share and their credentials. A sync writes a
 * `HashStore` (`hashwarden/sqlite`), which the caller opens and passes in.
 */
export { readCredentials, Secret } from './credentials.js';
export type { CredentialSource, CredentialValue } from './credentials.js';
export {
  DEFAULT_EXCHANGE_BACKOFF_MS,
  DEFAULT_EXCHANGE_MAX_RESPONSE_BYTES,
  DEFAULT_EXCHANGE_RETRIES,
  DEFAULT_EXCHANGE_TIMEOUT_MS,
  ExchangeHttp,
  MAX_EXCHANGE_BACKOFF_MS,
} from './http.js';
export type { ExchangeHttpOptions, ExchangeRequest, ExchangeResponse, ResolvedExchangeHttpOptions } from './http.js';
export { DEFAULT_SYNC_BATCH_ROWS, syncCheckpointKey, syncExchange } from './sync.js';
export type { SyncOptions, SyncProgress, SyncResult } from './sync.js';
export { EXCHANGE_NAMES } from './types.js';
export type { ExchangeClient, ExchangeContext, ExchangeFeedback, ExchangeName, ExchangePage } from './types.js';
export { DEFAULT_NCMEC_RANGE_ENTRIES, NCMEC_ENVIRONMENTS, ncmecExchange } from './ncmec.js';
export type { NcmecEnvironment, NcmecExchangeOptions } from './ncmec.js';
export { TAT_APIS, TAT_BASE_URL, TAT_IDEOLOGIES, tatExchange } from './tat.js';
export type { TatApi, TatCredentials, TatExchangeOptions, TatIdeology } from './tat.js';
export {
  DEFAULT_THREATEXCHANGE_PAGE_SIZE,
  DEFAULT_THREATEXCHANGE_VERSION,
  THREATEXCHANGE_GRAPH_URL,
  threatExchange,
} from './threatexchange.js';
export type { ThreatExchangeCredentials, ThreatExchangeOptions } from './threatexchange.js';
export {
  DEFAULT_STOPNCII_PAGE_SIZE,
  STOPNCII_BASE_URL,
  STOPNCII_START_TIMESTAMP,
  stopnciiExchange,
} from './stopncii.js';
export type { StopnciiCredentials, StopnciiExchangeOptions } from './stopncii.js';
