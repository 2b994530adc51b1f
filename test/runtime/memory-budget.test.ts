// Memory budgets: each instance reserves its function's memory limit plus its sandbox's allowance
// (96 MB), and the instances of one workspace, and of all, stay within their budgets. Past the
// workspace's, its requests wait for its own instances; past the global one, idle instances of
// other workspaces are evicted; a function too large for a workspace's budget does not load.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startLoggedPlatform } from '../helpers/platform.js';
import { Runtime } from '../../src/runtime/index.js';
import { reservedMb } from '../../src/runtime/memory-budget.js';
import { CACHE_DIR, MemoryKv, get, handler, startedForSuite, text, version } from './helpers.js';

// 256 MB functions reserve 352 MB, 512 MB ones 608: two 256s fit in a workspace's 750 MB.
const rt = new Runtime({
  kv: new MemoryKv(),
  cacheDir: CACHE_DIR,
  poolSize: 1,
  memoryBudgetMb: 2200,
  workspaceMemoryBudgetMb: 750,
});
startedForSuite(rt);

const NAP = handler('import time\ntime.sleep(0.3)\nreturn Response(200, {}, b"rested")');

describe('memory budgets', () => {
  test("a workspace's instances stay within its budget; its other requests wait, other workspaces are served", async () => {
    const big = version(NAP, { workspaceId: 'ws-mem-a', memoryMb: 256, maxInstances: 8 });
    const other = version(handler('return Response(200, {}, b"other")'), { workspaceId: 'ws-mem-b' });
    assert.equal(reservedMb(big), 352);
    await rt.load(big);
    await rt.load(other);
    // Once its first answer shows its requests are long, the instance cap alone would let the
    // version start one instance per request.
    assert.equal((await rt.invoke(big.key, get())).status, 200);
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, rt.stats().versions[big.key]!.instances);
    }, 10);
    try {
      const t0 = performance.now();
      const burst = Promise.all([1, 2, 3, 4, 5, 6].map(() => rt.invoke(big.key, get())));
      await new Promise((r) => setTimeout(r, 100));
      // Its neighbour in another workspace does not wait for it.
      const o = await rt.invoke(other.key, get());
      assert.equal(text(o.body), 'other');
      assert.ok(performance.now() - t0 < 1500, 'the other workspace waited');
      const rs = await burst;
      assert.deepEqual(
        rs.map((r) => r.status),
        [200, 200, 200, 200, 200, 200],
      );
      // Six naps on two instances: three rounds of 0.3 s.
      assert.ok(performance.now() - t0 >= 850, 'more than two naps ran at once');
    } finally {
      clearInterval(watch);
    }
    assert.equal(most, 2, `the workspace held ${most} instances of 352 MB in a budget of 750 MB`);
    await rt.unload(big.key);
    await rt.unload(other.key);
  });

  test('past the global budget, idle instances of other workspaces make room', async () => {
    const idle = version(NAP, { workspaceId: 'ws-mem-idle', memoryMb: 256 });
    await rt.load(idle);
    // Known to be long first, so that two at once get two instances whatever the core count.
    assert.equal((await rt.invoke(idle.key, get())).status, 200);
    await Promise.all([rt.invoke(idle.key, get()), rt.invoke(idle.key, get())]);
    assert.equal(rt.stats().versions[idle.key]!.instances, 2);
    // 704 + 2 × 608 = 1,920 MB; a third 512 MB function (608) makes 2,528: one 352 MB instance
    // has to go (2,176 of 2,200), and only one.
    const d = version(NAP, { workspaceId: 'ws-mem-d', memoryMb: 512 });
    const e = version(NAP, { workspaceId: 'ws-mem-e', memoryMb: 512 });
    const f = version(NAP, { workspaceId: 'ws-mem-f', memoryMb: 512 });
    await rt.load(d);
    await rt.load(e);
    assert.equal(rt.stats().memory.reservedMb, 704 + 2 * 608);
    await rt.load(f);
    assert.equal(rt.stats().versions[idle.key]!.instances, 1, 'the idle instance was not evicted');
    assert.equal(rt.stats().memory.reservedMb, 352 + 3 * 608);
    assert.equal((await rt.invoke(f.key, get())).status, 200);
    for (const v of [idle, d, e, f]) await rt.unload(v.key);
    assert.equal(rt.stats().memory.reservedMb, 0, 'unloading gave the reservations back');
  });

  test("a function larger than a workspace's budget does not load, and says why", async () => {
    const huge = version(NAP, { workspaceId: 'ws-mem-huge', memoryMb: 1024 });
    await assert.rejects(rt.load(huge), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'VALIDATION_ERROR');
      assert.match(e.message, /1024 MB \(1120 MB with its sandbox\) does not fit .* 750 MB per workspace/);
      return true;
    });
    assert.equal(rt.stats().versions[huge.key], undefined);
  });
});

test('a budget that cannot hold one function of the default memory is said at start', async () => {
  // Accepted (smaller functions fit), but every default deploy was refused with no word before.
  const warned = async (budget: string): Promise<string> => {
    const env = { EUNHA_WARM_POOL_SIZE: '0', EUNHA_MEMORY_BUDGET_MB: budget };
    const { logged, cleanup } = await startLoggedPlatform(env, 'warn');
    await cleanup();
    return logged();
  };
  assert.match(
    await warned('600'),
    /does not fit this server's memory budget of 300 MB per workspace: deploys of functions of the default memory will be refused/,
  );
  assert.doesNotMatch(await warned('4096'), /memory budget/);
});
