/**
 * The matcher-wide bound on uploads read and decoded at once: a number of slots, and a first-in,
 * first-out queue of the calls waiting for one, itself bounded.
 */
import { HashwardenError } from '../errors.js';

/**
 * Waiters served before the line is copied down: under a load that never lets the line empty, the
 * served head would otherwise grow without end. Copying only once half the array is served keeps
 * each waiter's share of the copying constant.
 */
const COMPACT_AFTER = 1024;

/** Counts of a matcher's image calls, as `Matcher.pending` reports them. */
export interface GateCounts {
  /** Calls holding a slot: reading, decoding, hashing or searching an upload. */
  readonly running: number;
  /** Calls waiting for a slot, oldest first. */
  readonly queued: number;
}

/**
 * Slots for `limit` tasks at once; a task that finds them taken waits in line, and a freed slot goes
 * straight to the oldest waiter, so a newcomer never overtakes it (no starvation).
 */
export class Gate {
  readonly #limit: number;
  readonly #maxQueued: number;
  #running = 0;
  /** Waiters from `#head` on; the served ones before it are dropped when the line empties or is compacted. */
  #waiting: (() => void)[] = [];
  #head = 0;

  constructor(limit: number, maxQueued: number) {
    this.#limit = limit;
    this.#maxQueued = maxQueued;
  }

  get counts(): GateCounts {
    return { running: this.#running, queued: this.#waiting.length - this.#head };
  }

  /**
   * `ERR_BUSY` when a call now would have to wait and the line is full. Synchronous and changing
   * nothing, so a caller can refuse before it copies an upload.
   */
  refuseWhenFull(): void {
    const { running, queued } = this.counts;
    if (running < this.#limit && queued === 0) return;
    if (queued >= this.#maxQueued)
      throw new HashwardenError(
        'ERR_BUSY',
        `The matcher is busy (${running} uploads in hand, ${queued} waiting, at most ${this.#maxQueued}): this upload was not checked; retry it or hold it`,
      );
  }

  /**
   * Runs `task` in a slot, waiting in line for one first; the slot is freed however the task ends.
   * Never refuses: callers that may refuse call {@link refuseWhenFull} first, in the same tick.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running < this.#limit && this.#waiting.length === this.#head) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    if (this.#head === this.#waiting.length) {
      this.#running--;
      return;
    }
    // The slot passes to the oldest waiter: `#running` stays as it is.
    const next = this.#waiting[this.#head] as () => void;
    this.#head++;
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    next();
  }
}
