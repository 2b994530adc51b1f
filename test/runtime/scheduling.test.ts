// Scheduling tests against real sandboxes: one request per instance, per-function and global
// caps, the bounded queue (hand-over when an instance frees up, 429 + Retry-After past the
// deadline), cold-start accounting, scale to zero and minWarm.

import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Runtime } from '../../src/runtime/index.js';
import { BOOT_NICE } from '../../src/runtime/host-process.js';
import { CACHE_DIR, MemoryKv, get, handler, text, version, startedForSuite, untilSpare } from './helpers.js';
import { SAMPLE_HANDLER } from '../helpers/samples.js';

const kv = new MemoryKv();
const rt = new Runtime({
  kv,
  cacheDir: CACHE_DIR,
  poolSize: 2,
  killGraceMs: 300,
  queueTimeoutMs: 300,
  queueLimit: 2,
});

startedForSuite(rt);

describe('process scheduling', () => {
  test('sandbox hosts run under SCHED_BATCH where chrt exists, so they do not preempt the parent', async () => {
    const v = version(handler('return Response(200, {}, b"x")'));
    await rt.load(v);
    const [pid] = rt.stats().versions[v.key]!.pids;
    // Field 41 of /proc/<pid>/stat is the scheduling policy: 0 SCHED_OTHER, 3 SCHED_BATCH.
    const policy = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[41 - 3]);
    const chrt = spawnSync('chrt', ['--batch', '0', 'true']).status === 0;
    assert.equal(rt.stats().isolation.batchScheduled, chrt);
    assert.equal(policy, chrt ? 3 : 0);
    await rt.unload(v.key);
  });
});

/** Nice values of a process's threads other than its main thread. */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`)
    .filter((tid) => Number(tid) !== pid)
    .map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });
}

describe('boot priority', () => {
  const isRoot = process.getuid?.() === 0;
  test(
    'boots run at nice 10; the sandbox an instance takes runs at nice 0',
    { skip: !isRoot && 'lowering a nice value needs root' },
    async () => {
      const ws = 'ws-nice';
      const a = version(handler('return Response(200, {}, b"a")'), { workspaceId: ws });
      const b = version(handler('return Response(200, {}, b"b")'), { workspaceId: ws });
      await rt.load(a);
      await untilSpare(rt);
      const [pid] = rt.stats().versions[a.key]!.pids;
      // The one thread at nice 10 is the spare that booted in the background; a's thread was promoted.
      assert.equal(threadNices(pid!).filter((n) => n === 10).length, 1);
      await rt.load(b);
      assert.equal(rt.stats().versions[b.key]!.pids[0], pid, 'b took the spare in the same process');
      await untilSpare(rt);
      assert.equal(
        threadNices(pid!).filter((n) => n === 10).length,
        1,
        'b was promoted, a new spare boots at 10',
      );
      assert.equal(text((await rt.invoke(b.key, get())).body), 'b');
      await rt.unload(a.key);
      await rt.unload(b.key);
    },
  );
});

describe('concurrency', () => {
  test('concurrency: one request per instance, per-function cap, bounded queue → 429 + Retry-After', async () => {
    const v = version(
      handler(`import time
time.sleep(0.5)
return Response(200, {}, b"slept")`),
      { maxInstances: 1, timeoutMs: 3000 },
    );
    await rt.load(v);
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => rt.invoke(v.key, get())));
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    assert.ok(ok.length >= 1, 'at least the first is served');
    assert.ok(limited.length >= 2, `some are refused: ${results.map((r) => r.status).join(',')}`);
    for (const r of limited) {
      assert.equal(r.error?.code, 'TOO_MANY_REQUESTS');
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    assert.equal(rt.stats().versions[v.key]!.instances, 1);
  });

  test('coldStart is true exactly for invocations that specialised a new instance', async () => {
    const v = version(
      handler(`import time
time.sleep(0.2)
return Response(200, {}, b"x")`),
      { maxInstances: 2 },
    );
    await rt.load(v);
    const [a, b] = await Promise.all([rt.invoke(v.key, get()), rt.invoke(v.key, get())]);
    assert.deepEqual([a.coldStart, b.coldStart].sort(), [false, true]);
    const c = await rt.invoke(v.key, get());
    assert.equal(c.coldStart, false);
    assert.equal(rt.stats().versions[v.key]!.coldStarts, 2);
  });
  test('a queued request whose caller goes away leaves the queue and never runs (499 CLIENT_CLOSED)', async () => {
    const patient = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 1, queueTimeoutMs: 5000 });
    await patient.start();
    try {
      const v = version(
        handler(
          `with key_value.open_default() as s:
    s.set("ran:" + request.uri, b"1")
time.sleep(0.4)
return Response(200, {}, request.uri.encode())`,
          'import time\nfrom spin_sdk import key_value',
        ),
        { maxInstances: 1 },
      );
      await patient.load(v);
      const first = patient.invoke(v.key, get('/first'));
      await new Promise((r) => setTimeout(r, 100));
      const caller = new AbortController();
      const t0 = performance.now();
      const second = patient.invoke(v.key, { ...get('/second'), signal: caller.signal });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(patient.stats().versions[v.key]!.queued, 1);
      caller.abort();
      const gone = await second;
      assert.equal(gone.status, 499);
      assert.equal(gone.error?.code, 'CLIENT_CLOSED');
      assert.ok(performance.now() - t0 < 300, 'it left at once, not when the instance came free');
      assert.equal(patient.stats().versions[v.key]!.queued, 0);
      assert.equal((await first).status, 200);
      // The instance is free again and nothing ran the abandoned request.
      assert.equal(text((await patient.invoke(v.key, get('/third'))).body), '/third');
      const scope = { functionId: v.functionId, store: 'default' };
      assert.equal(await kv.get(scope, 'ran:/second'), undefined);
      assert.ok(await kv.get(scope, 'ran:/first'));
    } finally {
      await patient.close();
    }
  });

  test('a queued request is handed the instance as soon as it is free', async () => {
    const patient = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 1, queueTimeoutMs: 5000 });
    await patient.start();
    try {
      const v = version(
        handler('import time\ntime.sleep(0.2)\nreturn Response(200, {}, request.uri.encode())'),
        {
          maxInstances: 1,
        },
      );
      await patient.load(v);
      const results = await Promise.all(['/1', '/2', '/3'].map((u) => patient.invoke(v.key, get(u))));
      assert.deepEqual(
        results.map((r) => [r.status, text(r.body), r.coldStart]),
        [
          [200, '/1', false],
          [200, '/2', false],
          [200, '/3', false],
        ],
      );
      assert.equal(patient.stats().versions[v.key]!.instances, 1);
    } finally {
      await patient.close();
    }
  });

  test('at the global cap, an idle instance of another version is evicted to make room', async () => {
    const small = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 1, maxInstances: 1 });
    await small.start();
    try {
      const a = version(SAMPLE_HANDLER);
      const b = version(SAMPLE_HANDLER);
      await small.load(a);
      await small.load(b);
      assert.equal(small.stats().instances, 1);
      assert.equal(small.stats().versions[a.key]!.instances, 0, 'a was evicted for b');
      const r = await small.invoke(a.key, get());
      assert.equal(r.status, 200);
      assert.equal(r.coldStart, true);
      assert.equal(small.stats().versions[b.key]!.instances, 0, 'b was evicted for a');
    } finally {
      await small.close();
    }
  });
});

describe('fair shares', () => {
  test('one workspace holds at most its share of the instances; another workspace is served meanwhile', async () => {
    // Sleeping costs no CPU now, so nothing else would stop one tenant from holding them all.
    const shared = new Runtime({
      kv,
      cacheDir: CACHE_DIR,
      poolSize: 1,
      maxInstances: 4,
      queueTimeoutMs: 10_000,
    });
    await shared.start();
    try {
      const nap = version(handler('import time\ntime.sleep(1.5)\nreturn Response(200, {}, b"rested")'), {
        workspaceId: 'ws-greedy',
        maxInstances: 4,
      });
      const other = version(SAMPLE_HANDLER, { workspaceId: 'ws-other' });
      await shared.load(nap);
      await shared.load(other);
      // Known to be long (not pipelined, scales to its cap): one answer first.
      assert.equal((await shared.invoke(nap.key, get())).status, 200);
      const naps = Array.from({ length: 4 }, () => shared.invoke(nap.key, get()));
      await new Promise((r) => setTimeout(r, 300));
      const greedy = shared.stats().versions[nap.key]!;
      assert.ok(
        greedy.instances + greedy.starting <= 2,
        `ws-greedy holds ${greedy.instances} (+${greedy.starting})`,
      );
      const t0 = performance.now();
      const r = await shared.invoke(other.key, get());
      assert.equal(r.status, 200);
      assert.ok(performance.now() - t0 < 1000, 'the other workspace did not wait for the naps');
      // The rest of the greedy workspace's requests waited their turn, and all were served.
      assert.deepEqual(
        (await Promise.all(naps)).map((x) => x.status),
        [200, 200, 200, 200],
      );
    } finally {
      await shared.close();
    }
  });

  test("a request waiting at its workspace's cap is served once another version's instance is idle", async () => {
    const one = new Runtime({
      kv,
      cacheDir: CACHE_DIR,
      poolSize: 1,
      maxInstancesPerWorkspace: 1,
      queueTimeoutMs: 15_000,
    });
    await one.start();
    try {
      const nap = version(handler('import time\ntime.sleep(1)\nreturn Response(200, {}, b"rested")'), {
        workspaceId: 'ws-one',
      });
      const quick = version(handler('return Response(200, {}, b"quick")'), { workspaceId: 'ws-one' });
      await one.load(nap);
      await one.load(quick);
      const t0 = performance.now();
      const napping = one.invoke(nap.key, get());
      await new Promise((r) => setTimeout(r, 100));
      // The workspace's one instance is busy: this waits, and is served once the nap has ended
      // and that instance has been idle for half a second (evicted for it, by the idle sweep),
      // not at the queue's deadline with a 429.
      const r = await one.invoke(quick.key, get());
      const waited = performance.now() - t0;
      assert.equal(r.status, 200, r.error?.message);
      assert.equal(text(r.body), 'quick');
      assert.ok(waited >= 1400 && waited < 8000, `served after ${Math.round(waited)} ms`);
      assert.equal((await napping).status, 200);
    } finally {
      await one.close();
    }
  });
});

describe('CPU shares', () => {
  test("requests past 5 ms of CPU yield the cores: nice 5, more as the workspace's instances grow; short ones stay at 0", async () => {
    // ~20 ms of CPU a request: long (past the 5 ms of a short one), wherever the test runs.
    const long = version(
      handler('x = 0\nfor i in range(300000):\n    x += i\nreturn Response(200, {}, str(x).encode())'),
      {
        workspaceId: 'ws-long',
        maxInstances: 2,
      },
    );
    const short = version(SAMPLE_HANDLER, { workspaceId: 'ws-short' });
    await rt.load(long);
    await rt.load(short);
    try {
      const pidsOf = (key: string): number[] => [...new Set(rt.stats().versions[key]!.pids)];
      const nicesOf = (key: string): number[] => pidsOf(key).flatMap(threadNices);
      // The first request yields once it is past 5 ms of CPU: no history is needed.
      assert.equal((await rt.invoke(long.key, get())).status, 200);
      assert.deepEqual(
        nicesOf(long.key).filter((n) => n === 5),
        [5],
        `one long instance runs at nice 5: ${nicesOf(long.key).join(',')}`,
      );
      for (let i = 0; i < 20; i++) assert.equal((await rt.invoke(short.key, get())).status, 200);
      assert.deepEqual(
        nicesOf(short.key).filter((n) => n !== 0 && n !== BOOT_NICE),
        [],
        'short requests run at nice 0',
      );
      // Two instances: together they weigh about what one did (5 + log1.25(2) ≈ 8 each).
      for (let i = 0; i < 3; i++) {
        const rs = await Promise.all([rt.invoke(long.key, get()), rt.invoke(long.key, get())]);
        assert.deepEqual(
          rs.map((r) => r.status),
          [200, 200],
        );
      }
      assert.equal(rt.stats().versions[long.key]!.instances, 2);
      assert.deepEqual(
        nicesOf(long.key).filter((n) => n === 8),
        [8, 8],
        `both long instances run at nice 8: ${nicesOf(long.key).join(',')}`,
      );
    } finally {
      await rt.unload(long.key);
      await rt.unload(short.key);
    }
  });
});

/** Every process this one started, and theirs (hosts may run under a wrapper). */
function descendants(): number[] {
  const parentOf = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parentOf.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const out = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parentOf)
      if (out.has(ppid) && !out.has(pid)) {
        out.add(pid);
        grew = true;
      }
  }
  out.delete(process.pid);
  return [...out];
}

/** Threads (pid/tid) of this process's descendants at `nice`. */
function threadsAt(nice: number): Set<string> {
  const found = new Set<string>();
  for (const pid of descendants()) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === nice) found.add(`${pid}/${tid}`);
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe('CPU shares at load', () => {
  // ~200 ms of CPU at import: past the load's line (50 ms), wherever the test runs.
  const busyModule = handler(
    'return Response(200, {}, b"ok")',
    'x = 0\nfor i in range(3000000):\n    x += i',
  );

  test("module code past the load line yields as a request does, and to the workspace's share", async () => {
    const first = version(busyModule, { workspaceId: 'ws-busy-load' });
    const second = version(busyModule, { workspaceId: 'ws-busy-load' });
    const plain = version(SAMPLE_HANDLER, { workspaceId: 'ws-plain-load' });
    try {
      await rt.load(first);
      const nicesOf = (key: string): number[] =>
        [...new Set(rt.stats().versions[key]!.pids)].flatMap(threadNices);
      // No request has run: the import alone put the thread at one instance's value.
      assert.deepEqual(
        nicesOf(first.key).filter((n) => n === 5),
        [5],
        `the load yielded to 5: ${nicesOf(first.key).join(',')}`,
      );
      // The workspace's second instance: both count, as for requests (5 + log1.25(2) ≈ 8).
      await rt.load(second);
      assert.deepEqual(
        nicesOf(second.key).filter((n) => n === 8),
        [8],
        `the second load yielded to 8: ${nicesOf(second.key).join(',')}`,
      );
      // A trivial module's load costs the interpreter a few ms of its own: it does not yield.
      await rt.load(plain);
      assert.deepEqual(
        nicesOf(plain.key).filter((n) => n !== 0 && n !== BOOT_NICE),
        [],
        'a plain load stays at nice 0',
      );
      assert.equal((await rt.invoke(first.key, get())).status, 200);
    } finally {
      await rt.unload(first.key);
      await rt.unload(second.key);
      await rt.unload(plain.key);
    }
  });

  test("a build check's module code yields too", async () => {
    // The check's throw-away process is found by a thread at 5 that was not there before it ran.
    const before = threadsAt(5);
    const spin = handler(
      'return Response(200, {}, b"ok")',
      'import time\n_t = time.time()\nwhile time.time() - _t < 1.5: pass',
    );
    let seen: string[] = [];
    let done = false;
    const checking = rt.check({ 'app.py': new TextEncoder().encode(spin) }).finally(() => (done = true));
    while (!done && seen.length === 0) {
      await new Promise((res) => setTimeout(res, 100));
      seen = [...threadsAt(5)].filter((t) => !before.has(t));
    }
    assert.deepEqual(await checking, { ok: true });
    assert.equal(seen.length, 1, 'no thread of the check ran at nice 5');
  });
});

describe('CPU shares after a burst', () => {
  test("an instance's first request warms the interpreter under a higher line (15 ms); the next ones yield past 5 ms", async () => {
    // Spins on the wall clock for the milliseconds the query names: the CPU it uses is at most that.
    const spin = version(
      handler(
        'ms = int(request.uri.split("ms=")[1])\nt = time.perf_counter()\nwhile time.perf_counter() - t < ms / 1000:\n    pass\nreturn Response(200, {}, b"spun")',
        'import time',
      ),
      { workspaceId: 'ws-first' },
    );
    await rt.load(spin);
    try {
      const nices = (): number[] =>
        [...new Set(rt.stats().versions[spin.key]!.pids)]
          .flatMap(threadNices)
          .filter((n) => n !== 0 && n !== BOOT_NICE);
      assert.equal((await rt.invoke(spin.key, get('/?ms=10'))).status, 200);
      assert.deepEqual(nices(), [], 'a first request of at most 10 ms of CPU leaves its sandbox at 0');
      assert.equal((await rt.invoke(spin.key, get('/?ms=60'))).status, 200);
      assert.deepEqual(nices(), [5], 'a later one past 5 ms yields');
    } finally {
      await rt.unload(spin.key);
    }
  });

  test('an instance left at a higher nice value than its shrunk workspace now gets is replaced', async () => {
    // The TTL leaves room for a loaded machine: an instance that finished its part of a burst first
    // sat idle while the other two, at nice 11, took more than 1.5 s of CI time, and was reaped.
    const rt2 = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 1, idleTtlMs: 3000 });
    await rt2.start();
    const long = version(
      handler('x = 0\nfor i in range(300000):\n    x += i\nreturn Response(200, {}, str(x).encode())'),
      { workspaceId: 'ws-stuck', maxInstances: 3 },
    );
    try {
      await rt2.load(long);
      const stats = () => rt2.stats().versions[long.key]!;
      const yielded = (): number[] =>
        [...new Set(stats().pids)].flatMap(threadNices).filter((n) => n > 0 && n !== BOOT_NICE);
      // Three instances: each yields to 11 (5 + log1.25(3), past the boot marker), and cannot
      // come back down. A burst can end while the third instance still loads (counted, but it
      // served nothing and sits at 0), so bursts go on until each of the three has run one.
      for (let i = 0; i < 3 || (i < 8 && yielded().join() !== '11,11,11'); i++)
        await Promise.all([1, 2, 3].map(() => rt2.invoke(long.key, get())));
      assert.equal(stats().instances, 3);
      assert.deepEqual(yielded(), [11, 11, 11]);
      const [survivor] = stats().ids.slice(-1);
      // One at a time: the instance used last is used again, the others are reaped after their
      // TTL, and the workspace's share is now one instance's, nice 5: 11 is more than 4 steps above.
      let replacedAfter = -1;
      const t0 = Date.now();
      while (Date.now() - t0 < 12_000) {
        const r = await rt2.invoke(long.key, get());
        assert.equal(r.status, 200);
        if (r.coldStart) {
          replacedAfter = Date.now() - t0;
          break;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.ok(
        replacedAfter >= 2000,
        `no replacement after the other instance was reaped (${replacedAfter} ms)`,
      );
      assert.ok(!stats().ids.includes(survivor!), 'the instance at nice 11 still serves');
      // The fresh sandbox yields to what one instance gets.
      const deadline = Date.now() + 3000;
      while (yielded().join() !== '5' && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(yielded(), [5]);
    } finally {
      await rt2.close();
    }
  });
});

describe('scale to zero', () => {
  test('idle instances stop after the TTL, minWarm ones stay', async () => {
    const short = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 1, idleTtlMs: 300 });
    await short.start();
    try {
      const cold = version(SAMPLE_HANDLER);
      const warm = version(SAMPLE_HANDLER, { minWarm: 1 });
      await short.load(warm);
      await short.load(cold);
      assert.equal(short.stats().versions[cold.key]!.instances, 1);
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(short.stats().versions[cold.key]!.instances, 0);
      assert.equal(short.stats().versions[warm.key]!.instances, 1);
      const r = await short.invoke(cold.key, get());
      assert.equal(r.status, 200);
      assert.equal(r.coldStart, true);
    } finally {
      await short.close();
    }
  });

  test('an idle instance whose memory grew large stops sooner; a small one stays', async () => {
    const rt2 = new Runtime({
      kv,
      cacheDir: CACHE_DIR,
      poolSize: 1,
      idleTtlMs: 60_000,
      largeHeapBytes: 96 * 1024 * 1024,
      largeIdleTtlMs: 300,
    });
    await rt2.start();
    try {
      // Grows the wasm memory past 96 MiB (it never shrinks), then answers.
      const big = version(handler('x = bytearray(120 * 1024 * 1024)\nreturn Response(200, {}, b"big")'), {
        memoryMb: 256,
      });
      const small = version(SAMPLE_HANDLER);
      await rt2.load(big);
      await rt2.load(small);
      assert.equal((await rt2.invoke(big.key, get())).status, 200);
      assert.equal((await rt2.invoke(small.key, get())).status, 200);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(rt2.stats().versions[big.key]!.instances, 0, 'the large one is gone');
      assert.equal(rt2.stats().versions[small.key]!.instances, 1, 'the small one waits out its TTL');
    } finally {
      await rt2.close();
    }
  });
});
