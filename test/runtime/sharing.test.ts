// Sandboxes of one workspace share a host process as worker threads; workspaces never do. What
// one sandbox does must not reach its neighbours in the process: a killed timeout leaves them
// serving (warm, same sandbox), and each one's cpuMs is its own thread's CPU, not the process's.
// With instancesPerProcess 1 every instance has a process of its own, as before.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Runtime, type FunctionVersion } from '../../src/runtime/index.js';
import { CACHE_DIR, MemoryKv, get, handler, startedForSuite, text, untilSpare, version } from './helpers.js';

const rt = new Runtime({ kv: new MemoryKv(), cacheDir: CACHE_DIR, poolSize: 1, killGraceMs: 200 });
const solo = new Runtime({ kv: new MemoryKv(), cacheDir: CACHE_DIR, poolSize: 0, instancesPerProcess: 1 });
const pair = new Runtime({ kv: new MemoryKv(), cacheDir: CACHE_DIR, poolSize: 0, instancesPerProcess: 2 });

startedForSuite(rt, solo, pair);

const ids = (r: Runtime, key: string): string[] => r.stats().versions[key]!.ids;

/**
 * Load versions of one workspace one after the other, each once the workspace's spare has booted,
 * so that each takes the spare in the workspace's process, the path these tests are about.
 */
async function loadInOneProcess(r: Runtime, ...vs: FunctionVersion[]): Promise<void> {
  for (const [i, v] of vs.entries()) {
    if (i > 0) await untilSpare(r);
    await r.load(v);
  }
}
const pids = (r: Runtime, key: string): number[] => r.stats().versions[key]!.pids;

/** Spins for `ms` of wall time unless the request is /quick. */
const SPIN = handler(`import time
if request.uri != "/quick":
    end = time.time() + int(request.uri.strip("/")) / 1000
    while time.time() < end:
        pass
return Response(200, {}, b"done")`);

describe('sandboxes sharing a process', () => {
  test("a workspace's instances are threads of one process; another workspace gets its own", async () => {
    const a = version(handler('return Response(200, {}, b"a")'), { workspaceId: 'ws-share-1' });
    const b = version(handler('return Response(200, {}, b"b")'), { workspaceId: 'ws-share-1' });
    const c = version(handler('return Response(200, {}, b"c")'), { workspaceId: 'ws-share-2' });
    await loadInOneProcess(rt, a, b);
    await rt.load(c);
    assert.equal(pids(rt, a.key)[0], pids(rt, b.key)[0], 'same workspace, same process');
    assert.notEqual(ids(rt, a.key)[0], ids(rt, b.key)[0], 'but a sandbox each');
    assert.notEqual(pids(rt, c.key)[0], pids(rt, a.key)[0], 'another workspace, another process');
    for (const [v, body] of [
      [a, 'a'],
      [b, 'b'],
      [c, 'c'],
    ] as const)
      assert.equal(text((await rt.invoke(v.key, get())).body), body);
    for (const v of [a, b, c]) await rt.unload(v.key);
  });

  test("a neighbour in the same process finds none of another sandbox's environment, files or objects", async () => {
    const ws = 'ws-share-snoop';
    const secret = `neighbour-secret-${process.pid}`;
    const owner = version(
      handler(
        `open("/tmp/secret.txt", "w").write(SECRET)
return Response(200, {}, SECRET.encode())`,
        `import os\nSECRET = os.environ["SECRET"]\nkept = [SECRET * 2]`,
      ),
      { workspaceId: ws, env: { SECRET: secret } },
    );
    // The snoop's code must not hold the secret itself: it gets it reversed, in the request.
    const snoop = version(
      handler(`import gc, os, sys
needle = request.uri[1:][::-1]
found = []
if any(needle in v for v in os.environ.values()):
    found.append("environ")
for root, dirs, files in os.walk("/"):
    if root.startswith("/proc") or root.startswith("/dev"):
        continue
    for f in files:
        try:
            if needle.encode() in open(os.path.join(root, f), "rb").read():
                found.append(os.path.join(root, f))
        except Exception:
            pass
for o in gc.get_objects():
    values = o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()
    if any(isinstance(v, str) and v is not needle and needle in v for v in values):
        found.append("gc")
        break
return Response(200, {}, ",".join(found).encode())`),
      { workspaceId: ws, timeoutMs: 10_000 },
    );
    await loadInOneProcess(rt, owner, snoop);
    assert.equal(pids(rt, owner.key)[0], pids(rt, snoop.key)[0]);
    assert.equal(text((await rt.invoke(owner.key, get())).body), secret);
    const reversed = [...secret].reverse().join('');
    const r = await rt.invoke(snoop.key, get(`/${reversed}`));
    assert.equal(r.status, 200, r.error?.message);
    assert.equal(text(r.body), '', 'the snoop found the secret');
    for (const v of [owner, snoop]) await rt.unload(v.key);
  });

  test('a neighbour killed for its timeout leaves the others serving, warm', async () => {
    const ws = 'ws-share-kill';
    const hog = version(
      handler(`while True:
    try:
        while True: pass
    except BaseException:
        pass`),
      { workspaceId: ws, timeoutMs: 300 },
    );
    const calm = version(handler('return Response(200, {}, b"calm")'), { workspaceId: ws });
    await loadInOneProcess(rt, hog, calm);
    assert.equal(pids(rt, hog.key)[0], pids(rt, calm.key)[0]);
    const calmId = ids(rt, calm.key)[0];
    const killed = rt.invoke(hog.key, get());
    // While the hog spins and is then killed, its neighbour keeps answering.
    const during: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 900) {
      const r = await rt.invoke(calm.key, get());
      during.push(r.status);
      assert.equal(r.coldStart, false);
    }
    const r = await killed;
    assert.equal(r.status, 504);
    assert.ok(during.length > 5 && during.every((s) => s === 200), `neighbour answers: ${during.length}`);
    assert.deepEqual(ids(rt, calm.key), [calmId], 'the neighbour is the same sandbox');
    const next = await rt.invoke(calm.key, get());
    assert.equal(next.status, 200);
    assert.equal(next.coldStart, false);
    for (const v of [hog, calm]) await rt.unload(v.key);
  });

  test('a memory bomb outside the wasm heap ends only its own sandbox, not a busy neighbour', async () => {
    const ws = 'ws-share-bomb';
    const bomb = version(
      handler(`chunk = b"x" * (16 * 1024 * 1024)
i = 0
while True:
    with open(f"/tmp/f{i}", "wb") as f:
        f.write(chunk)
    i += 1`),
      { workspaceId: ws, memoryMb: 128, timeoutMs: 20_000 },
    );
    const busy = version(SPIN, { workspaceId: ws, timeoutMs: 10_000 });
    await loadInOneProcess(rt, busy, bomb);
    assert.equal(pids(rt, bomb.key)[0], pids(rt, busy.key)[0]);
    const busyId = ids(rt, busy.key)[0];
    const running = rt.invoke(busy.key, get('/1500'));
    await new Promise((r) => setTimeout(r, 100));
    const r = await rt.invoke(bomb.key, get());
    assert.equal(r.status, 502);
    assert.match(r.error!.message, /memory limit of 128 MB/);
    // The neighbour was busy the whole time and is not touched.
    const n = await running;
    assert.equal(n.status, 200, n.error?.message);
    assert.deepEqual(ids(rt, busy.key), [busyId]);
    for (const v of [bomb, busy]) await rt.unload(v.key);
  });

  test("cpuMs is the sandbox's own thread's CPU, not its busy neighbour's", async () => {
    const ws = 'ws-share-cpu';
    const spin = version(SPIN, { workspaceId: ws, timeoutMs: 5000 });
    const quick = version(SPIN, { workspaceId: ws });
    await loadInOneProcess(rt, spin, quick);
    assert.equal(pids(rt, spin.key)[0], pids(rt, quick.key)[0]);
    const busy = rt.invoke(spin.key, get('/1500'));
    await new Promise((r) => setTimeout(r, 100));
    // Each quick request spans a moment in which the neighbour thread burns a core.
    const quickCpu: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await rt.invoke(quick.key, get('/quick'));
      assert.equal(r.status, 200);
      quickCpu.push(r.cpuMs);
      await new Promise((res) => setTimeout(res, 50));
    }
    const long = await busy;
    assert.equal(long.status, 200);
    // It spins for 1.5 s of wall time. Past 5 ms of CPU it yields (nice 5+), and beside a full
    // test run it got ~20% of a core: 600 ms of spinning once came to 118 ms of CPU. The check
    // asks only that it clearly burned some, with room for that.
    assert.ok(long.cpuMs > 150, `the spinner used ${long.cpuMs} ms`);
    // Process-wide CPU would charge each quick request with ~50 ms of the spinner's.
    assert.ok(Math.max(...quickCpu) < 25, `quick requests: ${quickCpu.join(', ')} ms`);
    for (const v of [spin, quick]) await rt.unload(v.key);
  });

  test('a process whose slots are used up leaves the next instance to another process of the workspace', async () => {
    const vs = ['a', 'b', 'c'].map((b) =>
      version(handler(`return Response(200, {}, b"${b}")`), { workspaceId: 'ws-pair' }),
    );
    // a and b fill the two slots (b takes the spare); no slot is left for a spare, so c starts a process.
    await loadInOneProcess(pair, ...vs.slice(0, 2));
    assert.equal(pair.stats().warmPool.spares, 0);
    await pair.load(vs[2]!);
    const [pa, pb, pc] = vs.map((v) => pids(pair, v.key)[0]);
    assert.equal(pa, pb);
    assert.notEqual(pc, pa);
    for (const [i, v] of vs.entries()) assert.equal(text((await pair.invoke(v.key, get())).body), 'abc'[i]);
    assert.equal(pair.stats().warmPool.processes, 2);
  });

  test("instances started together wait in turn for their workspace's process rather than spread over new ones", async () => {
    // Long (300 ms a request), so a burst scales it out to its cap of 4 at once.
    const v = version(SPIN, { workspaceId: 'ws-burst', maxInstances: 4 });
    await rt.load(v);
    try {
      assert.equal((await rt.invoke(v.key, get('/300'))).status, 200);
      const rs = await Promise.all(Array.from({ length: 4 }, () => rt.invoke(v.key, get('/300'))));
      assert.deepEqual(
        rs.map((r) => r.status),
        [200, 200, 200, 200],
      );
      assert.equal(rt.stats().versions[v.key]!.instances, 4);
      assert.deepEqual(
        [...new Set(pids(rt, v.key))],
        [pids(rt, v.key)[0]],
        'the four instances are threads of one process',
      );
    } finally {
      await rt.unload(v.key);
    }
  });

  test("once its process's slots run out, a workspace's instances started together share the one new process", async () => {
    // Two slots a process, no pool: the first process holds two instances; the other two need a
    // new one, and take its two slots rather than a process each.
    const v = version(SPIN, { workspaceId: 'ws-burst-pair', maxInstances: 4 });
    await pair.load(v);
    try {
      assert.equal((await pair.invoke(v.key, get('/300'))).status, 200);
      await untilSpare(pair);
      const rs = await Promise.all(Array.from({ length: 4 }, () => pair.invoke(v.key, get('/300'))));
      assert.deepEqual(
        rs.map((r) => r.status),
        [200, 200, 200, 200],
      );
      assert.equal(pair.stats().versions[v.key]!.instances, 4);
      assert.equal(new Set(pids(pair, v.key)).size, 2, `processes: ${pids(pair, v.key).join(',')}`);
    } finally {
      await pair.unload(v.key);
    }
  });

  test("when a workspace's process dies, its idle instances leave at once and the next requests are served", async () => {
    const vs = ['a', 'b', 'c'].map((b) =>
      version(handler(`return Response(200, {}, b"${b}")`), { workspaceId: 'ws-share-crash' }),
    );
    await loadInOneProcess(rt, ...vs);
    const [pid] = pids(rt, vs[0]!.key);
    for (const v of vs) assert.equal(pids(rt, v.key)[0], pid);
    process.kill(pid!, 'SIGKILL');
    for (let n = 0; n < 100 && vs.some((v) => rt.stats().versions[v.key]!.instances > 0); n++)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      vs.map((v) => rt.stats().versions[v.key]!.instances),
      [0, 0, 0],
    );
    for (const [i, v] of vs.entries()) {
      const r = await rt.invoke(v.key, get());
      assert.equal(r.status, 200);
      assert.equal(text(r.body), 'abc'[i]);
      assert.equal(r.coldStart, true);
    }
    for (const v of vs) await rt.unload(v.key);
  });

  test('close() ends every process at once, idle spares included', async () => {
    const own = new Runtime({ kv: new MemoryKv(), cacheDir: CACHE_DIR, poolSize: 1 });
    await own.start();
    const v = version(handler('return Response(200, {}, b"x")'), { workspaceId: 'ws-close' });
    await own.load(v);
    await untilSpare(own);
    // And the pool's refill done: under load it was still booting here, and close() waited for
    // that boot (2.6 s), which is not what this test is about.
    for (let n = 0; n < 400 && own.stats().warmPool.booting > 0; n++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal(own.stats().warmPool.booting, 0, 'no boot under way');
    assert.equal(own.stats().warmPool.spares, 1);
    const [pid] = pids(own, v.key);
    const t0 = performance.now();
    await own.close();
    // A spare waits for its first frame in a blocking read, which no thread termination
    // interrupts: only closing its channel ends it without the 1 s kill. (Under 950 ms: a loaded
    // machine's close took 715, and the kill's is over 1,000.)
    assert.ok(performance.now() - t0 < 950, `close took ${Math.round(performance.now() - t0)} ms`);
    assert.throws(() => process.kill(pid!, 0));
  });

  test('instancesPerProcess 1: every instance has a process of its own', async () => {
    const a = version(handler('return Response(200, {}, b"a")'), { workspaceId: 'ws-solo' });
    const b = version(handler('return Response(200, {}, b"b")'), { workspaceId: 'ws-solo' });
    await solo.load(a);
    await solo.load(b);
    assert.notEqual(pids(solo, a.key)[0], pids(solo, b.key)[0]);
    assert.equal(solo.stats().warmPool.spares, 0, 'no slot is left for a spare');
    assert.equal((await solo.invoke(b.key, get())).status, 200);
  });
});
