// GET /health (liveness) and GET /ready (readiness) say what is true: a metadata store that
// cannot answer is a 503 on both (it was a 200 "healthy"), and readiness holds its checks.
// Readiness with deployments that could not be restored: test/pipeline/restore.test.ts.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EunhaError } from '../../src/core/errors.js';
import { Probes } from '../../src/observability/probes.js';
import { startLoggedPlatform, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('probes', () => {
  let p: TestPlatform;
  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => p.cleanup());

  test('a server that can read its store is healthy and ready', async () => {
    const health = await p.app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'healthy' }, 'the seed shape, nothing more');
    const ready = await p.app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), {
      status: 'ready',
      checks: { store: { ok: true }, deployments: { ok: true, unrestored: 0, retrying: 0, restoring: 0 } },
    });
  });

  test('both are in the OpenAPI document, public, with their 503', async () => {
    const doc = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of ['/health', '/ready']) {
      const op = doc.paths[path]?.get;
      assert.ok(op, `${path} is documented`);
      assert.deepEqual(op.security, []);
      assert.ok(op.responses['200'] && op.responses['503'], `${path}: 200 and 503`);
      assert.equal(op.responses['429'], undefined, `${path} is not rate limited`);
    }
  });

  test('a store that cannot answer: /health and /ready are 503, not 200 (nor 500)', async () => {
    const q = await startTestPlatform();
    try {
      await q.meta.close();
      const health = await q.app.inject({ method: 'GET', url: '/health' });
      assert.equal(health.statusCode, 503, health.body);
      const h = health.json().error;
      assert.equal(h.code, 'DEPENDENCY_UNAVAILABLE');
      assert.match(h.message, /metadata store cannot answer/);
      assert.equal(h.details.checks.store.ok, false);

      const ready = await q.app.inject({ method: 'GET', url: '/ready' });
      assert.equal(ready.statusCode, 503, ready.body);
      const r = ready.json().error;
      assert.equal(r.code, 'NOT_READY');
      assert.match(r.message, /metadata store cannot answer/);
      assert.equal(r.details.checks.store.ok, false);
      assert.match(r.details.checks.store.error, /closed/);
      assert.deepEqual(r.details.checks.deployments, { ok: true, unrestored: 0, retrying: 0, restoring: 0 });
    } finally {
      await q.cleanup();
    }
  });

  test('a failure the store does not name is reported, and its text stays in the server log', async () => {
    const heard: unknown[] = [];
    const probes = new Probes({
      meta: {
        getWorkspace: () => Promise.reject(new TypeError('secret internals at /srv/x')),
      },
      unrestored: () => ({ unrestored: 3, retrying: 2, restoring: 0 }),
      onUnexpected: (err) => heard.push(err),
    });
    await assert.rejects(probes.live(), (e: EunhaError) => {
      assert.equal(e.code, 'DEPENDENCY_UNAVAILABLE');
      assert.doesNotMatch(e.message, /secret internals/);
      return true;
    });
    await assert.rejects(probes.ready(), (e: EunhaError) => {
      assert.equal(e.code, 'NOT_READY');
      assert.deepEqual(e.details.checks, {
        store: { ok: false, error: 'an unexpected error (see the server log)' },
        deployments: { ok: false, unrestored: 3, retrying: 2, restoring: 0 },
      });
      assert.match(e.message, /2 functions could not be loaded at start-up and are being tried again/);
      return true;
    });
    assert.equal(heard.length, 2);
  });
});

test('probes and scrapes write no access-log lines; other routes do', async () => {
  // Called every few seconds by machines, their two lines each buried what people did.
  const { p, logged, cleanup } = await startLoggedPlatform({ EUNHA_WARM_POOL_SIZE: '0' }, 'info');
  try {
    for (const url of ['/health', '/ready', '/metrics', '/health?verbose=1']) {
      assert.equal((await p.app.inject({ method: 'GET', url })).statusCode, 200, url);
    }
    assert.doesNotMatch(logged(), /"url":"\/(health|ready|metrics)/);
    assert.equal((await p.app.inject({ method: 'GET', url: '/api/workspaces' })).statusCode, 200);
    assert.match(logged(), /"url":"\/api\/workspaces"/);
  } finally {
    await cleanup();
  }
});
