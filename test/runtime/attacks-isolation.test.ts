// The attack suite, second half: functions and workspaces against each other (key-value data,
// processes, uids, namespaces) and resource abuse that must stay inside its own instance
// (memory bombs, infinite loops, deep recursion, stdout floods, huge responses).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Runtime } from '../../src/runtime/index.js';
import { CACHE_DIR, MemoryKv, get, handler, text, version, startedForSuite } from './helpers.js';

const kv = new MemoryKv();
const rt = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 2, killGraceMs: 300 });

startedForSuite(rt);

describe('functions and workspaces are isolated from each other', () => {
  test("another function's key-value data is unreachable, even with forged bridge frames", async () => {
    const owner = version(
      handler(
        `key_value.open_default().set("secret", b"s3cr3t")
return Response(200, {}, b"stored")`,
        'from spin_sdk import key_value',
      ),
    );
    await rt.load(owner);
    assert.equal((await rt.invoke(owner.key, get())).status, 200);
    const thief = version(
      handler(
        `s = key_value.open_default()
found = {"keys": s.get_keys(), "get": s.get("secret")}
# Forge a bridge frame naming the victim's functionId: the host must ignore it.
reply, body = _eunha_io.call({"t": "kv", "op": "get", "store": "default", "key": "secret", "functionId": "${owner.functionId}"})
found["forged"] = body.decode(errors="replace")
return Response(200, {}, json.dumps(found).encode())`,
        'import json\nimport _eunha_io\nfrom spin_sdk import key_value',
      ),
    );
    await rt.load(thief);
    const r = await rt.invoke(thief.key, get());
    assert.equal(r.status, 200, r.error?.message);
    assert.deepEqual(JSON.parse(text(r.body)), { keys: [], get: null, forged: '' });
    assert.equal(
      text((await kv.get({ functionId: owner.functionId, store: 'default' }, 'secret'))!),
      's3cr3t',
    );
  });

  test('instances of different workspaces run in different, unprivileged, network-less processes', async () => {
    const src = handler(`import builtins
seen = getattr(builtins, "_eunha_mark", None)
builtins._eunha_mark = request.uri
return Response(200, {}, str(seen).encode())`);
    const a = version(src, { workspaceId: 'ws-a' });
    const b = version(src, { workspaceId: 'ws-b' });
    await rt.load(a);
    await rt.load(b);
    assert.equal(text((await rt.invoke(a.key, get('/from-a'))).body), 'None');
    assert.equal(
      text((await rt.invoke(b.key, get('/from-b'))).body),
      'None',
      'state leaked across workspaces',
    );
    const [pa] = rt.stats().versions[a.key]!.pids;
    const [pb] = rt.stats().versions[b.key]!.pids;
    assert.ok(pa && pb && pa !== pb && pa !== process.pid && pb !== process.pid);
    const iso = rt.stats().isolation;
    const uids = new Set<string>();
    for (const pid of [pa, pb]) {
      if (iso.filesJailed) {
        // The host's root is a minimal read-only tree: no /etc, /home, /tmp, no project sources.
        const root = `/proc/${pid}/root`;
        // Besides the system trees there are only the first components of the project's path (its
        // compiled runtime and Pyodide are bound in below it) and of node's, wherever they live.
        const projectTop = process.cwd().split('/')[1]!;
        const expected = new Set(['dev', projectTop, process.execPath.split('/')[1]!]);
        for (const d of ['bin', 'lib', 'lib64', 'sbin', 'usr']) if (existsSync(`/${d}`)) expected.add(d);
        assert.deepEqual(readdirSync(root).sort(), [...expected].sort());
        for (const gone of ['etc', 'home', 'root', 'tmp', 'proc'].filter((d) => !expected.has(d)))
          assert.ok(!existsSync(`${root}/${gone}`), gone);
        assert.ok(!existsSync(`${root}${process.cwd()}/src`), 'project sources are not in the jail');
        assert.deepEqual(readdirSync(`${root}/dev`).sort(), ['null', 'urandom']);
      } else {
        // The working directory is an empty, read-only directory made for sandboxes.
        const cwd = readlinkSync(`/proc/${pid}/cwd`);
        assert.match(cwd, /eunha-sandbox-/);
        assert.deepEqual(readdirSync(cwd), []);
      }
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (iso.privilegesDropped) {
        const uid = /^Uid:\s+(\d+)\s/m.exec(status)?.[1] ?? '0';
        assert.ok(Number(uid) >= 200_000, `sandbox runs as uid ${uid}`);
        assert.match(status, /^CapEff:\s+0+$/m);
        assert.match(status, /^NoNewPrivs:\s+1$/m);
        uids.add(uid);
      }
      if (iso.netIsolated)
        assert.notEqual(readlinkSync(`/proc/${pid}/ns/net`), readlinkSync('/proc/self/ns/net'));
    }
    if (iso.privilegesDropped) assert.equal(uids.size, 2, 'each sandbox has a uid of its own');
    await rt.unload(a.key);
    await rt.unload(b.key);
  });
});

describe('resource abuse stays inside its own instance', () => {
  test('memory bomb: fails in its own sandbox, a neighbour keeps serving', async () => {
    const neighbour = version(handler('return Response(200, {}, b"neighbour ok")'));
    await rt.load(neighbour);
    const bomb = version(
      handler(`if request.uri == "/bomb":
    hoard = []
    while True:
        hoard.append(bytearray(8 * 1024 * 1024))
return Response(200, {}, b"recovered")`),
      { memoryMb: 128 },
    );
    await rt.load(bomb);
    const r = await rt.invoke(bomb.key, get('/bomb'));
    assert.ok(r.status === 500 || r.status === 502, `status ${r.status}`);
    assert.match(`${r.error?.message} ${r.lines.join(' ')}`, /MemoryError|memory/i);
    assert.equal(text((await rt.invoke(neighbour.key, get())).body), 'neighbour ok');
    assert.equal(text((await rt.invoke(bomb.key, get('/'))).body), 'recovered');
    await rt.unload(neighbour.key);
    await rt.unload(bomb.key);
  });

  test('in-memory file bomb (outside the wasm heap) is stopped by its sandbox footprint check', async () => {
    const v = version(
      handler(`if request.uri == "/bomb":
    chunk = b"x" * (16 * 1024 * 1024)
    i = 0
    while True:
        with open(f"/tmp/f{i}", "wb") as f:
            f.write(chunk)
        i += 1
return Response(200, {}, b"fresh")`),
      { memoryMb: 128, timeoutMs: 20_000 },
    );
    await rt.load(v);
    const r = await rt.invoke(v.key, get('/bomb'));
    assert.equal(r.status, 502);
    assert.match(r.error!.message, /memory limit of 128 MB/);
    const next = await rt.invoke(v.key, get('/'));
    assert.equal(text(next.body), 'fresh');
    assert.equal(next.coldStart, true);
    await rt.unload(v.key);
  });

  test('infinite loop → 504, next request fine', async () => {
    const v = version(
      handler(`if request.uri == "/loop":
    while True: pass
return Response(200, {}, b"ok")`),
      { timeoutMs: 300 },
    );
    await rt.load(v);
    assert.equal((await rt.invoke(v.key, get('/loop'))).status, 504);
    assert.equal((await rt.invoke(v.key, get('/'))).status, 200);
    await rt.unload(v.key);
  });

  test('deep recursion (even with a raised limit) fails the request, not the platform', async () => {
    const v = version(
      handler(
        `def down(n):
    return down(n + 1)
if request.uri == "/deep":
    sys.setrecursionlimit(10 ** 7)
    down(0)
if request.uri == "/plain":
    down(0)
return Response(200, {}, b"ok")`,
        'import sys',
      ),
    );
    await rt.load(v);
    const plain = await rt.invoke(v.key, get('/plain'));
    assert.equal(plain.status, 500);
    assert.match(plain.error!.message, /RecursionError/);
    const deep = await rt.invoke(v.key, get('/deep'));
    assert.ok(deep.status >= 500, `status ${deep.status}`);
    assert.equal((await rt.invoke(v.key, get('/'))).status, 200);
    await rt.unload(v.key);
  });

  test('stdout flood is capped at 1000 lines / 64 KiB with a marker', async () => {
    const v = version(
      handler(
        `sys.stdout.write("A" * (20 * 1024 * 1024))
print()
for i in range(100000):
    print(i)
return Response(200, {}, b"done")`,
        'import sys',
      ),
      { timeoutMs: 10_000 },
    );
    await rt.load(v);
    const r = await rt.invoke(v.key, get());
    assert.equal(r.status, 200);
    assert.equal(r.linesTruncated, true);
    assert.ok(r.lines.length <= 1001);
    const kept = r.lines.slice(0, -1);
    const bytes = kept.reduce((n, l) => n + Buffer.byteLength(l), 0) + kept.length - 1;
    assert.ok(bytes <= 64 * 1024, `kept ${bytes} bytes`);
    assert.match(r.lines.at(-1)!, /output truncated/);
    await rt.unload(v.key);
  });

  test('huge response is refused with a clear error', async () => {
    // Building 50 MB takes a while once the request yields the cores (past 5 ms of CPU) beside
    // another suite: the timeout is not what this test is about.
    const v = version(handler('return Response(200, {}, bytes(50 * 1024 * 1024))'), {
      memoryMb: 256,
      timeoutMs: 15_000,
    });
    await rt.load(v);
    const r = await rt.invoke(v.key, get());
    assert.equal(r.status, 500);
    assert.match(r.error!.message, /exceeds the \d+ byte cap/);
    assert.equal(r.body.length, 0);
    await rt.unload(v.key);
  });
});
