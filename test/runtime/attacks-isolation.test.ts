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
      // A RecursionError's thousand-frame traceback outlasted the helper's 2 s on a loaded CI
      // machine (504, not 500): the deadline is not what is tested.
      { timeoutMs: 10_000 },
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
    const marker = r.lines.findIndex((l) => /^\[eunha\] output truncated/.test(l));
    assert.ok(marker > 0, 'no marker line');
    const kept = r.lines.filter((_, i) => i !== marker);
    const bytes = kept.reduce((n, l) => n + Buffer.byteLength(l), 0) + kept.length - 1;
    assert.ok(bytes <= 64 * 1024, `kept ${bytes} bytes`);
    // The end is kept as well as the start: the last number printed.
    assert.equal(r.lines.at(-1), '99999');
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

  // Each of these was handled whole on the server's main thread: 400,000 headers stalled it ~2 s
  // a request; a 7.9 MB message became a 7.9 MB execution log (answer-limits.ts).
  const FORGE = `import _eunha_io
_write = _eunha_io.write_frame
def _forge(header, body=b""):
    if header.get("t") == "resp":
        header = dict(header, **FORGED)
    _write(header, body)
_eunha_io.write_frame = _forge`;

  test('response headers past 200 fields or 64 Ki characters are refused, forged or not', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        handler('return Response(200, {"h%d" % i: "" for i in range(2_000)}, b"x")'),
        'the SDK path',
        /the response has 2000 headers; at most 200 are allowed/,
      ],
      [
        handler('return Response(200, {"big": "v" * 70_000}, b"x")'),
        'the SDK path',
        /the response headers have 70003 characters; at most 65536 are allowed/,
      ],
      [
        handler(
          'return Response(200, {}, b"x")',
          `FORGED = {"headers": {"h%d" % i: "" for i in range(300)}}\n${FORGE}`,
        ),
        'a forged frame',
        /invalid response: more than 200 response headers/,
      ],
    ];
    for (const [source, how, message] of cases) {
      const v = version(source);
      await rt.load(v);
      const r = await rt.invoke(v.key, get());
      assert.equal(r.status, 500, `${how}: ${r.error?.message}`);
      assert.equal(r.error?.code, 'FUNCTION_ERROR', how);
      assert.match(r.error!.message, message, how);
      assert.deepEqual(r.headers, {});
      await rt.unload(v.key);
    }
    // 200 fields of 64 Ki characters in all still pass.
    const fits = version(handler('return Response(200, {"h%03d" % i: "v" * 323 for i in range(200)}, b"x")'));
    await rt.load(fits);
    const ok = await rt.invoke(fits.key, get());
    assert.equal(ok.status, 200, ok.error?.message);
    assert.equal(Object.keys(ok.headers).length, 200);
    await rt.unload(fits.key);
  });

  test("an exception's message and traceback are cut, raised or forged, and a huge one no longer crashes", async () => {
    const cases: Array<[string, string]> = [
      [handler('raise ValueError("E" * 3_000_000)'), 'raised, 3 MB'],
      // 5 MB used to overflow the bridge's frame: 502 FUNCTION_CRASHED and a dead sandbox.
      [handler('raise ValueError("E" * 5_000_000)'), 'raised, 5 MB'],
      [
        handler(
          'return Response(200, {}, b"x")',
          `FORGED = {"status": 500, "headers": {}, "error": "X", "message": "M" * 3_000_000, "traceback": "T" * 1_000_000}\n${FORGE}`,
        ),
        'forged',
      ],
    ];
    // A 10-s deadline, not the helper's 2 s: building and cutting megabytes is seconds of CPU on a
    // loaded CI machine, and its sandbox runs niced once its import passed 50 ms (a 504 there).
    for (const [source, how] of cases) {
      const v = version(source, { memoryMb: 256, timeoutMs: 10_000 });
      await rt.load(v);
      const r = await rt.invoke(v.key, get());
      assert.equal(r.status, 500, `${how}: ${r.error?.message.slice(0, 200)}`);
      assert.equal(r.error?.code, 'FUNCTION_ERROR', how);
      assert.ok(r.error!.message.length <= 8 * 1024 + 40, `${how}: a message of ${r.error!.message.length}`);
      assert.match(r.error!.message, /… \[\d+ more characters\]$/, how);
      const tb = r.error!.traceback ?? '';
      assert.ok(tb.length <= 64 * 1024 + 48, `${how}: a traceback of ${tb.length}`);
      await rt.unload(v.key);
    }
    // Forged answers of several MB (the bridge takes 8 MiB) are parsed in the sandbox's own thread
    // and cut there; past 8 MiB the write is refused, and a guest that insists ends its sandbox.
    for (const [forged, status, said] of [
      ['"error": "X", "message": "M" * 7_900_000', 500, /^M+… \[\d+ more characters\]$/],
      ['"headers": {"h%d" % i: "" for i in range(400_000)}', 500, /more than 200 response headers/],
      ['"error": "X", "message": "M" * 9_000_000', 502, /the sandbox failed/],
    ] as const) {
      const huge = version(
        handler('return Response(200, {}, b"x")', `FORGED = {"status": 500, ${forged}}\n${FORGE}`),
        { timeoutMs: 10_000 },
      );
      await rt.load(huge);
      const r = await rt.invoke(huge.key, get());
      assert.equal(r.status, status, r.error?.message.slice(0, 200));
      assert.match(r.error!.message, said);
      assert.ok(r.error!.message.length <= 8 * 1024 + 40, `a message of ${r.error!.message.length}`);
      await rt.unload(huge.key);
    }
    // At load, too: the build check and the deploy show what the import raised, cut.
    const bad = version('raise ValueError("L" * 3_000_000)\n');
    await assert.rejects(rt.load(bad), (e: Error) => {
      assert.match(e.message, /^ValueError: L+… \[\d+ more characters\]$/);
      assert.ok(e.message.length <= 8 * 1024 + 40, `a load error of ${e.message.length}`);
      return true;
    });
  });
});
