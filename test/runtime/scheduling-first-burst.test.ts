// A burst at a freshly loaded version of a slow function, against real sandboxes. Until its first
// answer a version counts as short and scales to one instance per core; a request that has been
// running long past the short line shows that it is not, so the requests in line get instances of
// their own before the queue's deadline instead of 429 (the first answer comes after it).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Runtime } from '../../src/runtime/index.js';
import { CACHE_DIR, MemoryKv, get, handler, text, version, startedForSuite } from './helpers.js';

const SLEEP_S = 2.5;
const CORES = Math.max(1, availableParallelism());
/** Requests in the burst: one per core runs, the rest wait in line. */
const N = CORES + 3;
const rt = new Runtime({
  kv: new MemoryKv(),
  cacheDir: CACHE_DIR,
  // A process per instance, booted ahead: a workspace's extra threads boot one after another
  // (warm-pool.ts), ~0.7 s apart on a busy machine, which would make this a test of boot speed.
  instancesPerProcess: 1,
  poolSize: N,
  killGraceMs: 300,
  // Shorter than a request: before the fix, everyone in line was refused before the first answer.
  queueTimeoutMs: 1500,
});

startedForSuite(rt);

/** Wait (up to 60 s) until `n` processes are booted in the pool. */
async function untilPooled(n: number): Promise<void> {
  for (let i = 0; i < 600 && rt.stats().warmPool.ready < n; i++) await new Promise((r) => setTimeout(r, 100));
}

describe('a slow version before its first answer', () => {
  test('a burst longer than the queue timeout gets instances beyond one per core, and no 429', async () => {
    const v = version(
      handler(`import time\ntime.sleep(${SLEEP_S})\nreturn Response(200, {}, request.uri.encode())`),
      { maxInstances: N, timeoutMs: 10_000 },
    );
    await rt.load(v);
    await untilPooled(N - 1);
    const uris = Array.from({ length: N }, (_, i) => `/r${i}`);
    const results = await Promise.all(uris.map((u) => rt.invoke(v.key, get(u))));
    assert.deepEqual(
      results.map((r) => `${r.status} ${r.error?.code ?? text(r.body)}`),
      uris.map((u) => `200 ${u}`),
    );
    const started = rt.stats().versions[v.key]!.coldStarts;
    assert.ok(started > CORES, `${started} instances started on ${CORES} cores`);
    await rt.unload(v.key);
  });
});
