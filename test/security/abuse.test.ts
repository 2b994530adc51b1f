// Abuse: per-workspace rate limits on the control plane (429 + Retry-After), capped API keys, a body cap on every route of
// the table (413, nothing stored), and deadlines for slow clients on a real socket (slowloris).

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { MAX_KEYS_PER_WORKSPACE } from '../../src/auth/api-keys.js';
import { RateLimiter } from '../../src/auth/rate-limit.js';
import { multipart } from '../build/harness.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { ADMIN_KEY, bearer, fillPath, startWorld, type World } from './world.js';

describe('rate limits', () => {
  test('a token bucket: a burst of perMinute, then one per 60/perMinute s, with a Retry-After', () => {
    let now = 0;
    const rl = new RateLimiter(6, () => now);
    for (let i = 0; i < 6; i++) assert.deepEqual(rl.take('k'), { ok: true });
    assert.deepEqual(rl.take('k'), { ok: false, retryAfterSeconds: 10 });
    assert.deepEqual(rl.take('other'), { ok: true }, 'buckets are per key');
    now += 10_000;
    assert.deepEqual(rl.take('k'), { ok: true });
    assert.equal(rl.take('k').ok, false);
    assert.deepEqual(new RateLimiter(0, () => now).take('k'), { ok: true }, '0 = no limit');
  });

  test('forgets idle buckets when the table grows', () => {
    let now = 0;
    const rl = new RateLimiter(10, () => now, 100);
    for (let i = 0; i < 1000; i++) rl.take(`ip:${i}`);
    now += 60_000;
    rl.take('fresh');
    assert.ok((rl as unknown as { buckets: Map<string, unknown> }).buckets.size <= 101);
  });

  describe('on the control plane', () => {
    let p: TestPlatform;
    before(async () => {
      p = await startTestPlatform({ EUNHA_ADMIN_KEY: ADMIN_KEY, EUNHA_RATE_LIMIT_PER_MINUTE: '5' });
    });
    after(async () => p?.cleanup());

    test('per workspace: the sixth request in a minute answers 429 RATE_LIMITED with Retry-After', async () => {
      const admin = bearer(ADMIN_KEY);
      const ws = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', headers: admin, payload: { name: 'r' } })
      ).json().id;
      const key = (
        await p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/keys`, headers: admin })
      ).json().key as string;
      for (let i = 0; i < 5; i++) {
        assert.equal(
          (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}`, headers: bearer(key) }))
            .statusCode,
          200,
        );
      }
      const limited = await p.app.inject({
        method: 'GET',
        url: `/api/workspaces/${ws}`,
        headers: bearer(key),
      });
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.code, 'RATE_LIMITED');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      // Another key of the same workspace shares its bucket: more keys are not more requests.
      const second = (
        await p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/keys`, headers: admin })
      ).json().key as string;
      assert.equal(
        (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}`, headers: bearer(second) }))
          .statusCode,
        429,
      );
      // The admin's bucket is its own.
      assert.equal(
        (await p.app.inject({ method: 'GET', url: '/api/workspaces', headers: admin })).statusCode,
        200,
      );
      // Anonymous callers and failed attempts share their address's bucket.
      let last = 0;
      for (let i = 0; i < 7; i++)
        last = (
          await p.app.inject({
            method: 'GET',
            url: '/api/workspaces',
            headers: { authorization: 'Bearer wrong' },
          })
        ).statusCode;
      assert.equal(last, 429);
      assert.equal(
        (await p.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode,
        429,
        'public routes count per address too',
      );
      // Except health probes, which a load balancer sends from an address others may share.
      assert.equal((await p.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
      assert.equal((await p.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
    });
  });

  test('anonymous buckets are per client behind a trusted proxy, and per socket peer otherwise', async () => {
    const anonymous = async (p: TestPlatform, client: string): Promise<number> =>
      (
        await p.app.inject({
          method: 'GET',
          // A small answer: a large one (openapi.json) also spends its size (answer-cost.test.ts).
          url: '/',
          remoteAddress: '10.0.0.7',
          headers: { 'x-forwarded-for': client },
        })
      ).statusCode;
    const env = { EUNHA_ADMIN_KEY: ADMIN_KEY, EUNHA_RATE_LIMIT_PER_MINUTE: '2' };
    const behind = await startTestPlatform({ ...env, EUNHA_TRUSTED_PROXIES: '["10.0.0.0/24"]' });
    const direct = await startTestPlatform(env);
    try {
      for (const p of [behind, direct]) {
        assert.equal(await anonymous(p, '203.0.113.1'), 200);
        assert.equal(await anonymous(p, '203.0.113.1'), 200);
        assert.equal(await anonymous(p, '203.0.113.1'), 429);
      }
      // Through the trusted proxy another client has its own bucket; without it, the header is a
      // claim anyone can make, so the proxy's address is the bucket.
      assert.equal(await anonymous(behind, '203.0.113.2'), 200);
      assert.equal(await anonymous(direct, '203.0.113.2'), 429);
    } finally {
      await behind.cleanup();
      await direct.cleanup();
    }
  });
});

describe('API keys per workspace', () => {
  test('are capped: one more is a 409 until one is revoked', { timeout: 60_000 }, async () => {
    const p = await startTestPlatform({ EUNHA_ADMIN_KEY: ADMIN_KEY, EUNHA_RATE_LIMIT_PER_MINUTE: '0' });
    try {
      const admin = bearer(ADMIN_KEY);
      const ws = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', headers: admin, payload: { name: 'k' } })
      ).json().id;
      const make = () => p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/keys`, headers: admin });
      let first = '';
      for (let i = 0; i < MAX_KEYS_PER_WORKSPACE; i++) {
        const res = await make();
        assert.equal(res.statusCode, 201, res.body);
        first ||= res.json().id;
      }
      const over = await make();
      assert.equal(over.statusCode, 409);
      assert.equal(over.json().error.details.limit, MAX_KEYS_PER_WORKSPACE);
      const revoke = await p.app.inject({
        method: 'DELETE',
        url: `/api/workspaces/${ws}/keys/${first}`,
        headers: admin,
      });
      assert.equal(revoke.statusCode, 204);
      assert.equal((await make()).statusCode, 201);
    } finally {
      await p.cleanup();
    }
  });
});

describe('request-size caps on every route', () => {
  let w: World;
  before(async () => {
    w = await startWorld({ EUNHA_BODY_LIMIT_BYTES: '4096', EUNHA_MAX_SOURCE_BYTES: '4096' });
  });
  after(async () => w?.close());

  test('an oversized body is refused (413) on every route that takes one, and nothing is stored', async () => {
    const big = JSON.stringify({ name: 'x', pad: 'y'.repeat(8192) });
    const before = await w.p.meta.dumpKeys();
    let refused = 0;
    for (const r of w.p.app.routeTable) {
      if (r.method === 'GET' || r.method === 'HEAD' || r.method === 'OPTIONS') continue;
      if (r.url.startsWith('/docs') || r.url === '*') continue;
      const url = fillPath(r.url, w.a);
      const opts: InjectOptions = {
        method: r.method as InjectOptions['method'],
        url,
        headers: { ...w.admin, 'content-type': 'application/json' },
        payload: big,
      };
      const res = await w.p.app.inject(opts);
      assert.ok(
        [413, 404, 405].includes(res.statusCode),
        `${r.method} ${r.url}: ${res.statusCode} ${res.body.slice(0, 200)}`,
      );
      if (res.statusCode === 413) refused++;
      if (r.url === '/api/v1/build' || r.url === '/api/v1/build-and-push') {
        const fields: Record<string, string> = r.url.endsWith('push')
          ? { workspace_id: w.a.ws, registry_url: 'local' }
          : { workspace_id: w.a.ws };
        const form = multipart(fields, { filename: 'app.py', data: 'x = 1\n'.repeat(2000) });
        const up = await w.p.app.inject({
          method: 'POST',
          url,
          headers: { ...w.admin, ...form.headers },
          payload: form.payload,
        });
        assert.equal(up.statusCode, 413, `${r.url} multipart: ${up.body}`);
      }
    }
    assert.ok(refused >= 15, `only ${refused} routes refused the body`);
    // The function ingress has the same cap.
    const fnRes = await w.p.app.inject({
      method: 'POST',
      url: `/fn/${w.a.fn}`,
      payload: Buffer.alloc(8192, 1),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(fnRes.statusCode, 413);
    assert.deepEqual(await w.p.meta.dumpKeys(), before);
  });
});

describe('slow clients', () => {
  let p: TestPlatform;
  let port = 0;
  before(async () => {
    p = await startTestPlatform({ EUNHA_HEADERS_TIMEOUT_MS: '1000', EUNHA_REQUEST_TIMEOUT_MS: '2000' });
    await p.listen('127.0.0.1', 0);
    const addr = p.app.server.address();
    port = typeof addr === 'object' && addr ? addr.port : 0;
  });
  after(async () => p?.cleanup());

  /** Sends `head` then drips `drip` one byte every `everyMs`; resolves when the server closes the socket. */
  function drip(
    head: string,
    drip: string,
    everyMs: number,
  ): Promise<{ closedAfterMs: number; sentAll: boolean; answer: string }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const socket: Socket = connect(port, '127.0.0.1');
      let answer = '';
      let i = 0;
      let timer: NodeJS.Timeout | undefined;
      socket.on('data', (d) => (answer += d.toString()));
      socket.on('error', () => undefined);
      socket.on('connect', () => {
        socket.write(head);
        timer = setInterval(() => {
          if (i >= drip.length) return;
          if (!socket.destroyed && socket.writable) socket.write(drip[i++]!);
        }, everyMs);
      });
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ closedAfterMs: Date.now() - started, sentAll: i >= drip.length, answer });
      });
      setTimeout(() => {
        clearInterval(timer);
        socket.destroy();
        reject(new Error('the server kept a slow client open for 15 s'));
      }, 15_000).unref();
    });
  }

  test(
    'headers sent byte by byte: the server closes the socket at the header deadline',
    { timeout: 20_000 },
    async () => {
      const r = await drip(
        'GET /health HTTP/1.1\r\nHost: x\r\n',
        'X-Slow: ' + 'a'.repeat(200) + '\r\n\r\n',
        100,
      );
      assert.ok(!r.sentAll, 'the client finished before being cut off');
      // The deadline is 1 s, checked every tenth of it (it was every 1 s: up to 2 s in all).
      assert.equal(
        (p.app.server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval,
        100,
      );
      assert.ok(r.closedAfterMs >= 900 && r.closedAfterMs < 5_000, `closed after ${r.closedAfterMs} ms`);
      assert.doesNotMatch(r.answer, /"healthy"/);
    },
  );

  test(
    'a body sent byte by byte: the server closes the socket at the request deadline',
    { timeout: 20_000 },
    async () => {
      const body = JSON.stringify({ name: 'x'.repeat(200) });
      const r = await drip(
        `POST /api/workspaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
        body,
        100,
      );
      assert.ok(!r.sentAll);
      assert.ok(r.closedAfterMs < 6_000, `closed after ${r.closedAfterMs} ms`);
      assert.equal((await p.meta.listWorkspaces()).length, 0, 'the slow request must not have been served');
    },
  );

  test('a normal client is unaffected', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(res.status, 200);
  });
});
