/**
 * `hashwarden serve --workers N`: N sidecar processes (node:cluster) sharing one port, so that
 * lookups use every core; one process answers one lookup at a time on its event loop. The primary
 * loads no lists and takes no request: it starts the workers, starts another for one that dies,
 * and on SIGTERM or SIGINT asks each to shut down gracefully and waits for them all. It also
 * carries an operator's release of a storm (`POST /storms/release`) from the worker that took it
 * to every worker, and their answers back: each worker counts and holds its own storms.
 */
import cluster, { type Worker } from 'node:cluster';
import type { StormEntry } from '../index.js';
import type { StormRelease } from '../server/index.js';
import { EXIT, type CliIo } from './command.js';
import { jsonLine } from './escape.js';

/** The environment variable a worker finds its number in (1 to N; a restarted worker keeps its number). */
export const WORKER_ENV = 'HASHWARDEN_WORKER';

/**
 * Milliseconds the primary waits for every worker to apply a release: 5 s. Applying one is a map
 * lookup, done at the worker's next turn of its event loop, which an upload being hashed holds for
 * well under a second; a worker still silent after 5 s is stuck or dying, and the answer counts it
 * among the processes not asked rather than keep the operator waiting.
 */
const STORM_RELEASE_TIMEOUT_MS = 5_000;

/** How long a worker waits for the primary's answer: past the primary's own wait, the primary is gone. */
const PRIMARY_ANSWER_TIMEOUT_MS = 2 * STORM_RELEASE_TIMEOUT_MS;

/** The messages of a release, told from any other by `hashwarden`. */
type StormMessage =
  /** Worker to primary: an operator released this entry here. */
  | { readonly hashwarden: 'storm-release'; readonly id: number; readonly target: StormEntry }
  /** Primary to every worker: release it. */
  | { readonly hashwarden: 'storm-apply'; readonly id: number; readonly target: StormEntry }
  /** Worker to primary: done, and whether the entry was in storm here. */
  | { readonly hashwarden: 'storm-applied'; readonly id: number; readonly released: boolean }
  /** Primary to the worker that asked: what the release came to. */
  | ({ readonly hashwarden: 'storm-released'; readonly id: number } & StormRelease);

function stormMessage(value: unknown): StormMessage | undefined {
  const m = value as Partial<StormMessage> | null;
  return typeof m === 'object' && m !== null && typeof m.hashwarden === 'string' && typeof m.id === 'number'
    ? (m as StormMessage)
    : undefined;
}

/** A message to a worker that may have exited meanwhile: false when it could not be sent. */
function tell(worker: Worker, message: StormMessage): boolean {
  try {
    if (!worker.isConnected()) return false;
    worker.send(message);
    return true;
  } catch {
    return false;
  }
}

/** One release in hand at the primary: the workers yet to answer, and the answers so far. */
interface Round {
  readonly left: Set<Worker>;
  readonly finish: () => void;
  answer: StormRelease;
}

/** The primary's side of releases: each sent to every live worker, their answers gathered for the one that asked. */
class StormReleases {
  #next = 0;
  readonly #rounds = new Map<number, Round>();

  constructor(private readonly live: ReadonlySet<Worker>) {}

  receive(from: Worker, value: unknown): void {
    const m = stormMessage(value);
    if (m?.hashwarden === 'storm-release') this.#start(from, m.id, m.target);
    else if (m?.hashwarden === 'storm-applied') {
      const round = this.#rounds.get(m.id);
      if (round === undefined || !round.left.delete(from)) return;
      round.answer = {
        processes: round.answer.processes + 1,
        released: round.answer.released + (m.released === true ? 1 : 0),
      };
      if (round.left.size === 0) round.finish();
    }
  }

  /** A worker gone: a round waits no longer for it. */
  gone(worker: Worker): void {
    for (const round of this.#rounds.values()) if (round.left.delete(worker) && round.left.size === 0) round.finish();
  }

  #start(from: Worker, asked: number, target: StormEntry): void {
    const id = ++this.#next;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const { answer } = this.#rounds.get(id) ?? { answer: { processes: 0, released: 0 } };
      this.#rounds.delete(id);
      tell(from, { hashwarden: 'storm-released', id: asked, ...answer });
    };
    const timer = setTimeout(finish, STORM_RELEASE_TIMEOUT_MS).unref();
    const left = new Set<Worker>();
    this.#rounds.set(id, { left, finish, answer: { processes: 0, released: 0 } });
    for (const worker of this.live)
      if (tell(worker, { hashwarden: 'storm-apply', id, target: { ...target } })) left.add(worker);
    if (left.size === 0) finish();
  }
}

/**
 * A worker's `releaseStorm` for the sidecar: the release sent to the primary, which applies it in
 * every worker, this one included (see {@link applyStormReleases}).
 */
export function forwardStormReleases(): (target: StormEntry) => Promise<StormRelease> {
  let next = 0;
  const waiting = new Map<number, (answer: StormRelease) => void>();
  process.on('message', (value: unknown) => {
    const m = stormMessage(value);
    if (m?.hashwarden !== 'storm-released') return;
    waiting.get(m.id)?.({ processes: m.processes, released: m.released });
    waiting.delete(m.id);
  });
  return (target) =>
    new Promise<StormRelease>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('The primary process did not answer the release of a storm'));
      }, PRIMARY_ANSWER_TIMEOUT_MS).unref();
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      process.send?.({ hashwarden: 'storm-release', id, target: { ...target } } satisfies StormMessage);
    });
}

/** A worker applies each release the primary sends, and says whether the entry was in storm here. */
export function applyStormReleases(sidecar: { releaseStorm(target: StormEntry): boolean }): void {
  process.on('message', (value: unknown) => {
    const m = stormMessage(value);
    if (m?.hashwarden !== 'storm-apply') return;
    let released = false;
    try {
      released = sidecar.releaseStorm(m.target);
    } catch {
      // A target the asking worker checked cannot be refused here; were it, nothing was released.
    }
    process.send?.({ hashwarden: 'storm-applied', id: m.id, released } satisfies StormMessage);
  });
}

/** Runs `count` workers until a signal; resolves to the exit status: 0 when every worker stopped cleanly. */
export function runWorkers(count: number, io: CliIo): Promise<number> {
  return new Promise<number>((resolve) => {
    const live = new Set<Worker>();
    const releases = new StormReleases(live);
    let stopping = false;
    let status: number = EXIT.ok;
    // The workers' lines are pino's; the primary's few have the same fields.
    const log = (event: string, fields: object = {}) =>
      io.out(jsonLine({ level: 30, time: Date.now(), pid: process.pid, event, ...fields, msg: event }));
    const finish = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(status);
    };
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      log('shutdown', { reason, workers: live.size });
      for (const worker of live) worker.process.kill('SIGTERM');
      if (live.size === 0) finish();
    };
    // A worker's number, kept by the one started in its place: its decision log continues.
    const start = (slot: number) => {
      const worker = cluster.fork({ [WORKER_ENV]: String(slot) });
      live.add(worker);
      worker.on('message', (message: unknown) => releases.receive(worker, message));
      worker.once('exit', (code, signal) => {
        live.delete(worker);
        releases.gone(worker);
        if (stopping) {
          if (code !== 0) status = EXIT.error;
          if (live.size === 0) finish();
        } else if (code === EXIT.error) {
          // A worker that cannot load the lists (or is given a wrong option) says so and exits 2:
          // every other would too, so the whole command stops with that status.
          status = EXIT.error;
          stop('a worker could not start');
        } else {
          log('worker-exited', { worker: worker.process.pid, code, signal });
          start(slot);
        }
      });
    };
    const onSignal = (signal: NodeJS.Signals) => stop(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    for (let slot = 1; slot <= count; slot++) start(slot);
  });
}
