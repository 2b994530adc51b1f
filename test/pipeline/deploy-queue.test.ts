// One-call deploys and the build queue: a deploy waiting for its function's turn holds a place
// among its workspace's waiting builds (40 deploys of one function once all waited, uncounted, and
// each rebuilt the same code), and a shutdown answers the deploys still waiting at once (503
// SHUTTING_DOWN) instead of starting builds for them until its grace period ran out.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_WAITING_PER_WORKSPACE } from '../../src/build/service.js';
import { multipart } from '../build/harness.js';
import { slowImportHandler } from '../helpers/samples.js';
import { b64, SAMPLE_HANDLER, startTestPlatform } from '../helpers/platform.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'deploys waiting for their turn count among the workspace’s waiting builds, and a shutdown answers them at once',
  {
    timeout: 120_000,
  },
  async () => {
    const p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' });
    let closed = false;
    try {
      const base = await p.listen('127.0.0.1', 0);
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${base}${path}`, {
          method,
          ...(body === undefined
            ? {}
            : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
        });
        return { status: res.status, json: (await res.json()) as { error?: { code: string }; id?: string } };
      };
      const ws = (await call('POST', '/api/workspaces', { name: 'queue' })).json.id!;
      const fn = (
        await call('POST', `/api/workspaces/${ws}/functions`, { name: 'f', code: b64(SAMPLE_HANDLER) })
      ).json.id!;
      const build = (data: string) => {
        const form = multipart({ workspace_id: ws, registry_url: 'local' }, { filename: 'app.py', data });
        return p.app.inject({ method: 'POST', url: '/api/v1/build-and-push', ...form });
      };
      // One build holds the workspace's slot in its check (module code that sleeps 4 s), and the
      // workspace's other places but one fill up behind it.
      assert.equal((await build(slowImportHandler(4))).statusCode, 202);
      for (let i = 1; i < MAX_WAITING_PER_WORKSPACE; i++)
        assert.equal((await build(SAMPLE_HANDLER)).statusCode, 202);
      const deploy = () => call('POST', `/api/workspaces/${ws}/functions/${fn}/deployments`);
      // The last place.
      const waiting = deploy();
      await sleep(300);
      for (let i = 0; i < 2; i++) {
        // Behind the first in its function's line: refused, not held uncounted.
        const next = await Promise.race([deploy(), sleep(3_000).then(() => 'still waiting' as const)]);
        assert.notEqual(next, 'still waiting');
        if (next !== 'still waiting') {
          assert.equal(next.status, 429);
          assert.equal(next.json.error?.code, 'RATE_LIMITED');
        }
      }
      const t0 = Date.now();
      const closing = p.cleanup();
      closed = true;
      const answered = await waiting;
      const ms = Date.now() - t0;
      assert.equal(answered.status, 503);
      assert.equal(answered.json.error?.code, 'SHUTTING_DOWN');
      // Answered as the stop began; it used to wait while builds went on starting.
      assert.ok(ms < 2_000, `the waiting deploy was answered ${ms} ms into the stop`);
      await closing;
    } finally {
      if (!closed) await p.cleanup();
    }
  },
);
