// Invocation URLs: public by default (authType NONE, like a Lambda function URL with auth NONE);
// authType KEY answers only the admin key or a key of the function's workspace, and the function
// never sees that key. A NONE function gets the caller's Authorization header, unless it carries
// an Eunha key.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { multipart } from '../build/harness.js';
import { b64 } from '../helpers/platform.js';
import { ADMIN_KEY, METRICS_TOKEN, bearer, startWorld, type World } from './world.js';

const ECHO_AUTH = `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {"content-type": "text/plain"}, bytes("auth=" + request.headers.get("authorization", "none"), "utf-8"))
`;

describe('function URLs', () => {
  let w: World;
  let fn: string;
  before(async () => {
    w = await startWorld();
    const created = await w.p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${w.a.ws}/functions`,
      headers: bearer(w.a.key),
      payload: { name: 'guarded', code: b64(ECHO_AUTH), authType: 'KEY' },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().authType, 'KEY');
    fn = created.json().id;
    const d = await w.p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${w.a.ws}/functions/${fn}/deployments`,
      headers: bearer(w.a.key),
    });
    assert.equal(d.statusCode, 201, d.body);
  });
  after(async () => w?.close());

  test(
    'authType KEY: anonymous and bad keys → 401, another workspace → 403, own key and admin → 200',
    { timeout: 60_000 },
    async () => {
      const call = (headers: Record<string, string> = {}) =>
        w.p.app.inject({ method: 'GET', url: `/fn/${fn}/sub/path`, headers });
      const anon = await call();
      assert.equal(anon.statusCode, 401);
      assert.equal(anon.json().error.code, 'UNAUTHORIZED');
      assert.equal((await call({ authorization: 'Bearer nope' })).statusCode, 401);
      assert.equal((await call({ authorization: 'Basic abc' })).statusCode, 401);
      assert.equal((await call(bearer(w.b.key))).statusCode, 403);
      // The metrics token reads /metrics only; it calls no function.
      const scraper = await call(bearer(METRICS_TOKEN));
      assert.equal(scraper.statusCode, 403, scraper.body);
      assert.equal(scraper.json().error.code, 'FORBIDDEN');
      const own = await call(bearer(w.a.key));
      assert.equal(own.statusCode, 200);
      assert.equal(own.body, 'auth=none', 'the function must not see the caller’s key');
      assert.equal((await call(bearer(ADMIN_KEY))).statusCode, 200);
      // A method no function can take goes through the same door: its key first, then 405 with
      // the function's own methods; no such function is a 404 (they were 401 from the API's guard
      // with the admin key set, and 405 with every method in open mode).
      const exotic = (headers: Record<string, string> = {}) =>
        w.p.app.inject({ method: 'PROPFIND' as 'GET', url: `/fn/${fn}/x`, headers });
      assert.equal((await exotic()).statusCode, 401);
      const refused = await exotic(bearer(w.a.key));
      assert.equal(refused.statusCode, 405, refused.body);
      assert.equal(refused.headers.allow, 'GET, HEAD', 'HEAD is taken wherever GET is');
      assert.deepEqual(refused.json().error.details.allowed, ['GET', 'HEAD']);
      assert.equal(
        (await w.p.app.inject({ method: 'HEAD', url: `/fn/${fn}/x`, headers: bearer(w.a.key) })).statusCode,
        200,
      );
      const nobody = await w.p.app.inject({ method: 'TRACE' as 'GET', url: '/fn/fn-zzzzzzzz' });
      assert.equal(nobody.statusCode, 404, nobody.body);
    },
  );

  test('authType NONE (the default) is public, and passes Authorization through to the function', async () => {
    const res = await w.p.app.inject({ method: 'GET', url: `/fn/${w.b.fn}` });
    assert.equal(res.statusCode, 200);
    const patched = await w.p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${w.a.ws}/functions/${fn}`,
      headers: w.admin,
      payload: { authType: 'NONE' },
    });
    assert.equal(patched.json().authType, 'NONE');
    const open = await w.p.app.inject({
      method: 'GET',
      url: `/fn/${fn}`,
      headers: { authorization: 'Bearer the-functions-own-token' },
    });
    assert.equal(open.statusCode, 200);
    assert.equal(open.body, 'auth=Bearer the-functions-own-token');
    // An Eunha key sent to a public function stays with the platform: its author would hold it.
    for (const key of [w.a.key, w.b.key, ADMIN_KEY, METRICS_TOKEN, 'eunha_not-even-valid']) {
      const sent = await w.p.app.inject({ method: 'GET', url: `/fn/${fn}`, headers: bearer(key) });
      assert.equal(sent.statusCode, 200);
      assert.equal(sent.body, 'auth=none', `${key.slice(0, 8)}… reached the function`);
    }
    // Nor sent any other way: a review's bare key, `Token <key>` and a tab after Bearer got through.
    for (const value of [
      w.b.key,
      `Token ${w.b.key}`,
      `Bearer\t${w.b.key}`,
      ADMIN_KEY,
      `key=${w.a.key}`,
      `Token ${METRICS_TOKEN}`,
    ]) {
      const sent = await w.p.app.inject({
        method: 'GET',
        url: `/fn/${fn}`,
        headers: { authorization: value },
      });
      assert.equal(sent.statusCode, 200);
      assert.equal(sent.body, 'auth=none', `${value.slice(0, 12)}… reached the function`);
    }
    // Switching back applies at once, without a redeploy.
    await w.p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${w.a.ws}/functions/${fn}`,
      headers: w.admin,
      payload: { authType: 'KEY' },
    });
    assert.equal((await w.p.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 401);
  });

  test('a request that a redeploy moves to a version needing a key is checked again, and its code never sees the key', async () => {
    // Version 1 takes a second a request, so most requests are still waiting when version 2 is up.
    const napper = (tag: string, nap: number) => `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        time.sleep(${nap})
        return Response(200, {}, bytes("${tag} auth=" + request.headers.get("authorization", "none"), "utf-8"))
`;
    const api = (method: 'POST' | 'PATCH', url: string, payload?: object) =>
      w.p.app.inject({ method, url: `/api/workspaces/${w.a.ws}/functions${url}`, headers: w.admin, payload });
    const id = (await api('POST', '', { name: 'moved', code: b64(napper('v1', 1)), maxInstances: 1 })).json()
      .id;
    assert.equal((await api('POST', `/${id}/deployments`)).statusCode, 201);
    // Version 2 is built beforehand, so that its deploy only loads it: a waiting request leaves
    // the line after 5 s (429), and a build on a loaded machine took longer than that.
    const form = multipart(
      { registry_url: 'local', workspace_id: w.a.ws },
      { filename: 'app.py', data: napper('v2', 0) },
    );
    const submitted = await w.p.app.inject({
      method: 'POST',
      url: '/api/v1/build-and-push',
      headers: { ...w.admin, ...form.headers },
      payload: form.payload,
    });
    assert.equal(submitted.statusCode, 202, submitted.body);
    let task = submitted.json();
    for (const deadline = Date.now() + 60_000; task.status !== 'completed' && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 20));
      task = (
        await w.p.app.inject({ method: 'GET', url: `/api/v1/tasks/${task.task_id}`, headers: w.admin })
      ).json();
    }
    assert.equal(task.status, 'completed', JSON.stringify(task));
    // Alternately with the workspace's key and without one; one runs at a time, the rest wait.
    const calls = Array.from({ length: 6 }, (_, i) =>
      w.p.app.inject({ method: 'GET', url: `/fn/${id}`, headers: i % 2 ? {} : bearer(w.a.key) }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const patched = await api('PATCH', `/${id}`, { authType: 'KEY' });
    assert.equal(patched.statusCode, 200, patched.body);
    const deployed = await w.p.app.inject({
      method: 'POST',
      url: '/api/v1/deploy',
      headers: w.admin,
      payload: { namespace: 'default', image_ref: task.result.image_url, function_id: id },
    });
    assert.equal(deployed.statusCode, 200, deployed.body);
    const answers = (await Promise.all(calls)).map((r, i) => ({
      keyed: i % 2 === 0,
      status: r.statusCode,
      body: r.body,
    }));
    const onV2 = answers.filter((a) => a.body.startsWith('v2'));
    assert.ok(onV2.length > 0, `some requests ran on the new version: ${JSON.stringify(answers)}`);
    for (const a of answers) {
      if (a.body.startsWith('v1')) continue;
      if (a.keyed) assert.deepEqual([a.status, a.body], [200, 'v2 auth=none'], JSON.stringify(answers));
      else assert.equal(a.status, 401, JSON.stringify(answers));
    }
  });

  test('a function cannot act for the whole origin: no service worker, no Service-Worker-Allowed, no Clear-Site-Data, no request id of its own', async () => {
    // Function URLs share the platform's origin: a worker registered from one would see every
    // request the browser makes to it, a Swagger UI session's admin key included.
    const created = await w.p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${w.a.ws}/functions`,
      headers: bearer(w.a.key),
      payload: {
        name: 'worker',
        code: b64(`from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("ran")
        return Response(200, {"content-type": "text/javascript", "service-worker-allowed": "/",
                              "Clear-Site-Data": '"*"', "x-kept": "yes", "x-request-id": "forged",
                              "X-Request-Id": "forged-too"}, b"self.onfetch = () => {}")
`),
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const worker = created.json().id as string;
    const d = await w.p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${w.a.ws}/functions/${worker}/deployments`,
      headers: bearer(w.a.key),
    });
    assert.equal(d.statusCode, 201, d.body);
    for (const url of [`/fn/${worker}`, `/fn/${worker}/sw.js`]) {
      const refused = await w.p.app.inject({ method: 'GET', url, headers: { 'service-worker': 'script' } });
      assert.equal(refused.statusCode, 403, refused.body);
      assert.equal(refused.json().error.code, 'FORBIDDEN');
      assert.match(refused.json().error.message, /cannot serve a service worker/);
    }
    const served = await w.p.app.inject({
      method: 'GET',
      url: `/fn/${worker}/sw.js`,
      headers: { 'x-request-id': 'trace-42' },
    });
    assert.equal(served.statusCode, 200, served.body);
    assert.equal(served.headers['x-kept'], 'yes');
    // The platform's request id, which its logs carry, is the one the caller gets back.
    assert.equal(served.headers['x-request-id'], 'trace-42');
    assert.equal(served.headers['service-worker-allowed'], undefined);
    assert.equal(served.headers['clear-site-data'], undefined);
    await w.p.writer.flush();
    const logs = await w.p.app.inject({
      method: 'GET',
      url: `/api/workspaces/${w.a.ws}/functions/${worker}/logs`,
      headers: bearer(w.a.key),
    });
    assert.equal(logs.json().total, 1, 'the refused requests never ran');

    // The docs, where a key may be typed, cannot be framed by a function's page, however the path
    // is spelled (a review framed /%64ocs/); nor can anything else of the platform's. A function's
    // answers are its own (it may be meant for a frame).
    for (const url of ['/docs/', '/redoc', '/%64ocs/', '/api/workspaces']) {
      const page = await w.p.app.inject({ method: 'GET', url, headers: w.admin });
      assert.equal(page.statusCode, 200, url);
      assert.equal(page.headers['x-frame-options'], 'DENY', url);
      assert.equal(page.headers['content-security-policy'], "frame-ancestors 'none'", url);
    }
    assert.equal(served.headers['x-frame-options'], undefined);
  });

  test(
    'a public caller learns that the function could not start, not what its module code raised',
    { timeout: 90_000 },
    async () => {
      // Module code that fails once a flag is set, quoting a plain variable (a secret under 4
      // characters is not masked either); the flag's setter runs in an instance already up.
      const code = `from spin_sdk import http, key_value
from spin_sdk.http import Request, Response
import os, time
try:
    broken = key_value.open_default().exists("broken")
except Exception:
    broken = False
if broken:
    raise RuntimeError("cannot reach " + os.environ["DB_URL"])

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        if request.uri.endswith("/break"):
            key_value.open_default().set("broken", b"1")
        if request.uri.endswith("/nap"):
            time.sleep(1.5)
        return Response(200, {}, b"ok")
`;
      const api = (method: 'POST' | 'GET', url: string, payload?: object) =>
        w.p.app.inject({
          method,
          url: `/api/workspaces/${w.a.ws}/functions${url}`,
          headers: w.admin,
          payload,
        });
      const id = (
        await api('POST', '', {
          name: 'starts-badly',
          code: b64(code),
          maxInstances: 2,
          environmentVariables: { DB_URL: 'postgres://internal-db.corp:5432/payments' },
        })
      ).json().id;
      assert.equal((await api('POST', `/${id}/deployments`)).statusCode, 201);
      assert.equal((await w.p.app.inject({ method: 'GET', url: `/fn/${id}/break` })).statusCode, 200);
      // Two at once: one gets the instance that is up, the other a new one, whose load fails.
      const answers = await Promise.all(
        ['nap', 'now'].map((p) => w.p.app.inject({ method: 'GET', url: `/fn/${id}/${p}` })),
      );
      const crashed = answers.find((a) => a.statusCode === 502);
      assert.ok(crashed, answers.map((a) => `${a.statusCode} ${a.body}`).join(' | '));
      const error = crashed.json().error;
      assert.equal(error.code, 'FUNCTION_CRASHED');
      assert.ok(!/internal-db|cannot reach|RuntimeError/.test(crashed.body), crashed.body);
      assert.match(error.message, /see its execution log/);
      // Its author finds what happened in the execution log the answer names.
      await w.p.writer.flush();
      const logs = (await api('GET', `/${id}/logs?limit=10`)).json().logs as Array<{
        id: string;
        responseBody: { error?: { message: string; details: unknown } };
      }>;
      const logged = logs.find((l) => l.id === error.details.logId);
      assert.match(logged?.responseBody.error?.message ?? '', /cannot reach postgres:\/\/internal-db/);
      // The envelope the caller got, but with the function's own message.
      assert.deepEqual(logged?.responseBody.error?.details, error.details);
    },
  );

  test('an unknown authType is refused', async () => {
    const res = await w.p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${w.a.ws}/functions/${fn}`,
      headers: w.admin,
      payload: { authType: 'IAM' },
    });
    assert.equal(res.statusCode, 400);
  });
});
