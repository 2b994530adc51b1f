// Per-function scaling settings through the API: idle instances stop after the TTL (scale to zero,
// and the next call is a real cold start), minWarm keeps instances ready, maxInstances caps a
// function's scale-out.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  b64,
  deployedFunction,
  SAMPLE_HANDLER,
  startTestPlatform,
  type TestPlatform,
} from '../helpers/platform.js';

const SLOW = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        end = time.time() + 0.3
        while time.time() < end:
            pass
        return Response(200, {}, b"done")
`;

describe('scaling settings', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1', EUNHA_IDLE_TTL_MS: '1000' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'scale' } })).json()
      .id;
  });
  after(async () => p.cleanup());

  const deployed = async (code: string, extra: Record<string, unknown>) => {
    const fn = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name: 's', code: b64(code), ...extra },
    });
    assert.equal(fn.statusCode, 201, fn.body);
    const id = fn.json().id as string;
    const d = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${id}/deployments`,
    });
    assert.equal(d.statusCode, 201, d.body);
    return { id, deployment: d.json() };
  };
  const instancesOf = (fn: string) =>
    Object.values(p.runtime.stats().versions)
      .filter((v) => v.functionId === fn)
      .reduce((n, v) => n + v.instances, 0);

  test(
    'idle functions scale to zero; minWarm keeps instances; the next call is a cold start',
    { timeout: 60_000 },
    async () => {
      const zero = await deployed(SAMPLE_HANDLER, {});
      const warm = await deployed(SAMPLE_HANDLER, { minWarm: 1 });
      assert.equal(warm.deployment.config.minWarm, 1);
      const view = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${warm.id}` })
      ).json();
      assert.equal(view.minWarm, 1);
      assert.equal(view.maxInstances, null);

      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(instancesOf(zero.id), 0, 'idle past the TTL: scaled to zero');
      assert.ok(instancesOf(warm.id) >= 1, 'minWarm keeps one');

      const cold = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${zero.id}/invoke`,
        payload: {},
      });
      assert.equal(cold.json().coldStart, true);
      const again = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${zero.id}/invoke`,
        payload: {},
      });
      assert.equal(again.json().coldStart, false);
      const kept = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${warm.id}/invoke`,
        payload: {},
      });
      assert.equal(kept.json().coldStart, false);
    },
  );

  test('maxInstances caps how far one function scales out', { timeout: 60_000 }, async () => {
    const capped = await deployed(SLOW, { maxInstances: 1 });
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, instancesOf(capped.id))), 20);
    const answers = await Promise.all(
      Array.from({ length: 3 }, () => p.app.inject({ method: 'GET', url: `/fn/${capped.id}` })),
    );
    clearInterval(watch);
    assert.ok(
      answers.every((a) => a.statusCode === 200),
      answers.map((a) => a.statusCode).join(','),
    );
    assert.equal(peak, 1);

    const bad = await p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${ws}/functions/${capped.id}`,
      payload: { maxInstances: 0 },
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.details.field, 'maxInstances');
  });

  test(
    'a caller that hangs up while its request waits for an instance: it never runs, its log says 499',
    { timeout: 60_000 },
    async () => {
      const { id } = await deployed(SLOW, { maxInstances: 1 });
      const base = await p.listen('127.0.0.1', 0);
      const first = fetch(`${base}/fn/${id}`);
      await new Promise((r) => setTimeout(r, 100));
      // The second waits in the queue behind the first; its caller gives up and closes the socket.
      await new Promise<void>((resolve) => {
        const req = request(`${base}/fn/${id}`);
        req.on('error', () => resolve());
        req.end();
        setTimeout(() => req.destroy(), 50);
      });
      assert.equal((await first).status, 200);
      await new Promise((r) => setTimeout(r, 500)); // the slow function would have run by now
      const logs = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${id}/logs` })
      ).json().logs as { statusCode: number; responseBody: { error?: { code: string } } }[];
      assert.deepEqual(logs.map((l) => l.statusCode).sort(), [200, 499]);
      assert.equal(logs.find((l) => l.statusCode === 499)!.responseBody.error?.code, 'CLIENT_CLOSED');
      assert.equal(p.runtime.stats().queueDepth, 0);
    },
  );
});

describe('memory budgets through the API', () => {
  let p: TestPlatform;
  before(async () => {
    p = await startTestPlatform({ EUNHA_WORKSPACE_MEMORY_BUDGET_MB: '600' });
  });
  after(async () => p.cleanup());

  test(
    'a function larger than the workspace budget is refused at deploy with 400, and nothing is deployed',
    {
      timeout: 60_000,
    },
    async () => {
      const ws = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'mem' } })
      ).json().id as string;
      const fn = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'big', code: b64(SAMPLE_HANDLER), memory: 1024 },
      });
      assert.equal(fn.statusCode, 201, fn.body);
      const id = fn.json().id as string;
      const d = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${id}/deployments`,
      });
      assert.equal(d.statusCode, 400, d.body);
      assert.equal(d.json().error.code, 'VALIDATION_ERROR');
      assert.match(
        d.json().error.message,
        /1024 MB .* does not fit this server's memory budget of 600 MB per workspace/,
      );
      const list = await p.app.inject({
        method: 'GET',
        url: `/api/workspaces/${ws}/functions/${id}/deployments`,
      });
      assert.deepEqual(list.json(), []);
      // Within the budget, the same function deploys.
      const patched = await p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${id}`,
        payload: { memory: 256 },
      });
      assert.equal(patched.statusCode, 200, patched.body);
      const ok = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${id}/deployments`,
      });
      assert.equal(ok.statusCode, 201, ok.body);
    },
  );
});

describe('the line for an instance: EUNHA_QUEUE_LIMIT and EUNHA_QUEUE_TIMEOUT_MS', () => {
  const NAP = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        time.sleep(1.5)
        return Response(200, {}, b"slept")
`;

  for (const [env, longest, what] of [
    [{ EUNHA_QUEUE_TIMEOUT_MS: '300' }, 1_200, 'waits 0.3 s, not 5'],
    [{ EUNHA_QUEUE_LIMIT: '0' }, 1_000, 'waits not at all'],
  ] as const) {
    test(`a second call behind a busy instance ${what}, then gets 429`, { timeout: 60_000 }, async () => {
      const p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1', ...env });
      try {
        const { fn: id } = await deployedFunction(p, { code: b64(NAP), maxInstances: 1 });
        const first = p.app.inject({ method: 'GET', url: `/fn/${id}` });
        await new Promise((r) => setTimeout(r, 100));
        const t0 = Date.now();
        const second = await p.app.inject({ method: 'GET', url: `/fn/${id}` });
        const waited = Date.now() - t0;
        assert.equal(second.statusCode, 429, second.body);
        assert.equal(second.json().error.code, 'TOO_MANY_REQUESTS');
        assert.ok(second.headers['retry-after'], 'Retry-After');
        assert.ok(waited < longest, `answered after ${waited} ms`);
        assert.equal((await first).body, 'slept');
      } finally {
        await p.cleanup();
      }
    });
  }
});
