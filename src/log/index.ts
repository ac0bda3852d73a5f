/**
 * The decision log room: a hash-chained, size-rotated NDJSON log of match decisions, and its
 * verifier. Only this room knows the file format (format.ts).
 */
export { DecisionLog, DEFAULT_LOG_FILE_BYTES, DEFAULT_LOG_SYNC_MS } from './decision-log.js';
export type { DecisionLogOptions, LogHead } from './decision-log.js';
export type { DecisionContext } from './record.js';
export { verifyLog } from './verify.js';
export type { LogVerifyResult, VerifyLogOptions } from './verify.js';
