// The build queue: at most `concurrency` jobs at once, the rest taken in turn from each owner (in
// order within an owner); close() cancels the waiting jobs and waits for the running ones.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BuildQueue, QueueClosedError } from '../../src/build/queue.js';

const tick = () => new Promise((r) => setImmediate(r));

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('build queue', () => {
  test('runs up to the cap at once and starts the rest in submission order', async () => {
    const q = new BuildQueue(2);
    const gates = Array.from({ length: 5 }, gate);
    const started: number[] = [];
    const results = gates.map((g, i) =>
      q.run('ws-a', async () => {
        started.push(i);
        await g.opened;
        return i * 10;
      }),
    );
    await tick();
    assert.deepEqual(started, [0, 1]);
    assert.equal(q.running, 2);
    assert.equal(q.depth, 3);
    gates[1]!.open();
    await tick();
    assert.deepEqual(started, [0, 1, 2]);
    for (const g of gates) g.open();
    assert.deepEqual(await Promise.all(results), [0, 10, 20, 30, 40]);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(q.running, 0);
  });

  test("waiting jobs are taken in turn from each owner: one owner's pile does not hold another back", async () => {
    const q = new BuildQueue(1);
    const started: string[] = [];
    const gates: Array<() => void> = [];
    const job = (name: string) => async () => {
      started.push(name);
      await new Promise<void>((r) => gates.push(r));
    };
    const all = [
      q.run('ws-a', job('a0')),
      ...[1, 2, 3, 4].map((i) => q.run('ws-a', job(`a${i}`))),
      q.run('ws-b', job('b0')),
      q.run('ws-b', job('b1')),
      q.run('ws-c', job('c0')),
    ];
    assert.equal(q.waitingFor('ws-a'), 4);
    assert.equal(q.waitingFor('ws-b'), 2);
    for (let i = 0; i < all.length; i++) {
      await tick();
      gates.shift()!();
    }
    await Promise.all(all);
    // a0 was running; then a, b, c take turns, each in its own order.
    assert.deepEqual(started, ['a0', 'a1', 'b0', 'c0', 'a2', 'b1', 'a3', 'a4']);
    assert.equal(q.depth, 0);
  });

  test('a failing job frees its slot and rejects its own promise only', async () => {
    const q = new BuildQueue(1);
    const bad = q.run('ws-a', async () => {
      throw new Error('boom');
    });
    const good = q.run('ws-a', async () => 'ok');
    await assert.rejects(bad, /boom/);
    assert.equal(await good, 'ok');
  });

  test('close cancels waiting jobs, waits for running ones and refuses new ones', async () => {
    const q = new BuildQueue(1);
    const g = gate();
    let finished = false;
    const running = q.run('ws-a', async () => {
      await g.opened;
      finished = true;
    });
    const waiting = q.run('ws-a', async () => 'never');
    await tick();
    const closed = q.close();
    await assert.rejects(waiting, QueueClosedError);
    await assert.rejects(
      q.run('ws-a', async () => 1),
      QueueClosedError,
    );
    g.open();
    await closed;
    assert.ok(finished);
    await running;
  });

  test('the cap must be a positive integer', () => {
    assert.throws(() => new BuildQueue(0));
    assert.throws(() => new BuildQueue(1.5));
  });
});
