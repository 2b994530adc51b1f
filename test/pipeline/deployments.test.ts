// Deployments through the API with the real runtime: the one-call path, numbered versions with a
// config snapshot, instant rollback without a rebuild, and the ingress rules.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { multipart, waitForTask } from '../build/harness.js';
import { SAMPLE_HANDLER, b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const handler = (body: string, extra = '') => `from spin_sdk import http
from spin_sdk.http import Request, Response
import os
${extra}
class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {"content-type": "text/plain", "x-version": "${body}"}, bytes("${body}:" + os.environ.get("GREETING", "-"), "utf-8"))
`;

const ECHO = `from spin_sdk import http
from spin_sdk.http import Request, Response
import json

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("echo", request.method, request.uri)
        out = {
            "method": request.method,
            "uri": request.uri,
            "path_info": request.headers.get("spin-path-info"),
            "custom": request.headers.get("x-custom"),
            "body": (request.body or b"").decode("utf-8"),
        }
        return Response(201, {"content-type": "application/json", "x-echo": "yes"}, bytes(json.dumps(out), "utf-8"))
`;

describe('deployments and ingress', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'deploy' } })).json()
      .id;
  });
  after(async () => p.cleanup());

  const createFn = async (code: string, extra: Record<string, unknown> = {}) =>
    (
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'f', code: b64(code), ...extra },
      })
    ).json();
  const deploy = (fn: string) =>
    p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/functions/${fn}/deployments` });

  test("the seed's deploy of an image built in another workspace says so", { timeout: 60_000 }, async () => {
    // No workspace_id: the seed's default, ws-default, builds it.
    const form = multipart({ registry_url: 'local' }, { filename: 'app.py', data: SAMPLE_HANDLER });
    const submitted = await p.app.inject({ method: 'POST', url: '/api/v1/build-and-push', ...form });
    assert.equal(submitted.statusCode, 202, submitted.body);
    const task = await waitForTask(p.app, submitted.json().task_id, 60_000);
    assert.equal(task.status, 'completed', task.error ?? '');
    const fn = await createFn(handler('here'));
    const res = await p.app.inject({
      method: 'POST',
      url: '/api/v1/deploy',
      payload: { namespace: 'default', image_ref: task.result!.image_url, function_id: fn.id },
    });
    assert.equal(res.statusCode, 400, res.body);
    const error = res.json().error;
    assert.equal(error.code, 'VALIDATION_ERROR');
    assert.equal(error.details.field, 'image_ref');
    // Without function_id: the field is named, not a function '' that does not exist.
    for (const function_id of [undefined, '', null]) {
      const none = await p.app.inject({
        method: 'POST',
        url: '/api/v1/deploy',
        payload: { namespace: 'default', image_ref: task.result!.image_url, function_id },
      });
      assert.equal(none.statusCode, 400, none.body);
      assert.equal(none.json().error.details.field, 'function_id');
    }
    assert.match(
      error.message,
      new RegExp(`workspace 'ws-default', but function '${fn.id}' is in workspace '${ws}'`),
    );
  });

  test(
    "code that does not load with the function's settings is the caller's 400 on every deploy path, and records no version",
    { timeout: 90_000 },
    async () => {
      // Loads in the build's check (no settings), not with the function's: BREAK makes it raise.
      const code = `import os\nif os.environ.get("BREAK"):\n    raise RuntimeError("BREAK is set")\n${handler('ok')}`;
      const form = multipart({ registry_url: 'local', workspace_id: ws }, { filename: 'app.py', data: code });
      const submitted = await p.app.inject({ method: 'POST', url: '/api/v1/build-and-push', ...form });
      const task = await waitForTask(p.app, submitted.json().task_id, 60_000);
      assert.equal(task.status, 'completed', task.error ?? '');
      const fn = await createFn(code, { environmentVariables: { BREAK: '1' } });
      const seed = await p.app.inject({
        method: 'POST',
        url: '/api/v1/deploy',
        payload: { namespace: 'default', image_ref: task.result!.image_url, function_id: fn.id },
      });
      assert.equal(seed.statusCode, 400, seed.body);
      const error = seed.json().error;
      assert.deepEqual(
        [error.code, error.details.field, error.details.reason],
        ['VALIDATION_ERROR', 'image_ref', 'load_error'],
      );
      assert.match(error.message, /RuntimeError: BREAK is set/);
      const listed = await p.app.inject({
        method: 'GET',
        url: `/api/workspaces/${ws}/functions/${fn.id}/deployments`,
      });
      assert.deepEqual(listed.json(), [], 'no version that could never load');

      // A rollback to a version whose module code now raises (it reads the key-value store).
      const flagged = await createFn(
        handler(
          'v1',
          'from spin_sdk import key_value\nif key_value.open_default().exists("broken"):\n    raise RuntimeError("flag set")\n',
        ),
      );
      assert.equal((await deploy(flagged.id)).statusCode, 201);
      const base = `/api/workspaces/${ws}/functions/${flagged.id}`;
      const setFlag = `from spin_sdk import http, key_value\nfrom spin_sdk.http import Request, Response\nclass IncomingHandler(http.IncomingHandler):\n    def handle_request(self, request: Request) -> Response:\n        key_value.open_default().set("broken", b"1")\n        return Response(200, {}, b"set")\n`;
      await p.app.inject({ method: 'PATCH', url: base, payload: { code: b64(setFlag) } });
      assert.equal((await deploy(flagged.id)).statusCode, 201);
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${flagged.id}` })).body, 'set');
      const back = await p.app.inject({ method: 'POST', url: `${base}/deployments/1/activate` });
      assert.equal(back.statusCode, 400, back.body);
      assert.deepEqual(
        [back.json().error.code, back.json().error.details.field, back.json().error.details.reason],
        ['VALIDATION_ERROR', 'version', 'load_error'],
      );
      assert.match(back.json().error.message, /RuntimeError: flag set/);
      assert.equal(
        (await p.app.inject({ method: 'GET', url: `/fn/${flagged.id}` })).body,
        'set',
        'v2 runs on',
      );
    },
  );

  test(
    "the seed's /invoke runs POST if accepted, else GET, never a riskier method first",
    { timeout: 60_000 },
    async () => {
      for (const [methods, expected] of [
        [['DELETE', 'GET'], 'GET'],
        [['PUT', 'POST'], 'POST'],
        [['DELETE', 'PATCH'], 'DELETE'],
      ] as const) {
        const fn = await createFn(ECHO, { httpMethods: methods });
        assert.equal((await deploy(fn.id)).statusCode, 201);
        const res = await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions/${fn.id}/invoke`,
          payload: { a: 1 },
        });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().responseBody.method, expected, methods.join(','));
      }
    },
  );

  test('versions, config snapshots and instant rollback', { timeout: 60_000 }, async () => {
    const fn = await createFn(handler('one'), { environmentVariables: { GREETING: 'hi' } });
    const d1 = await deploy(fn.id);
    assert.equal(d1.statusCode, 201, d1.body);
    assert.equal(d1.json().version, 1);
    assert.match(d1.json().digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(d1.json().config.environmentVariables, { GREETING: 'hi' });
    let res = await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` });
    assert.equal(res.body, 'one:hi');

    await p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${ws}/functions/${fn.id}`,
      payload: { code: b64(handler('two')), environmentVariables: { GREETING: 'hey' } },
    });
    // Until it is deployed, the old version keeps answering with its own config.
    assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` })).body, 'one:hi');
    const d2 = await deploy(fn.id);
    assert.equal(d2.json().version, 2);
    assert.notEqual(d2.json().digest, d1.json().digest);
    assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` })).body, 'two:hey');
    const list = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn.id}/deployments` })
    ).json();
    assert.deepEqual(
      list.map((d: { version: number; active: boolean }) => [d.version, d.active]),
      [
        [2, true],
        [1, false],
      ],
    );

    const back = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn.id}/deployments/1/activate`,
    });
    assert.equal(back.statusCode, 200);
    assert.equal(back.json().active, true);
    res = await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` });
    assert.equal(res.body, 'one:hi');
    assert.equal(res.headers['x-version'], 'one');

    const missing = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn.id}/deployments/9/activate`,
    });
    assert.equal(missing.statusCode, 404);
    const bad = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn.id}/deployments/0/activate`,
    });
    assert.equal(bad.statusCode, 400);
    // No body, `{}` or null; a field is refused, not ignored (a review sent one and got 201).
    const again = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn.id}/deployments/1/activate`,
      payload: {},
    });
    assert.equal(again.statusCode, 200, again.body);
    for (const url of [
      `/api/workspaces/${ws}/functions/${fn.id}/deployments/1/activate`,
      `/api/workspaces/${ws}/functions/${fn.id}/deployments`,
    ]) {
      const field = await p.app.inject({ method: 'POST', url, payload: { version: 2 } });
      assert.equal(field.statusCode, 400, field.body);
      assert.equal(field.json().error.code, 'VALIDATION_ERROR');
    }
    assert.equal((await deploy(fn.id)).json().version, 3, 'the refused deploy made no version');
  });

  test(
    'activating the active version loads nothing: the same instance answers',
    { timeout: 60_000 },
    async () => {
      // Each load draws its own token at import.
      const fn = await createFn(`import os
from spin_sdk import http
from spin_sdk.http import Request, Response
TOKEN = os.urandom(8).hex()

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {}, TOKEN.encode())
`);
      assert.equal((await deploy(fn.id)).statusCode, 201);
      const token = async () => (await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` })).body;
      const before = await token();
      assert.match(before, /^[0-9a-f]{16}$/);
      const again = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/deployments/1/activate`,
      });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(await token(), before, 'the active version was loaded again');
    },
  );

  test(
    'module code that reads its environment (plain and secret) at import deploys',
    { timeout: 60_000 },
    async () => {
      const fn = await createFn(
        `from spin_sdk import http
from spin_sdk.http import Request, Response
import os
GREETING = os.environ["GREETING"]
TOKEN = os.environ["TOKEN"]

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {}, f"{GREETING}:{len(TOKEN)}".encode())
`,
        { environmentVariables: { GREETING: 'hi' }, secretEnvironmentVariables: { TOKEN: 'sekrit' } },
      );
      const d = await deploy(fn.id);
      assert.equal(d.statusCode, 201, d.body);
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` })).body, 'hi:6');
      // A failing check's traceback may quote a secret: the answer masks it.
      const leaky = await createFn('import os\nN = int(os.environ["TOKEN"])\n', {
        secretEnvironmentVariables: { TOKEN: 'sekrit-value' },
      });
      const bad = await deploy(leaky.id);
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /ValueError/);
      assert.ok(!bad.body.includes('sekrit-value'), bad.body);
      assert.ok(bad.body.includes('********'), bad.body);
    },
  );

  test(
    'the function sees method, path, query, headers and body; its answer comes back unchanged',
    { timeout: 60_000 },
    async () => {
      const fn = await createFn(ECHO, { httpMethods: ['POST', 'PUT'] });
      assert.equal((await deploy(fn.id)).statusCode, 201);
      const res = await p.app.inject({
        method: 'PUT',
        url: `/fn/${fn.id}/a/b?x=1&y=two`,
        headers: { 'x-custom': 'hello', 'content-type': 'text/plain' },
        payload: 'the body',
      });
      assert.equal(res.statusCode, 201);
      assert.equal(res.headers['x-echo'], 'yes');
      const out = res.json();
      assert.equal(out.method, 'PUT');
      assert.equal(out.uri, `/fn/${fn.id}/a/b?x=1&y=two`);
      assert.equal(out.path_info, '/a/b');
      assert.equal(out.custom, 'hello');
      assert.equal(out.body, 'the body');
    },
  );

  test(
    '405 outside httpMethods, 403 when disabled, 404 NOT_DEPLOYED, 400 NOT_DEPLOYED on /invoke',
    { timeout: 60_000 },
    async () => {
      const fn = await createFn(handler('m'), { httpMethods: ['POST'] });
      const notYet = await p.app.inject({ method: 'POST', url: `/fn/${fn.id}` });
      assert.equal(notYet.statusCode, 404);
      assert.equal(notYet.json().error.code, 'NOT_DEPLOYED');
      const invokeNotYet = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/invoke`,
        payload: {},
      });
      assert.equal(invokeNotYet.statusCode, 400);
      assert.equal(invokeNotYet.json().error.code, 'NOT_DEPLOYED');

      await deploy(fn.id);
      const wrong = await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` });
      assert.equal(wrong.statusCode, 405);
      assert.equal(wrong.headers.allow, 'POST');
      assert.equal(wrong.json().error.code, 'METHOD_NOT_ALLOWED');
      assert.equal((await p.app.inject({ method: 'POST', url: `/fn/${fn.id}` })).statusCode, 200);
      // A method no function can take is answered the same way, with this function's methods;
      // for a function that does not exist, 404 (both were a 405 listing every method).
      for (const url of [`/fn/${fn.id}`, `/fn/${fn.id}/deep/path?q=1`]) {
        // (inject's type lists Fastify's own methods only; Node parses any.)
        const exotic = await p.app.inject({ method: 'PROPFIND' as 'GET', url });
        assert.equal(exotic.statusCode, 405, exotic.body);
        assert.equal(exotic.headers.allow, 'POST');
      }
      const nobody = await p.app.inject({ method: 'TRACE' as 'GET', url: '/fn/fn-zzzzzzzz' });
      assert.equal(nobody.statusCode, 404, nobody.body);
      assert.equal(nobody.json().error.code, 'NOT_FOUND');

      await p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${fn.id}`,
        payload: { status: 'disabled' },
      });
      const off = await p.app.inject({ method: 'POST', url: `/fn/${fn.id}` });
      assert.equal(off.statusCode, 403);
      assert.equal(off.json().error.code, 'FUNCTION_DISABLED');
      await p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${fn.id}`,
        payload: { status: 'active' },
      });
      assert.equal((await p.app.inject({ method: 'POST', url: `/fn/${fn.id}` })).statusCode, 200);

      const unknown = await p.app.inject({ method: 'GET', url: '/fn/fn-nothere0' });
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().error.code, 'NOT_FOUND');
    },
  );

  test(
    'a timeout answers 504 TIMEOUT and is logged; the function keeps serving',
    { timeout: 60_000 },
    async () => {
      const code = `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        if request.uri.endswith("slow"):
            while True:
                pass
        return Response(200, {}, b"fast")
`;
      const fn = await createFn(code, { timeout: 1 });
      await deploy(fn.id);
      const slow = await p.app.inject({ method: 'GET', url: `/fn/${fn.id}/slow` });
      assert.equal(slow.statusCode, 504);
      assert.equal(slow.json().error.code, 'TIMEOUT');
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn.id}/ok` })).body, 'fast');
      const viaInvoke = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/invoke`,
        payload: {},
      });
      assert.equal(viaInvoke.statusCode, 200); // uri /fn/{id} does not end with "slow"
      await p.writer.flush();
      const logs = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn.id}/logs` })
      ).json();
      const timedOut = logs.logs.find((l: { statusCode: number }) => l.statusCode === 504);
      assert.ok(timedOut, 'the timeout is in the execution log');
      assert.equal(timedOut.status, 'error');
      assert.equal(timedOut.level, 'error');
      // Stopped at its deadline inside the sandbox, it ran that long; killed, the time is unknown.
      assert.ok(timedOut.runMs === null || timedOut.runMs >= 900, `runMs ${timedOut.runMs}`);
    },
  );

  test(
    "an execution log's runMs is the handler's own time, waitMs its wait for an instance; duration counts both",
    { timeout: 60_000 },
    async () => {
      const code = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        time.sleep(0.4)
        return Response(200, {}, b"rested")
`;
      // One instance: the second request waits for the first to finish.
      const fn = await createFn(code, { maxInstances: 1 });
      assert.equal((await deploy(fn.id)).statusCode, 201);
      const calls = await Promise.all([0, 1].map(() => p.app.inject({ method: 'GET', url: `/fn/${fn.id}` })));
      assert.deepEqual(
        calls.map((c) => c.body),
        ['rested', 'rested'],
      );
      await p.writer.flush();
      const logs = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn.id}/logs` })
      ).json().logs as Array<{ duration: number; runMs: number; waitMs: number }>;
      assert.equal(logs.length, 2);
      for (const l of logs) {
        assert.ok(l.runMs >= 400 && l.runMs < 1000, `runMs ${l.runMs}`);
        assert.ok(
          l.runMs + l.waitMs <= l.duration + 0.01,
          `runMs ${l.runMs} + waitMs ${l.waitMs} > duration ${l.duration}`,
        );
      }
      const [first, waited] = [...logs].sort((a, b) => a.waitMs - b.waitMs);
      assert.ok(waited!.duration >= 800, `the second waited: duration ${waited!.duration}`);
      assert.ok(waited!.duration - waited!.runMs >= 350, `its wait is not in runMs (${waited!.runMs})`);
      assert.ok(waited!.waitMs >= 350, `its wait is its waitMs (${waited!.waitMs})`);
      assert.ok(first!.waitMs < waited!.waitMs - 200, `the first did not wait as long (${first!.waitMs})`);
    },
  );

  test(
    "/invoke passes the JSON body as sent: Python's numbers are not JavaScript's",
    { timeout: 60_000 },
    async () => {
      const code = `import json
from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print(repr(json.loads(request.body)))
        return Response(200, {"content-type": "text/plain"}, request.body)
`;
      const fn = await createFn(code);
      await deploy(fn.id);
      const sent = '{"big": 12345678901234567890, "f": 1.0, "e": 1e21, "s": "\\u00e9"}';
      const inv = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/invoke`,
        headers: { 'content-type': 'application/json' },
        payload: sent,
      });
      assert.equal(inv.statusCode, 200, inv.body);
      const log = inv.json();
      // Re-encoded from JavaScript values, Python got 12345678901234567000, the integer 1 and 1e+21.
      assert.deepEqual(log.logs, ["{'big': 12345678901234567890, 'f': 1.0, 'e': 1e+21, 's': 'é'}"]);
      // Echoed as text/plain, the log keeps it as text: the very bytes the caller sent.
      assert.equal(log.responseBody, sent);
    },
  );

  test(
    '/invoke without a body runs the function with none (not the text null); a JSON null is sent as such',
    { timeout: 60_000 },
    async () => {
      const code = `import json
from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        data = json.loads(request.body or b"{}")
        kind = request.headers.get("content-type", "none")
        return Response(200, {"content-type": "text/plain"}, f"{type(data).__name__} {kind}".encode())
`;
      const fn = await createFn(code);
      await deploy(fn.id);
      const url = `/api/workspaces/${ws}/functions/${fn.id}/invoke`;
      for (const headers of [{}, { 'content-type': 'application/json' }]) {
        const bare = await p.app.inject({ method: 'POST', url, headers });
        assert.equal(bare.statusCode, 200, bare.body);
        assert.equal(bare.json().responseBody, 'dict none', JSON.stringify(headers));
        assert.equal(bare.json().requestBody, null);
      }
      const nul = await p.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: 'null',
      });
      assert.equal(nul.statusCode, 200, nul.body);
      assert.equal(nul.json().responseBody, 'NoneType application/json');
    },
  );

  test(
    '/invoke leaves out a byte order mark the JSON parser skipped: decoded as text, the body parses in Python',
    { timeout: 60_000 },
    async () => {
      const code = `import json
from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print(repr(json.loads(request.body.decode("utf-8"))))
        return Response(200, {"content-type": "text/plain"}, request.body)
`;
      const fn = await createFn(code);
      await deploy(fn.id);
      const inv = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/invoke`,
        headers: { 'content-type': 'application/json' },
        payload: Buffer.from('\ufeff {"a": 1.0}', 'utf8'),
      });
      assert.equal(inv.statusCode, 200, inv.body);
      const log = inv.json();
      // With the mark, Python said "Unexpected UTF-8 BOM (decode using utf-8-sig)".
      assert.deepEqual(log.logs, ["{'a': 1.0}"]);
      assert.equal(log.statusCode, 200);
      assert.equal(log.responseBody, ' {"a": 1.0}');
    },
  );

  test('an exception gives 500 with the traceback in the logs', { timeout: 60_000 }, async () => {
    const code = `from spin_sdk import http

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request):
        print("about to fail")
        raise ValueError("boom")
`;
    const fn = await createFn(code);
    await deploy(fn.id);
    const inv = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn.id}/invoke`,
      payload: { a: 1 },
    });
    assert.equal(inv.statusCode, 200);
    const log = inv.json();
    assert.equal(log.status, 'error');
    assert.equal(log.statusCode, 500);
    assert.ok(log.logs.includes('about to fail'));
    assert.ok(
      log.logs.some((l: string) => l.includes('ValueError: boom')),
      JSON.stringify(log.logs),
    );
    assert.equal(typeof log.cpuMs, 'number');
  });

  test(
    'a build that does not load is refused with the traceback and changes nothing',
    { timeout: 60_000 },
    async () => {
      const fn = await createFn('def broken(:\n  pass\n');
      const artifactsBefore = await p.blobs.list(`artifacts/${ws}`);
      const res = await deploy(fn.id);
      assert.equal(res.statusCode, 400, res.body);
      const { error } = res.json();
      assert.equal(error.code, 'VALIDATION_ERROR');
      assert.deepEqual(error.details, { field: 'code', reason: 'load_error' });
      assert.match(error.message, /SyntaxError/);
      const list = async () =>
        (
          await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn.id}/deployments` })
        ).json();
      assert.deepEqual(await list(), []);
      // The deploy's load is the check: the artifact stored for it went with the failure.
      assert.deepEqual(await p.blobs.list(`artifacts/${ws}`), artifactsBefore);
      // Its code fixed, the function's first version is v1: the failure used no number.
      const patched = await p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${fn.id}`,
        payload: { code: b64(SAMPLE_HANDLER) },
      });
      assert.equal(patched.statusCode, 200, patched.body);
      const fixed = await deploy(fn.id);
      assert.equal(fixed.statusCode, 201, fixed.body);
      assert.equal(fixed.json().version, 1);
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` })).statusCode, 200);
    },
  );

  test(
    "a workspace's one-call deploys load their module code one at a time, in its build slot",
    { timeout: 60_000 },
    async () => {
      // The deploy's load is its code's check, and stays in the build queue's slot: a tenant's
      // deploys cannot run more module code at once than its builds (one, with the 2 default slots).
      const napper = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'napper' } })
      ).json().id as string;
      const fns = await Promise.all(
        [0, 1].map(
          async (i) =>
            (
              await p.app.inject({
                method: 'POST',
                url: `/api/workspaces/${napper}/functions`,
                payload: {
                  name: `nap${i}`,
                  code: b64(`import time\ntime.sleep(2)  # ${i}\n${SAMPLE_HANDLER}`),
                },
              })
            ).json().id as string,
        ),
      );
      const t0 = Date.now();
      const done = await Promise.all(
        fns.map(async (fn) => {
          const res = await p.app.inject({
            method: 'POST',
            url: `/api/workspaces/${napper}/functions/${fn}/deployments`,
          });
          assert.equal(res.statusCode, 201, res.body);
          return Date.now() - t0;
        }),
      );
      // The second import starts once the first has loaded: its deploy ends a sleep later.
      const gap = Math.abs(done[1]! - done[0]!);
      assert.ok(gap >= 1_500, `both imports slept at once: done at ${done.join(', ')} ms`);
    },
  );

  test(
    'deleting a function or its workspace stops its instances and removes its artifacts',
    { timeout: 60_000 },
    async () => {
      const other = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'doomed' } })
      ).json().id;
      const make = async (name: string) =>
        (
          await p.app.inject({
            method: 'POST',
            url: `/api/workspaces/${other}/functions`,
            payload: { name, code: b64(handler(name)) },
          })
        ).json().id as string;
      const a = await make('a');
      const b = await make('b');
      for (const fn of [a, b]) {
        assert.equal(
          (
            await p.app.inject({
              method: 'POST',
              url: `/api/workspaces/${other}/functions/${fn}/deployments`,
            })
          ).statusCode,
          201,
        );
        assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
      }
      const instancesOf = (fn: string) =>
        Object.values(p.runtime.stats().versions)
          .filter((v) => v.functionId === fn)
          .reduce((n, v) => n + v.instances, 0);
      assert.ok(instancesOf(a) >= 1);

      assert.equal(
        (await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${other}/functions/${a}` })).statusCode,
        204,
      );
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${a}` })).statusCode, 404);
      assert.equal(instancesOf(a), 0);
      assert.ok(instancesOf(b) >= 1);

      assert.equal(
        (await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${other}` })).statusCode,
        204,
      );
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${b}` })).statusCode, 404);
      assert.equal(instancesOf(b), 0);
      assert.deepEqual(await p.blobs.list(`artifacts/${other}`), []);
      assert.deepEqual(await p.blobs.list(`code/${other}`), []);
      assert.equal(
        (await p.meta.dumpKeys()).filter((k) => [other, a, b].some((id) => `${k.pk}|${k.sk}`.includes(id)))
          .length,
        0,
      );
    },
  );

  test(
    'an invalid response or an exception is a 500 FUNCTION_ERROR envelope, never an injected header',
    { timeout: 60_000 },
    async () => {
      const answering = (expr: string) => `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return ${expr}
`;
      const cases: Array<[string, RegExp]> = [
        ['Response(200, {"x-a": "v\\r\\nset-cookie: evil=1"}, b"hi")', /header 'x-a'/],
        ['Response(200, {"bad name": "x"}, b"hi")', /header name/],
        ['Response(99, {}, b"hi")', /status 99/],
        ['Response(1000, {}, b"hi")', /status 1000/],
        ['1 / 0', /ZeroDivisionError/],
      ];
      for (const [expr, why] of cases) {
        const fn = await createFn(answering(expr));
        assert.equal((await deploy(fn.id)).statusCode, 201);
        const res = await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` });
        assert.equal(res.statusCode, 500, expr);
        assert.equal(res.headers['set-cookie'], undefined);
        const body = res.json();
        assert.equal(body.error.code, 'FUNCTION_ERROR');
        assert.doesNotMatch(body.error.message, /Traceback/);
        await p.writer.flush();
        const logs = (
          await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn.id}/logs` })
        ).json();
        const log = logs.logs.find((l: { id: string }) => l.id === body.error.details.logId);
        assert.ok(log, 'details.logId names the execution log');
        assert.equal(log.status, 'error');
        assert.match(JSON.stringify(log), why, expr);
      }
    },
  );
  test(
    'activating a version whose artifact the store lost is a 500 that says so',
    { timeout: 60_000 },
    async () => {
      const fn = await createFn(handler('one'));
      const v1 = await deploy(fn.id);
      assert.equal(v1.statusCode, 201, v1.body);
      await p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${fn.id}`,
        payload: { code: b64(handler('two')) },
      });
      assert.equal((await deploy(fn.id)).statusCode, 201);
      await p.blobs.deletePrefix(`artifacts/${ws}/${v1.json().digest}`); // lost under the platform
      const res = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/deployments/1/activate`,
      });
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.json().error.code, 'CONFLICT');
      assert.match(
        res.json().error.message,
        /deployment v1's artifact sha256:[0-9a-f]{64} is missing from the blob store/,
      );
      const still = await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` });
      assert.equal(still.headers['x-version'], 'two', 'v2 still answers');
    },
  );
});

describe('old versions are deleted past EUNHA_MAX_VERSIONS_PER_FUNCTION', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1', EUNHA_MAX_VERSIONS_PER_FUNCTION: '3' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'keep' } })).json()
      .id;
  });
  after(async () => p?.cleanup());

  test(
    'the newest 3 are kept, with the artifacts they name; an older one and its own artifact go',
    { timeout: 120_000 },
    async () => {
      const fn = (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          payload: { name: 'kept', code: b64(handler('a')) },
        })
      ).json();
      const base = `/api/workspaces/${ws}/functions/${fn.id}`;
      const deployCode = async (version: string) => {
        await p.app.inject({ method: 'PATCH', url: base, payload: { code: b64(handler(version)) } });
        const res = await p.app.inject({ method: 'POST', url: `${base}/deployments` });
        assert.equal(res.statusCode, 201, res.body);
        return res.json() as { version: number; digest: string };
      };
      const versions = async () =>
        (await p.app.inject({ method: 'GET', url: `${base}/deployments` }))
          .json()
          .map((d: { version: number }) => d.version)
          .sort((a: number, b: number) => a - b);
      const artifacts = async (digest: string) => (await p.blobs.list(`artifacts/${ws}/${digest}`)).length;
      const v1 = await deployCode('a');
      const v2 = await deployCode('b');
      await deployCode('c');
      assert.deepEqual(await versions(), [1, 2, 3]);
      // v4 builds v1's code again: v1's artifact is named by v4 and stays.
      const v4 = await deployCode('a');
      assert.equal(v4.digest, v1.digest);
      assert.deepEqual(await versions(), [2, 3, 4]);
      assert.ok((await artifacts(v1.digest)) > 0, 'v4 still names the artifact');
      await deployCode('d');
      assert.deepEqual(await versions(), [3, 4, 5]);
      assert.equal(await artifacts(v2.digest), 0, 'v2 was the only one naming its artifact');
      // What is kept still rolls back at once.
      const back = await p.app.inject({ method: 'POST', url: `${base}/deployments/4/activate` });
      assert.equal(back.statusCode, 200, back.body);
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn.id}` })).headers['x-version'], 'a');
      const gone = await p.app.inject({ method: 'POST', url: `${base}/deployments/2/activate` });
      assert.equal(gone.statusCode, 404);
    },
  );
});
