// The rate limit charges an answer's size: a key that reads large pages of logs is limited after
// far fewer requests than the request count allows (a review's key, within 600 a minute, read
// 121 4-MB pages in 10 s and stalled every tenant's calls), while as many small requests are
// not; a live tail's stream costs its one request, however much it sends.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { answerTokens, RateLimiter } from '../../src/auth/rate-limit.js';
import type { ExecutionLog } from '../../src/core/types.js';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { ADMIN_KEY, bearer } from './world.js';

const KIB = 1024;

describe('answers charged by size', () => {
  test('one token per 64 KiB of answer on top of the request; a debt makes the next request wait', () => {
    assert.equal(answerTokens(0), 0);
    assert.equal(answerTokens(64 * KIB - 1), 0, 'a cheap answer costs its request alone');
    assert.equal(answerTokens(64 * KIB), 1);
    assert.equal(answerTokens(4 * KIB * KIB), 64);
    let now = 0;
    const rl = new RateLimiter(60, () => now); // one token a second
    assert.deepEqual(rl.take('k'), { ok: true });
    rl.charge('k', 64); // 59 - 64: five in debt
    assert.deepEqual(rl.take('k'), { ok: false, retryAfterSeconds: 6 });
    now += 6_000;
    assert.deepEqual(rl.take('k'), { ok: true });
    rl.charge('k', 10_000);
    assert.deepEqual(rl.take('k'), { ok: false, retryAfterSeconds: 61 }, 'the debt stops at a full bucket');
    rl.charge('other', 0);
    assert.equal((rl as unknown as { buckets: Map<string, unknown> }).buckets.has('other'), false);
    const off = new RateLimiter(0, () => now);
    off.charge('k', 1_000);
    assert.deepEqual(off.take('k'), { ok: true }, '0 = no limit');
  });

  describe('on the control plane', () => {
    const PER_MINUTE = 60;
    let p: TestPlatform;
    const admin = bearer(ADMIN_KEY);
    let n = 0;
    // ~64 KiB of printed output: a token of answer each.
    const big = (ws: string, fn: string): ExecutionLog => ({
      id: `log-${String(++n).padStart(5, '0')}`,
      functionId: fn,
      workspaceId: ws,
      timestamp: new Date(p.clock.now.getTime() - n * 1000).toISOString(),
      status: 'success',
      duration: 1,
      statusCode: 200,
      requestBody: null,
      responseBody: null,
      logs: Array.from({ length: 64 }, (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(KIB)}`),
      level: 'info',
      coldStart: false,
      deploymentVersion: 1,
      cpuMs: 1,
    });
    const workspace = async (name: string, logs: number) => {
      const ws = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', headers: admin, payload: { name } })
      ).json().id as string;
      const key = async () =>
        (
          await p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/keys`, headers: admin })
        ).json() as {
          id: string;
          key: string;
        };
      const fn = (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          headers: admin,
          payload: { name: 'chatty', code: b64('x = 1\n') },
        })
      ).json().id as string;
      await p.meta.appendLogs(Array.from({ length: logs }, () => big(ws, fn)));
      return { ws, fn, key };
    };

    before(async () => {
      p = await startTestPlatform({
        EUNHA_ADMIN_KEY: ADMIN_KEY,
        EUNHA_RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
      });
    });
    after(async () => p?.cleanup());

    test('large pages spend the budget in a few requests; as many small ones do not', async () => {
      const reader = await workspace('reader', 16);
      const key = (await reader.key()).key;
      const url = `/api/workspaces/${reader.ws}/logs?limit=1000`;
      let served = 0;
      let limited;
      for (let i = 0; i < PER_MINUTE; i++) {
        const res = await p.app.inject({ method: 'GET', url, headers: bearer(key) });
        if (res.statusCode === 429) {
          limited = res;
          break;
        }
        assert.equal(res.statusCode, 200, res.body);
        assert.ok(res.rawPayload.length > 16 * 64 * KIB, 'a page of ~1 MiB');
        served++;
      }
      // 60 tokens, 17 a page (one, and 16 for ~1 MiB): the fifth page waits.
      assert.ok(limited, `a key reading ~1-MiB pages got ${served} of them, the request count's limit`);
      assert.ok(served <= 5, `${served} pages before the limit`);
      assert.equal(limited.json().error.code, 'RATE_LIMITED');
      assert.ok(Number(limited.headers['retry-after']) >= 1);

      // Another workspace's key makes more requests than that, each answered with a small page.
      const quiet = await workspace('quiet', 16);
      const quietKey = (await quiet.key()).key;
      for (let i = 0; i < served + 10; i++) {
        const res = await p.app.inject({
          method: 'GET',
          url: `/api/workspaces/${quiet.ws}/logs?limit=1`,
          headers: bearer(quietKey),
        });
        assert.equal(res.statusCode, 200, `small request ${i + 1}: ${res.body}`);
      }
    });

    test('a live tail costs its one request, whatever its stream sends', { timeout: 30_000 }, async () => {
      // ~3 MiB of backlog: 48 tokens if it were charged as an answer.
      const w = await workspace('tailer', 48);
      const tailing = await w.key();
      const other = (await w.key()).key; // same workspace, same bucket
      const tail = await p.app.inject({
        method: 'GET',
        url: `/api/workspaces/${w.ws}/functions/${w.fn}/logs?follow=true`,
        headers: bearer(tailing.key),
        payloadAsStream: true,
      });
      assert.equal(tail.statusCode, 200);
      let body = '';
      const ended = (async () => {
        for await (const chunk of tail.stream()) body += String(chunk);
      })();
      while (body.split('event: log\n').length - 1 < 48) await new Promise((r) => setTimeout(r, 10));
      // Revoking the key ends the stream (within the tail's one-second check), so the answer ends.
      const revoked = await p.app.inject({
        method: 'DELETE',
        url: `/api/workspaces/${w.ws}/keys/${tailing.id}`,
        headers: admin,
      });
      assert.equal(revoked.statusCode, 204);
      await ended;
      assert.equal(body.split('event: log\n').length - 1, 48, 'the whole backlog was sent');
      assert.ok(body.includes('event: unauthorized'));
      // 60 - 1 for the tail: 30 more requests fit (with the backlog charged, 11 would have).
      for (let i = 0; i < 30; i++) {
        const res = await p.app.inject({
          method: 'GET',
          url: `/api/workspaces/${w.ws}`,
          headers: bearer(other),
        });
        assert.equal(res.statusCode, 200, `request ${i + 1} after the tail: ${res.body}`);
      }
    });
  });
});
