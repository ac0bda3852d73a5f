import { describe, expect, it } from 'vitest';
import { mapSettled } from './concurrency.js';

/** A task whose promise the test settles by hand, to hold tasks in flight. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('mapSettled', () => {
  it('never runs more than `limit` tasks at once, and starts the next as soon as one ends', async () => {
    const gates = Array.from({ length: 10 }, gate);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const done = mapSettled(gates, 3, async (g, i) => {
      started.push(i);
      most = Math.max(most, ++running);
      await g.opened;
      running--;
      return i;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2]);
    gates[1]?.open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2, 3]);
    for (const g of gates) g.open();
    expect((await done).map((r) => (r.ok ? r.value : null))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
  });

  it('reports each failure in its own slot, and results to onResult in input order as prefixes complete', async () => {
    const order: number[] = [];
    const results = await mapSettled(
      [30, 0, 10],
      3,
      async (ms, i) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        if (i === 1) throw new Error('bad item');
        return ms;
      },
      (_, i) => order.push(i),
    );
    expect(order).toEqual([0, 1, 2]);
    expect(results[0]).toEqual({ ok: true, value: 30 });
    expect(results[1]).toMatchObject({ ok: false, error: { message: 'bad item' } });
    expect(results[2]).toEqual({ ok: true, value: 10 });
  });

  it('rejects a concurrency outside 1–1024 in the standard message shape', async () => {
    await expect(mapSettled([], 0, async () => 0)).rejects.toThrow(
      new RangeError('Expected integer between 1 and 1024 for concurrency but received 0 of type number'),
    );
    await expect(mapSettled([], 1.5, async () => 0)).rejects.toThrow(TypeError);
  });
});
