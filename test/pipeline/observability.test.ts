// Logs and metrics of real invocations: execution logs (batched, none lost on close), Loki-shaped
// lines, the seed's per-function metrics with measured CPU, /metrics, and the live tail.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const CODE = `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        n = 0
        for i in range(200000):
            n += i
        print("line one", n)
        print("line two")
        return Response(200, {"content-type": "application/json"}, b'{"ok": true}')
`;

describe('observability of invocations', () => {
  let p: TestPlatform;
  let ws: string;
  let fn: string;
  before(async () => {
    p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'obs' } })).json().id;
    fn = (
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'obs', code: b64(CODE) },
      })
    ).json().id;
    const d = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
    });
    assert.equal(d.statusCode, 201, d.body);
  });
  after(async () => p.cleanup());

  test(
    'execution logs, Loki lines, seed metrics with measured CPU, /metrics',
    { timeout: 60_000 },
    async () => {
      for (let i = 0; i < 3; i++)
        assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
      await p.writer.flush();

      const logs = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs` })
      ).json();
      assert.equal(logs.total, 3);
      // Deploying specialises an instance, so sequential calls after it are warm.
      assert.ok(logs.logs.every((l: { coldStart: boolean }) => l.coldStart === false));
      assert.deepEqual(logs.logs[0].responseBody, { ok: true });
      assert.equal(logs.logs[0].deploymentVersion, 1);
      assert.ok(
        logs.logs.every((l: { cpuMs: number }) => l.cpuMs > 0),
        'CPU time is measured',
      );

      const loki = (
        await p.app.inject({ method: 'GET', url: `/api/functions/${fn}/loki-logs?limit=4` })
      ).json();
      assert.equal(loki.function_id, fn);
      assert.equal(loki.logs.length, 4);
      assert.equal(loki.total, 4);
      assert.match(loki.logs[0].timestamp, /^\d{19}$/);
      assert.equal(loki.logs[0].line, 'line two');
      assert.ok(BigInt(loki.logs[0].timestamp) > BigInt(loki.logs[1].timestamp));

      const m = (await p.app.inject({ method: 'GET', url: `/api/functions/${fn}/metrics` })).json();
      assert.equal(m.status, 'success');
      assert.equal(m.data.window_seconds, 3600);
      assert.equal(m.data.invocations_total, 3);
      assert.equal(m.data.cpu_series.length, 60);
      const cpuMs = logs.logs.reduce((a: number, l: { cpuMs: number }) => a + l.cpuMs, 0);
      assert.ok(Math.abs(m.data.cpu_total - cpuMs / 1000) < 1e-3, `${m.data.cpu_total} vs ${cpuMs / 1000}`);
      assert.ok(m.data.cpu_series.some((pt: { value: number }) => pt.value > 0));
      // Unix seconds a minute apart, as Prometheus (and the seed's console, which multiplies by 1000).
      const ts = m.data.cpu_series.map((pt: { timestamp: number }) => pt.timestamp);
      assert.ok(
        ts.every((t: number) => Number.isInteger(t) && t % 60 === 0),
        String(ts.slice(0, 3)),
      );
      assert.ok(ts.every((t: number, i: number) => i === 0 || t - ts[i - 1] === 60));
      assert.ok(Math.abs(ts[59] * 1000 - p.clock.now.getTime()) < 120_000, 'the last minute is now');

      const prom = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(
        prom,
        new RegExp(`gateway_function_invocation_total\\{function_name="${fn}",code="200"\\} 3`),
      );
      assert.doesNotMatch(prom, new RegExp(`eunha_cold_starts_total\\{function_name="${fn}"\\} [1-9]`));
      assert.match(prom, /eunha_build_duration_seconds_count\{outcome="completed"\} [1-9]/);
      assert.match(prom, /eunha_instances [1-9]/);
      // The deployed function's instance lives in a process bound to its workspace.
      assert.match(prom, /eunha_sandbox_processes [1-9]/);
      assert.match(prom, /eunha_spare_sandboxes \d/);
      assert.match(prom, /eunha_queue_depth 0/);
      // Three sequential calls never wait behind one another.
      assert.match(prom, /eunha_pipelined_requests_total 0/);

      assert.equal(
        (await p.app.inject({ method: 'GET', url: '/api/functions/fn-nothere0/metrics' })).statusCode,
        404,
      );
      assert.equal(
        (await p.app.inject({ method: 'GET', url: '/api/functions/fn-nothere0/loki-logs' })).statusCode,
        404,
      );
    },
  );

  test(
    'a page of large logs ends at its byte budget; total still counts them all',
    { timeout: 60_000 },
    async () => {
      const chatty = (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          payload: {
            name: 'chatty',
            code: b64(`from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        for i in range(1000):
            print(f"{i:04} " + "x" * 59)
        return Response(200, {}, b"ok")
`),
          },
        })
      ).json().id;
      const d = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${chatty}/deployments`,
      });
      assert.equal(d.statusCode, 201, d.body);
      // ~64 KiB of lines a log: 90 of them are ~5.8 MB, past the 4 MiB a page may hold.
      for (let i = 0; i < 90; i++) {
        assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${chatty}` })).statusCode, 200);
      }
      await p.writer.flush();
      const res = await p.app.inject({
        method: 'GET',
        url: `/api/workspaces/${ws}/functions/${chatty}/logs?limit=1000`,
      });
      const page = res.json();
      assert.equal(page.total, 90);
      assert.ok(page.logs.length >= 50 && page.logs.length < 90, `${page.logs.length} logs in the page`);
      assert.ok(res.body.length < 5 * 1024 * 1024, `${res.body.length} bytes`);
      const all = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/logs?limit=1000` })
      ).json();
      assert.ok(all.logs.length < 93, `the workspace listing too: ${all.logs.length}`);
    },
  );

  test('eunha_function_info gives the deployed function’s name and workspace, renamed at the next scrape', async () => {
    const scrape = async () => (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.ok(
      (await scrape()).includes(`eunha_function_info{function_name="${fn}",name="obs",workspace="${ws}"} 1`),
    );
    const url = `/api/workspaces/${ws}/functions/${fn}`;
    assert.equal(
      (await p.app.inject({ method: 'PATCH', url, payload: { name: 'obs-renamed' } })).statusCode,
      200,
    );
    try {
      assert.ok(
        (await scrape()).includes(
          `eunha_function_info{function_name="${fn}",name="obs-renamed",workspace="${ws}"} 1`,
        ),
      );
    } finally {
      await p.app.inject({ method: 'PATCH', url, payload: { name: 'obs' } });
    }
  });

  test('an execution log names the request id its call was answered with, on both paths', async () => {
    const viaUrl = await p.app.inject({
      method: 'GET',
      url: `/fn/${fn}`,
      headers: { 'x-request-id': 'trace-fn-1' },
    });
    assert.equal(viaUrl.headers['x-request-id'], 'trace-fn-1');
    const viaInvoke = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn}/invoke`,
      payload: {},
    });
    const made = String(viaInvoke.headers['x-request-id']);
    assert.ok(made.length > 0);
    let ids: Array<string | null> = [];
    for (let i = 0; i < 100 && !(ids.includes('trace-fn-1') && ids.includes(made)); i++) {
      await new Promise((r) => setTimeout(r, 20));
      const page = await p.app.inject({
        method: 'GET',
        url: `/api/workspaces/${ws}/functions/${fn}/logs?limit=20`,
      });
      ids = page.json().logs.map((l: { requestId: string | null }) => l.requestId);
    }
    assert.ok(ids.includes('trace-fn-1'), `the function URL's call: ${ids.join(', ')}`);
    assert.ok(ids.includes(made), `the /invoke call (${made}): ${ids.join(', ')}`);
  });

  test('a one-call deploy of code that does not load counts as a failed build, not a completed one', async () => {
    const count = async (outcome: string) =>
      Number(
        new RegExp(`eunha_build_duration_seconds_count\\{outcome="${outcome}"\\} (\\d+)`).exec(
          (await p.app.inject({ method: 'GET', url: '/metrics' })).body,
        )?.[1] ?? 0,
      );
    const [completed, failed] = [await count('completed'), await count('failed')];
    const broken = (
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'broken', code: b64('def broken(:\n  pass\n') },
      })
    ).json().id;
    const res = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${broken}/deployments`,
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(await count('failed'), failed + 1);
    assert.equal(await count('completed'), completed);
  });

  test('gateway_service_count counts the functions that serve calls: not a disabled one', async () => {
    const services = async (): Promise<number> =>
      Number(
        /^gateway_service_count (\S+)$/m.exec(
          (await p.app.inject({ method: 'GET', url: '/metrics' })).body,
        )?.[1],
      );
    const patch = (status: string) =>
      p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${fn}`,
        payload: { status },
      });
    const serving = await services();
    assert.ok(serving >= 1, 'this suite has deployed functions');
    // A function never deployed serves nothing.
    const idle = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name: 'never-deployed', code: b64(CODE) },
    });
    assert.equal(idle.statusCode, 201);
    assert.equal(await services(), serving);
    assert.equal((await patch('disabled')).statusCode, 200);
    try {
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 403);
      // Before, a disabled function still counted: its deployment is active, but every call is a 403.
      assert.equal(await services(), serving - 1);
    } finally {
      assert.equal((await patch('active')).statusCode, 200);
    }
    assert.equal(await services(), serving);
    await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${idle.json().id}` });
  });

  test('calls refused before the function ran count by the status they got; made-up ids do not', async () => {
    const make = async (name: string, extra: Record<string, unknown>, deploy: boolean): Promise<string> => {
      const id = (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          payload: { name, code: b64(CODE), ...extra },
        })
      ).json().id as string;
      if (deploy) {
        const d = await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions/${id}/deployments`,
        });
        assert.equal(d.statusCode, 201, d.body);
      }
      return id;
    };
    const picky = await make('post-only', { httpMethods: ['POST'] }, true);
    const idle = await make('not-deployed', {}, false);
    const count = (body: string, id: string, code: string): number =>
      Number(
        new RegExp(
          `^gateway_function_invocation_total\\{function_name="${id}",code="${code}"\\} (\\d+)$`,
          'm',
        ).exec(body)?.[1] ?? 0,
      );
    const timed = (body: string, id: string): number =>
      Number(
        new RegExp(`^gateway_functions_seconds_count\\{function_name="${id}"\\} (\\d+)$`, 'm').exec(
          body,
        )?.[1] ?? 0,
      );

    assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${picky}` })).statusCode, 405);
    assert.equal((await p.app.inject({ method: 'DELETE', url: `/fn/${picky}/x` })).statusCode, 405);
    // Refused by the body parser, before the route's handler runs.
    const big = await p.app.inject({
      method: 'POST',
      url: `/fn/${picky}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(6 * 1024 * 1024 + 1), // EUNHA_BODY_LIMIT_BYTES, default
    });
    assert.equal(big.statusCode, 413);
    assert.equal(
      (await p.app.inject({ method: 'POST', url: `/fn/${picky}`, payload: 'ok' })).statusCode,
      200,
    );
    assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${idle}` })).statusCode, 404);
    assert.equal((await p.app.inject({ method: 'GET', url: '/fn/made-up-id' })).statusCode, 404);

    const m = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.equal(count(m, picky, '405'), 2);
    assert.equal(count(m, picky, '413'), 1);
    assert.equal(count(m, picky, '200'), 1);
    assert.equal(count(m, idle, '404'), 1);
    // Only the call that ran is timed.
    assert.equal(timed(m, picky), 1);
    assert.ok(!m.includes('made-up-id'), 'an id no function has makes no series');
    for (const id of [picky, idle]) {
      await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${id}` });
    }
  });

  test("a deleted function's series leave /metrics; the others stay", { timeout: 60_000 }, async () => {
    const other = (
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'short-lived', code: b64(CODE) },
      })
    ).json().id as string;
    const d = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${other}/deployments`,
    });
    assert.equal(d.statusCode, 201, d.body);
    assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${other}` })).statusCode, 200);
    const series = (body: string, id: string): string[] =>
      body.split('\n').filter((l) => l.includes(`function_name="${id}"`));
    const before = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.ok(series(before, other).some((l) => l.startsWith('gateway_function_invocation_total{')));
    assert.ok(series(before, other).some((l) => l.startsWith('gateway_functions_seconds_count{')));

    const del = await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${other}` });
    assert.equal(del.statusCode, 204, del.body);
    const after = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.deepEqual(series(after, other), []);
    assert.ok(series(after, fn).some((l) => l.startsWith('gateway_function_invocation_total{')));
  });

  test('the live tail streams new entries until the client leaves', { timeout: 60_000 }, async () => {
    const address = await p.app.listen({ host: '127.0.0.1', port: 0 });
    const url = new URL(`${address}/api/workspaces/${ws}/functions/${fn}/logs?follow=true&limit=1`);
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = request(url, (res) => {
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /text\/event-stream/);
        let buf = '';
        res.on('data', (chunk: Buffer) => {
          buf += chunk.toString();
          const parts = buf.split('\n\n');
          buf = parts.pop() ?? '';
          for (const part of parts) if (part.startsWith('id:')) events.push(part);
          if (events.length === 1) void p.app.inject({ method: 'GET', url: `/fn/${fn}` });
          if (events.length === 2) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (e) => (events.length >= 2 ? resolve() : reject(e)));
      req.end();
    });
    assert.match(events[0]!, /event: log/);
    const live = JSON.parse(events[1]!.split('data: ')[1]!);
    assert.equal(live.functionId, fn);
    assert.equal(live.statusCode, 200);
    // The same fields as the same entry in the JSON listing.
    await p.writer.flush();
    const listed = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs?limit=50` })
    )
      .json()
      .logs.find((l: { id: string }) => l.id === live.id);
    assert.ok(listed, 'the streamed entry is in the listing');
    assert.deepEqual(Object.keys(live).sort(), Object.keys(listed).sort());
  });
});

describe("a function's stored logs stay within EUNHA_LOG_MAX_BYTES", () => {
  let p: TestPlatform;
  after(async () => p?.cleanup());

  test(
    'a function that prints 64 KiB a call keeps its newest logs, and every call in its statistics',
    { timeout: 120_000 },
    async () => {
      const quota = 16 * 1024 * 1024;
      p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1', EUNHA_LOG_MAX_BYTES: String(quota) });
      const deploy = async (name: string, code: string): Promise<{ ws: string; fn: string }> => {
        const ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name } })).json()
          .id as string;
        const fn = (
          await p.app.inject({
            method: 'POST',
            url: `/api/workspaces/${ws}/functions`,
            payload: { name, code: b64(code), httpMethods: ['POST'] },
          })
        ).json().id as string;
        const d = await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
        });
        assert.equal(d.statusCode, 201, d.body);
        return { ws, fn };
      };
      const flood = await deploy(
        'flood',
        `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        for i in range(1100):
            print(f"{i:04} " + "x" * 59)
        return Response(200, {}, b"ok")
`,
      );
      const quiet = await deploy(
        'quiet',
        `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("hello")
        return Response(200, {}, b"ok")
`,
      );
      const invoke = async (fn: string, i: number): Promise<void> => {
        // Each call a millisecond later, so "oldest" is the order of the calls.
        p.clock.advance(1);
        const res = await p.app.inject({ method: 'POST', url: `/fn/${fn}`, payload: { i } });
        assert.equal(res.statusCode, 200, res.body);
      };
      for (let i = 0; i < 3; i++) await invoke(quiet.fn, i);
      // ~64 KiB of kept lines a call: 320 calls are ~21 MB of logs, over the 16 MiB quota.
      const calls = 320;
      for (let i = 0; i < calls; i++) await invoke(flood.fn, i);
      await p.writer.flush();

      const logsOf = async (w: { ws: string; fn: string }) =>
        (
          await p.app.inject({ method: 'GET', url: `/api/workspaces/${w.ws}/functions/${w.fn}/logs?limit=1` })
        ).json() as { logs: Array<{ requestBody: { i: number } }>; total: number };
      const page = await logsOf(flood);
      assert.ok(page.total > 200 && page.total < calls, `${page.total} of ${calls} logs kept`);
      assert.equal(page.logs[0]?.requestBody.i, calls - 1, 'the newest is kept');
      const view = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${flood.ws}/functions/${flood.fn}` })
      ).json();
      assert.equal(view.invocations24h, calls, 'the statistics count every call');
      assert.equal((await logsOf(quiet)).total, 3, 'another tenant keeps its logs');
    },
  );
});

describe('a call in the logs and metrics: stamped when it ended, timed only if it ran', () => {
  const NAP = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        if request.uri.endswith("/slow"):
            time.sleep(3)
        print(request.uri)
        return Response(200, {}, b"ok")
`;
  let p: TestPlatform;
  let ws: string;
  const deployed = async (name: string, maxInstances: number): Promise<string> => {
    const id = (
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name, code: b64(NAP), maxInstances },
      })
    ).json().id as string;
    const d = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${id}/deployments`,
    });
    assert.equal(d.statusCode, 201, d.body);
    return id;
  };
  before(async () => {
    p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'ended' } })).json()
      .id;
  });
  after(async () => p?.cleanup());

  test(
    'a slow call is stamped when it ended, so it is not stored behind a page already read',
    { timeout: 90_000 },
    async () => {
      const fn = await deployed('stamps', 2);
      const logsUrl = `/api/workspaces/${ws}/functions/${fn}/logs`;
      const slow = p.app.inject({ method: 'GET', url: `/fn/${fn}/slow` });
      await new Promise((r) => setTimeout(r, 200));
      for (const name of ['f1', 'f2']) {
        p.clock.advance(1000);
        assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn}/${name}` })).statusCode, 200);
      }
      await p.writer.flush();
      const page1 = (await p.app.inject({ method: 'GET', url: `${logsUrl}?limit=2` })).json();
      const uris = (page: { logs: Array<{ logs: string[] }> }) =>
        page.logs.map((l) => l.logs[0]!.split('/').pop());
      // Nothing older: a reader walking back is done.
      assert.deepEqual(uris(page1), ['f2', 'f1']);
      assert.equal(page1.next, null);
      p.clock.advance(1000);
      assert.equal((await slow).statusCode, 200);
      await p.writer.flush();
      // Keyed by its start, the slow call went behind page 1, where a reader who had read it (or
      // polled `since` its newest) never looked again. Now it is ahead of it, as the newest.
      const all = (await p.app.inject({ method: 'GET', url: `${logsUrl}?limit=10` })).json();
      assert.deepEqual(uris(all), ['slow', 'f2', 'f1']);
      const since = (
        await p.app.inject({
          method: 'GET',
          url: `${logsUrl}?since=${encodeURIComponent(page1.logs[0].timestamp)}`,
        })
      ).json();
      assert.ok(uris(since).includes('slow'), JSON.stringify(uris(since)));
    },
  );

  test(
    'a call whose caller left before it started counts as a call, not in the duration histogram',
    { timeout: 90_000 },
    async () => {
      const fn = await deployed('one-at-a-time', 1);
      const address = await p.app.listen({ host: '127.0.0.1', port: 0 });
      const slow = fetch(`${address}/fn/${fn}/slow`);
      await new Promise((r) => setTimeout(r, 300));
      // Waits in line behind the slow call; its caller leaves before it gets the instance.
      await new Promise<void>((resolve) => {
        const req = request(`${address}/fn/${fn}/left`);
        req.on('error', () => resolve());
        req.end();
        setTimeout(() => req.destroy(), 500);
      });
      assert.equal((await slow).status, 200);
      await p.writer.flush();
      const metrics = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
      const line = (re: RegExp): string => metrics.split('\n').find((l) => re.test(l)) ?? 'none';
      assert.match(
        line(new RegExp(`^gateway_function_invocation_total\\{function_name="${fn}",code="499"\\}`)),
        / 1$/,
      );
      assert.match(line(new RegExp(`^gateway_functions_seconds_count\\{function_name="${fn}"\\}`)), / 1$/);
      const logs = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs` })
      ).json();
      assert.deepEqual(logs.logs.map((l: { statusCode: number }) => l.statusCode).sort(), [200, 499]);
    },
  );
});
