// The build queue: at most `concurrency` jobs at once and max(1, concurrency − 1) of one owner, the
// rest taken in turn from each owner (in order within an owner); close() cancels the waiting jobs
// and waits for the running ones.

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
  // With 2 slots this ran two of one owner's jobs at once; one owner now has at most 3 − 1 = 2.
  test("runs up to one owner's share (concurrency − 1) at once and starts the rest in submission order", async () => {
    const q = new BuildQueue(3);
    assert.equal(q.perOwner, 2);
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

  test('at most `concurrency` jobs run at once, whatever their owners', async () => {
    const q = new BuildQueue(2);
    const g = gate();
    const started: string[] = [];
    const all = ['ws-a', 'ws-b', 'ws-c', 'ws-d'].map((ws) =>
      q.run(ws, async () => {
        started.push(ws);
        await g.opened;
      }),
    );
    await tick();
    assert.deepEqual(started, ['ws-a', 'ws-b']);
    assert.equal(q.running, 2);
    assert.equal(q.depth, 2);
    g.open();
    await Promise.all(all);
    assert.deepEqual(started, ['ws-a', 'ws-b', 'ws-c', 'ws-d']);
  });

  test("a workspace that fills the queue with slow jobs leaves a slot: another workspace's job starts at once", async () => {
    // The review's case: tenant A's builds nap in module code (the check gives it up to 60 s and
    // cannot be pre-empted); with both default slots A's, B's trivial deploy waited 52 s.
    const q = new BuildQueue(2);
    const slow = gate();
    const started: string[] = [];
    const a = Array.from({ length: 21 }, (_, i) =>
      q.run('ws-a', async () => {
        started.push(`a${i}`);
        await slow.opened;
      }),
    );
    await tick();
    const b = q.run('ws-b', async () => {
      started.push('b0');
      return 'b';
    });
    await tick();
    assert.ok(
      started.includes('b0'),
      `B's job started at once, not after A's (started: ${started.join(' ')})`,
    );
    assert.equal(await b, 'b');
    // A's: one running (the other slot was kept free for B, though B was not yet waiting), 20 waiting.
    assert.deepEqual(started, ['a0', 'b0']);
    assert.equal(q.runningFor('ws-a'), 1);
    assert.equal(q.waitingFor('ws-a'), 20);
    assert.equal(q.running, 1);
    slow.open();
    await Promise.all(a);
    assert.equal(started.length, 22);
  });

  test('a workspace at its share runs its next job as soon as its running one ends, in its order', async () => {
    const q = new BuildQueue(2);
    const gates = Array.from({ length: 3 }, gate);
    const started: string[] = [];
    const job = (name: string, g?: { opened: Promise<void> }) => async () => {
      started.push(name);
      await g?.opened;
    };
    const a = gates.map((g, i) => q.run('ws-a', job(`a${i}`, g)));
    await tick();
    assert.deepEqual(started, ['a0']);
    assert.equal(q.running, 1, 'the free slot stays free');
    assert.equal(q.depth, 2);
    gates[0]!.open();
    await a[0];
    await tick();
    assert.deepEqual(started, ['a0', 'a1'], 'not held until another slot frees');
    // B in the other slot; A's next still starts when A's running job ends.
    const bGate = gate();
    const b = q.run('ws-b', job('b0', bGate));
    await tick();
    assert.deepEqual(started, ['a0', 'a1', 'b0']);
    gates[1]!.open();
    await a[1];
    await tick();
    assert.deepEqual(started, ['a0', 'a1', 'b0', 'a2']);
    assert.equal(q.running, 2);
    gates[2]!.open();
    bGate.open();
    await Promise.all([...a, b]);
    assert.equal(q.running, 0);
    assert.equal(q.depth, 0);
  });

  test('with concurrency 1 the one slot goes to any owner: nothing is kept free', async () => {
    const q = new BuildQueue(1);
    assert.equal(q.perOwner, 1);
    const order: string[] = [];
    await Promise.all([
      q.run('ws-a', async () => order.push('a0')),
      q.run('ws-a', async () => order.push('a1')),
    ]);
    assert.deepEqual(order, ['a0', 'a1']);
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

  test("close cancels the jobs a workspace's share holds back, though a slot is free", async () => {
    const q = new BuildQueue(2);
    const g = gate();
    const running = q.run('ws-a', () => g.opened);
    const held = [q.run('ws-a', async () => 'never'), q.run('ws-a', async () => 'never')];
    await tick();
    assert.equal(q.running, 1);
    assert.equal(q.depth, 2);
    let closedYet = false;
    const closed = q.close().then(() => (closedYet = true));
    for (const h of held) await assert.rejects(h, QueueClosedError);
    assert.equal(q.depth, 0);
    await tick();
    assert.ok(!closedYet, 'close waits for the running job');
    g.open();
    await closed;
    await running;
    assert.equal(q.running, 0);
  });

  test('the cap must be a positive integer', () => {
    assert.throws(() => new BuildQueue(0));
    assert.throws(() => new BuildQueue(1.5));
  });
});
