/**
 * The sidecar's Prometheus metrics (prom-client), in a registry of its own so that two sidecars in
 * one process (tests, an embedding service) never share a series: requests by route and status
 * with their latency, uploads by outcome, the lists served (entries, versions, sequence), the
 * source's checks, the matcher's line, match storms and decision records lost. Gauges of the
 * lists are read when scraped.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Lists } from './source.js';

/**
 * Latency buckets, seconds: from 0.5 ms (a lookup by hash) to 30 s (an upload at the byte limit on
 * a slow client), so both ends of what the sidecar serves fall inside a bucket.
 */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What an upload came to: matched, clean (checked, no match), or unchecked (with the code why). */
export type UploadOutcome = 'matched' | 'clean' | 'unchecked';

/** The metrics of one sidecar. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #latency: Histogram<'method' | 'route'>;
  readonly #uploads: Counter<'outcome' | 'code'>;
  readonly #checks: Counter<'result'>;
  readonly #storms: Counter;
  readonly #logErrors: Counter;
  /** Label children by key: a request observes without building a label object. */
  readonly #children = new Map<
    string,
    { requests: Counter.Internal; latency: Histogram.Internal<'method' | 'route'> }
  >();

  constructor(lists: Lists, inFlight: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: 'hashwarden_http_requests_total',
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'hashwarden_http_request_duration_seconds',
      help: 'Time from a request received to its response written, by method and route',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#uploads = new Counter({
      name: 'hashwarden_uploads_total',
      help: 'Uploads (multipart files, fetched URLs) by outcome: matched, clean, or unchecked with its error code',
      labelNames: ['outcome', 'code'],
      registers,
    });
    this.#checks = new Counter({
      name: 'hashwarden_source_checks_total',
      help: 'Checks of the source after the first load, by result: changed (new lists swapped in), unchanged, failed',
      labelNames: ['result'],
      registers,
    });
    this.#storms = new Counter({
      name: 'hashwarden_storms_total',
      help: 'Match storms raised by this process: an entry that matched the storm threshold within the window',
      registers,
    });
    this.#logErrors = new Counter({
      name: 'hashwarden_decision_log_errors_total',
      help: 'Decision records that could not be written (each decision stood, its record is lost)',
      registers,
    });
    const gauge = (name: string, help: string, read: (g: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          read(this);
        },
      });
    gauge('hashwarden_ready', '1 when /readyz answers 200 (lists loaded and fresh, not draining)', (g) =>
      g.set(lists.readiness() === 'READY' ? 1 : 0),
    );
    gauge(
      'hashwarden_list_entries',
      'Entries held, by algorithm',
      (g) => {
        for (const t of lists.matcher?.describe() ?? []) g.set({ algorithm: t.algorithm }, t.count);
      },
      ['algorithm'],
    );
    gauge(
      'hashwarden_list_version',
      'Version of each list served (lists without a version are absent)',
      (g) => {
        for (const l of lists.matcher?.lists ?? []) if (l.version !== undefined) g.set({ list: l.name }, l.version);
      },
      ['list'],
    );
    gauge('hashwarden_snapshot_sequence', 'Sequence of the snapshot served (0 for a store)', (g) => {
      if (lists.matcher !== undefined) g.set(lists.matcher.sequence);
    });
    gauge('hashwarden_lists_loaded_timestamp_seconds', 'When the lists served were loaded or swapped in', (g) => {
      if (lists.loadedAt >= 0) g.set(lists.loadedAt);
    });
    gauge('hashwarden_source_last_ok_timestamp_seconds', 'When the source was last checked successfully', (g) => {
      if (lists.lastOk > 0) g.set(lists.lastOk / 1000);
    });
    gauge('hashwarden_source_last_check_failed', '1 when the last check of the source failed', (g) =>
      g.set(lists.lastFailed ? 1 : 0),
    );
    gauge(
      'hashwarden_matcher_uploads',
      'Uploads the matcher holds: running (reading, hashing) and queued (waiting for a turn)',
      (g) => {
        const pending = lists.matcher?.pending ?? { running: 0, queued: 0 };
        g.set({ state: 'running' }, pending.running);
        g.set({ state: 'queued' }, pending.queued);
      },
      ['state'],
    );
    gauge(
      'hashwarden_storm_entries',
      'Entries in a match storm now in this process, by whether their matches are held for review',
      (g) => {
        const storms = lists.matcher?.storms() ?? [];
        const held = storms.filter((s) => s.held).length;
        g.set({ held: 'true' }, held);
        g.set({ held: 'false' }, storms.length - held);
      },
      ['held'],
    );
    gauge('hashwarden_http_requests_in_flight', 'Requests received and not yet answered', (g) => g.set(inFlight()));
  }

  /** One request answered. */
  request(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let child = this.#children.get(key);
    if (child === undefined) {
      child = {
        requests: this.#requests.labels(method, route, String(status)),
        latency: this.#latency.labels(method, route),
      };
      this.#children.set(key, child);
    }
    child.requests.inc();
    child.latency.observe(seconds);
  }

  /** One upload's outcome. */
  upload(outcome: UploadOutcome, code = ''): void {
    this.#uploads.inc({ outcome, code });
  }

  /** One storm raised. */
  storm(): void {
    this.#storms.inc();
  }

  /** One decision record that could not be written. */
  logError(): void {
    this.#logErrors.inc();
  }

  /** One check of the source after the first load. */
  check(result: 'changed' | 'unchanged' | 'failed'): void {
    this.#checks.inc({ result });
  }
}
