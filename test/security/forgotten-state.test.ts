// What the server keeps in memory per caller or key is forgotten once it says nothing a fresh
// entry would not: a soak review found a rate-limit bucket and a last-use time per key left for
// good after each throw-away workspace (300 after 300), with nothing to bound them below 50,000.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKeyService } from '../../src/auth/api-keys.js';
import { RateLimiter } from '../../src/auth/rate-limit.js';
import { randomIds } from '../../src/core/ids.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';
import { workspace } from '../store/fixtures.js';

test('refilled rate-limit buckets go within a minute, not only past the cap', () => {
  let now = 0;
  const rl = new RateLimiter(60, () => now);
  for (let i = 0; i < 300; i++) assert.deepEqual(rl.take(`ws:gone${i}`), { ok: true });
  assert.equal(rl.tracked, 300);
  // A minute on, each has refilled: the next request sweeps them, and its own bucket stays.
  now += 60_000;
  assert.deepEqual(rl.take('ws:busy'), { ok: true });
  assert.equal(rl.tracked, 1);
  // A caller in debt keeps its bucket: its wait is state a fresh bucket would lose.
  rl.charge('ws:busy', 200);
  now += 60_000;
  assert.equal(rl.take('ws:other').ok, true);
  assert.equal(rl.tracked, 2);
  assert.equal(rl.take('ws:busy').ok, false);
});

test('last-use times of keys are dropped once they are older than the write interval', async () => {
  const meta = await openSqliteMetadataStore(':memory:');
  try {
    let now = Date.parse('2026-03-02T00:00:00.000Z');
    const keys = new ApiKeyService({ meta, clock: () => new Date(now), ids: randomIds });
    const touched = (keys as unknown as { touched: Map<string, number> }).touched;
    const made: string[] = [];
    for (let i = 0; i < 60; i++) {
      const ws = workspace();
      await meta.createWorkspace(ws);
      for (let k = 0; k < 20; k++) made.push((await keys.create(ws.id, null)).key);
    }
    for (const key of made) assert.ok(await keys.authenticate(key));
    assert.equal(touched.size, 1200);
    // Past the interval, the next recorded use sweeps what has gone stale.
    now += 61_000;
    assert.ok(await keys.authenticate(made[0]!));
    assert.equal(touched.size, 1);
  } finally {
    await meta.close();
  }
});
