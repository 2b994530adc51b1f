// The attack suite: hostile guest code against real sandboxes. Every attempt asserts that it had
// no effect on the host or on other functions, observed from the host side wherever possible
// (canary files, canary env vars, a local HTTP server that must see no request, /proc of the
// sandbox processes). Keep adding to it as we learn.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../../src/runtime/index.js';
import { HOST_ENV } from '../../src/runtime/host-process.js';
import { CACHE_DIR, MemoryKv, get, handler, text, version } from './helpers.js';
import { assertAllBlocked, probes, runProbes } from './attack-helpers.js';

// The canary env var is set before any sandbox is spawned, so a leak would show.
const ENV_CANARY = `eunha-env-canary-${process.pid}`;
process.env.EUNHA_ATTACK_CANARY = ENV_CANARY;

const kv = new MemoryKv();
const rt = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 2, killGraceMs: 300 });
const dir = mkdtempSync(join(tmpdir(), 'eunha-attack-'));
chmodSync(dir, 0o777); // even a nobody-owned process could write here: the sandbox must still not
const FILE_CANARY = `eunha-file-canary-${process.pid}`;
const canaryPath = join(dir, 'canary.txt');
writeFileSync(canaryPath, FILE_CANARY, { mode: 0o644 });
const marker = (name: string): string => join(dir, name);

let server: Server;
let serverHits = 0;
let serverPort = 0;

before(async () => {
  server = createServer((_req, res) => {
    serverHits++;
    res.end('reached');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverPort = (server.address() as AddressInfo).port;
  await rt.start();
});
after(async () => {
  await rt.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Python cannot reach JavaScript', () => {
  test('js, pyodide_js, pyodide.ffi, pyodide.code, _pyodide_core are not importable', async () => {
    const out = await runProbes(
      rt,
      version(
        probes({
          'import js': 'import js\nreturn js.process.env',
          'import pyodide_js': "import pyodide_js\nreturn pyodide_js.mountNodeFS('/host', '/etc')",
          'pyodide.ffi.to_js':
            "from pyodide.ffi import to_js\nreturn to_js({}).constructor.constructor('return process')()",
          'pyodide.code.run_js': "from pyodide.code import run_js\nreturn run_js('process')",
          _pyodide_core: 'import _pyodide_core\nreturn _pyodide_core.to_js({})',
          'importlib js': "import importlib\nreturn importlib.import_module('js')",
          'sys.modules js': "return sys.modules['js']",
          '__import__ pyodide_js': "return __import__('pyodide_js')._module.FS",
          ctypes: 'import ctypes\nreturn ctypes.CDLL(None)',
        }),
      ),
    );
    assertAllBlocked(out);
  });

  test('removing the import blocker still yields no JavaScript power (code generation is off)', async () => {
    const out = await runProbes(
      rt,
      version(
        probes({
          'constructor chain via _pyodide_core': `sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_Blocker']
import _pyodide_core
o = _pyodide_core.to_js({})
return o.constructor.constructor('return process')()`,
          'js after unblocking': `sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_Blocker']
import js
return js.process`,
          'pyodide_js after unblocking': `sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_Blocker']
import pyodide_js
return pyodide_js._module.FS.filesystems.NODEFS`,
          'eval via ffi run_js': `sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_Blocker']
from pyodide.code import run_js
return run_js("globalThis.process")`,
        }),
      ),
    );
    assertAllBlocked(out);
  });

  test('gc and subclass walks find no live JsProxy and no JS module object', async () => {
    const out = await runProbes(
      rt,
      version(
        probes(
          {
            // JsProxy classes themselves are plain Python types; what must not exist is a live proxy of
            // a JS object. The one survivor is jsnull, a proxy of JS null, which has no properties.
            'gc walk for live JsProxy instances': `import gc
live = [o for o in gc.get_objects() if type(type(o)).__name__ == '_JsProxyMetaClass' and type(o).__name__ != 'JsNull']
if live:
    return [type(o).__name__ for o in live][:5]
raise LookupError("none found")`,
            'jsnull leads nowhere': `import gc
nulls = [o for o in gc.get_objects() if type(o).__name__ == 'JsNull']
for n in nulls:
    return n.constructor
raise LookupError("no jsnull reachable")`,
            'subclass walk for JsProxy instances': `import gc
seen, stack = set(), [object]
while stack:
    t = stack.pop()
    for sub in type.__subclasses__(t):
        if sub not in seen:
            seen.add(sub)
            stack.append(sub)
proxy_types = tuple(t for t in seen if type(t).__name__ == '_JsProxyMetaClass' or 'JsProxy' in t.__name__)
live = [o for o in gc.get_objects() if isinstance(o, proxy_types) and type(o).__name__ != 'JsNull' and not isinstance(o, type)]
if live:
    return live[:3]
raise LookupError("no live instances among %d proxy types" % len(proxy_types))`,
            // Found by a review: the FFI modules stay alive behind the import blocker, reachable by
            // a gc walk without unblocking anything. What they make must still do nothing.
            'pyodide.ffi found by a gc walk: to_js, then the constructor chain': `return MODULES['pyodide.ffi'].to_js([1, 2]).constructor.constructor('return globalThis.process')()`,
            'pyodide.code found by a gc walk: run_js': `return MODULES['pyodide.code'].run_js('globalThis.process')`,
            "the import hooks' globals hold no JS proxies": `finders = [f for f in sys.meta_path if hasattr(f, 'find_spec')]
for f in finders:
    g = getattr(getattr(f, 'find_spec', None), '__globals__', {})
    for name in ('jsproxies', 'js', 'pyodide_js'):
        v = g.get(name)
        if v:
            return (type(f).__name__, name, v)
raise LookupError("none in %d finders" % len(finders))`,
            'module objects named js': `import gc
mods = [o for o in gc.get_objects() if type(o).__name__ == 'module' and getattr(o, '__name__', '') in ('js', 'pyodide_js')]
if mods:
    return mods
raise LookupError("none")`,
          },
          // One walk for the module lookups, at import, where the deadline is not the request's.
          `import gc
MODULES = {o.__name__: o for o in gc.get_objects() if type(o).__name__ == 'module' and isinstance(getattr(o, '__name__', None), str)}`,
        ),
        { timeoutMs: 10_000 },
      ),
    );
    assertAllBlocked(out);
    // Blocked by what they met, not by failing to find the modules (which would prove nothing).
    for (const name of [
      'pyodide.ffi found by a gc walk: to_js, then the constructor chain',
      'pyodide.code found by a gc walk: run_js',
    ])
      assert.doesNotMatch(out[name]!, /KeyError/, `${name}: ${out[name]}`);
  });
});

describe('the host is out of reach', () => {
  test('host files cannot be read or written', async () => {
    const out = await runProbes(
      rt,
      version(
        probes({
          'read canary': `return open(${JSON.stringify(canaryPath)}).read()`,
          'read /etc/passwd': "return open('/etc/passwd').read()",
          'listdir host dir': `return os.listdir(${JSON.stringify(dir)})`,
          'write host file': `open(${JSON.stringify(marker('written.txt'))}, 'w').write('x')
return os.path.exists(${JSON.stringify(marker('written.txt'))}) and 'exists only in the in-memory fs'`,
        }),
      ),
    );
    for (const [name, outcome] of Object.entries(out))
      assert.ok(!outcome.includes(FILE_CANARY), `${name} read the canary`);
    assert.match(out['read canary']!, /^BLOCKED/);
    assert.match(out['read /etc/passwd']!, /^BLOCKED/);
    assert.ok(!existsSync(marker('written.txt')), 'a file appeared on the host');
  });

  test('host environment variables are invisible; the sandbox process has none of them', async () => {
    const v = version(
      handler('return Response(200, {}, json.dumps(dict(os.environ)).encode())', 'import json, os'),
      { env: { ONLY: 'this' } },
    );
    await rt.load(v);
    const r = await rt.invoke(v.key, get());
    assert.deepEqual(JSON.parse(text(r.body)), { ONLY: 'this' });
    assert.ok(!text(r.body).includes(ENV_CANARY));
    const [pid] = rt.stats().versions[v.key]!.pids;
    // Nothing of the host's: the one variable there is the malloc setting the runtime gives it.
    assert.equal(
      readFileSync(`/proc/${pid}/environ`, 'utf8'),
      Object.entries(HOST_ENV)
        .map(([k, v]) => `${k}=${v}\0`)
        .join(''),
    );
    await rt.unload(v.key);
  });

  test("the interpreter's own paths name nothing of the host (sys.executable named the checkout)", async () => {
    const v = version(
      handler(
        'return Response(200, {}, json.dumps([sys.executable, getattr(sys, "_base_executable", ""), sys.argv, getattr(sys, "orig_argv", []), sys.prefix, sys.exec_prefix, sys.path]).encode())',
        'import json, sys',
      ),
    );
    await rt.load(v);
    const r = await rt.invoke(v.key, get());
    const seen = text(r.body);
    assert.equal(r.status, 200, seen);
    // The checkout (or node_modules) path would say where the platform is installed, and as whom.
    const here = fileURLToPath(new URL('../../..', import.meta.url));
    for (const host of [here, process.execPath, 'node_modules', 'sandbox-thread'])
      assert.ok(!seen.includes(host), `${host} in ${seen}`);
    await rt.unload(v.key);
  });

  test('process spawning fails: os.system, subprocess, posix_spawn', async () => {
    const m = marker('spawned');
    const out = await runProbes(
      rt,
      version(
        probes({
          'os.system': `return os.system('touch ${m}')`,
          'subprocess.run': `import subprocess\nreturn subprocess.run(['touch', '${m}'])`,
          posix_spawn: `return os.posix_spawn('/usr/bin/touch', ['touch', '${m}'], {})`,
          'os.fork': 'return os.fork()',
        }),
      ),
    );
    assertAllBlocked(out);
    assert.ok(!existsSync(m), 'a process ran on the host');
  });

  test('ctypes system() behind a removed blocker does not spawn (the JS layer denies it)', async () => {
    const m = marker('spawned-ctypes');
    const v = version(
      handler(
        `sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_Blocker']
import ctypes
rc = ctypes.CDLL(None).system(b"touch ${m}")
return Response(200, {}, str(rc).encode())`,
        'import sys',
      ),
    );
    await rt.load(v);
    const r = await rt.invoke(v.key, get());
    assert.notEqual(r.status, 200, `system() returned: ${text(r.body)}`);
    assert.ok(!existsSync(m), 'ctypes system() spawned a process');
    const next = await rt.invoke(v.key, get());
    assert.ok(next.status === 502 || next.status === 500, 'instance replaced or still refusing');
    assert.ok(!existsSync(m));
    await rt.unload(v.key);
  });

  test('emscripten_run_script (eval from C) is refused; the platform carries on', async () => {
    const v = version(
      handler(
        `sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_Blocker']
import ctypes
if request.uri == "/attack":
    ctypes.CDLL(None).emscripten_run_script(b"require('fs').writeFileSync('${marker('evaled')}', 'x')")
return Response(200, {}, b"fine")`,
        'import sys',
      ),
    );
    await rt.load(v);
    const r = await rt.invoke(v.key, get('/attack'));
    assert.ok(r.status >= 500, `status ${r.status}`);
    assert.ok(!existsSync(marker('evaled')));
    const next = await rt.invoke(v.key, get('/'));
    assert.equal(next.status, 200);
    await rt.unload(v.key);
  });

  test('sockets and outbound HTTP fail; the local server sees nothing', async () => {
    const before = serverHits;
    const out = await runProbes(
      rt,
      version(
        probes({
          'socket connect': `import socket\ns = socket.create_connection(('127.0.0.1', ${serverPort}), timeout=1)\nreturn s`,
          urllib: `import urllib.request\nreturn urllib.request.urlopen('http://127.0.0.1:${serverPort}/', timeout=1).read()`,
          'http.client': `import http.client\nc = http.client.HTTPConnection('127.0.0.1', ${serverPort}, timeout=1)\nc.request('GET', '/')\nreturn c.getresponse().read()`,
          'spin_sdk.http.send': `from spin_sdk.http import send, Request\nreturn send(Request('GET', 'http://127.0.0.1:${serverPort}/', {}, None))`,
        }),
        // Each probe is refused at once; the deadline only leaves room for a loaded machine (four
        // imports and refusals took past the default 2 s in CI).
        { timeoutMs: 10_000 },
      ),
    );
    assertAllBlocked(out);
    assert.equal(serverHits, before, 'the local HTTP server was reached');
  });

  test('listening fails (Emscripten would open a WebSocket server in the host); socketpair too', async () => {
    // A port that is free now: nothing may listen on it after the guest tried (this part has
    // teeth where hosts share the host network, i.e. not as root).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const out = await runProbes(
      rt,
      version(
        probes({
          listen: `import socket\ns = socket.socket()\ns.bind(('0.0.0.0', ${port}))\ns.listen()\nreturn s`,
          socketpair: `import socket\nreturn socket.socketpair()`,
        }),
      ),
    );
    assertAllBlocked(out);
    assert.match(out.listen!, /PermissionError/);
    const refused = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(false);
      });
      c.once('error', () => resolve(true));
    });
    assert.ok(refused, `something listens on ${port}`);
  });
});

describe('the bridge holds against garbage', () => {
  test('malformed frames on /dev/eunha are an OSError in the guest, not a host failure', async () => {
    const v = version(
      handler(`import os, struct
fd = os.open("/dev/eunha", os.O_RDWR)
outcomes = []
for junk in (b"\\xff" * 64, struct.pack("<II", 5, 0) + b"{oops", struct.pack("<II", 0xFFFFFFF0, 0)):
    try:
        os.write(fd, junk)
        outcomes.append("accepted")
    except OSError as e:
        outcomes.append("OSError")
return Response(200, {}, ",".join(outcomes).encode())`),
    );
    await rt.load(v);
    const r = await rt.invoke(v.key, get());
    assert.equal(r.status, 200, r.error?.message);
    assert.match(text(r.body), /OSError/);
    assert.equal((await rt.invoke(v.key, get())).status, 200);
    await rt.unload(v.key);
  });
});
