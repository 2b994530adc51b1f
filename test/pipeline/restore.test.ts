// A restart restores every active deployment (functions answer without a redeploy), and no
// execution log is lost on a graceful shutdown.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { EunhaError } from '../../src/core/errors.js';
import { overriding } from '../helpers/blob-overrides.js';
import { slowImportHandler } from '../helpers/samples.js';
import {
  b64,
  deployedFunction,
  SAMPLE_HANDLER,
  startTestPlatform,
  type TestPlatform,
} from '../helpers/platform.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read back from the API
type Json = any;

/** Runs `body` with a data directory of its own, removed afterwards. */
async function inOwnDir(prefix: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Deploys the sample in a data directory of its own, then starts that directory again with a
 * blob store that fails a read of the artifact's manifest, as an unreachable S3 answers, while
 * `fails(n)` says so (n: the read's number, from 1), and runs `body` on that second start.
 */
async function restartWithArtifactReads(
  prefix: string,
  fails: (read: number) => boolean,
  body: (b: TestPlatform, ids: { ws: string; fn: string }, reads: () => number) => Promise<void>,
): Promise<void> {
  await inOwnDir(prefix, async (own) => {
    const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
    const { ws, fn, digest } = await deployedFunction(a, { code: b64(SAMPLE_HANDLER) });
    await a.cleanup();
    let reads = 0;
    const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own, {
      wrapBlobs: (stored) =>
        overriding(stored, {
          get: async (key) => {
            if (key === `artifacts/${ws}/${digest}/manifest.json` && fails(++reads)) {
              throw new EunhaError(
                'DEPENDENCY_UNAVAILABLE',
                'blob store (S3): could not read (TimeoutError)',
              );
            }
            return stored.get(key);
          },
        }),
    });
    try {
      await body(b, { ws, fn }, () => reads);
    } finally {
      await b.cleanup();
    }
  });
}

describe('restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-restore-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test(
    'a deployment whose secrets another key sealed fails for good, and the server stays ready',
    { timeout: 120_000 },
    async () => {
      // The key cannot change while the server runs: retrying kept /ready at 503 for every tenant,
      // forever, after an operator set EUNHA_SECRETS_KEY over a generated key (a review).
      await inOwnDir('eunha-restore-key-', async (own) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        const { fn } = await deployedFunction(a, {
          code: b64(SAMPLE_HANDLER),
          secretEnvironmentVariables: { API_TOKEN: 'sekrit-value' },
        });
        await a.cleanup();
        const other = randomBytes(32).toString('base64');
        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1', EUNHA_SECRETS_KEY: other }, own);
        try {
          const ready = await b.app.inject({ method: 'GET', url: '/ready' });
          assert.equal(ready.statusCode, 200, ready.body);
          assert.deepEqual(ready.json().checks.deployments, {
            ok: true,
            unrestored: 1,
            retrying: 0,
            restoring: 0,
          });
          const call = await b.app.inject({ method: 'GET', url: `/fn/${fn}` });
          assert.equal(call.statusCode, 503, call.body);
          assert.equal(call.json().error.code, 'DEPENDENCY_UNAVAILABLE');
          // The operator's to mend, and said so: it told the owner to deploy again, which fails too.
          assert.match(call.json().error.message, /sealed with another secrets key.*EUNHA_SECRETS_KEY/);
          assert.doesNotMatch(call.json().error.message, /owner must deploy/);
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test('active deployments come back and every invocation is logged', { timeout: 120_000 }, async () => {
    const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, dir);
    const ws = (await a.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'r' } })).json()
      .id;
    const fn = (
      await a.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'r', code: b64(SAMPLE_HANDLER) },
      })
    ).json().id;
    assert.equal(
      (await a.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/functions/${fn}/deployments` }))
        .statusCode,
      201,
    );
    const calls = await Promise.all(
      Array.from({ length: 25 }, () => a.app.inject({ method: 'GET', url: `/fn/${fn}` })),
    );
    assert.ok(calls.every((c) => c.statusCode === 200));
    await a.cleanup(); // graceful: flushes the batched logs

    const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, dir);
    try {
      const res = await b.app.inject({ method: 'GET', url: `/fn/${fn}` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.body, 'Hello from Blue FaaS!');
      const logs = (
        await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs?limit=1000` })
      ).json();
      assert.equal(logs.total, 25);
    } finally {
      await b.cleanup();
    }
  });

  test(
    'a request still running near the end of the shutdown grace period is answered 503 and logged',
    { timeout: 120_000 },
    async () => {
      await inOwnDir('eunha-restore-cut-', async (own) => {
        // A grace of 6 s: running requests are ended at 3 s, which leaves the rest of the stop the
        // full 3 s margin. With 1.5 s (0.75 s left) it overran once beside the runtime suite: under
        // load the runtime's own stop takes ~3 s (a killed sandbox's process goes after 2 s).
        const a = await startTestPlatform(
          { EUNHA_WARM_POOL_SIZE: '1', EUNHA_SHUTDOWN_GRACE_MS: '6000' },
          own,
        );
        const sleepy = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("started")
        time.sleep(30)
        return Response(200, {}, b"too late")
`;
        const { ws, fn } = await deployedFunction(a, { code: b64(sleepy), timeout: 60 });
        const address = await a.listen('127.0.0.1', 0);
        const answer = fetch(`${address}/fn/${fn}`).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { error: { code: string } },
        }));
        // Running: its instance is busy.
        while (Object.values(a.runtime.stats().versions).every((v) => v.busy === 0))
          await new Promise((r) => setTimeout(r, 20));
        const stopping = Date.now();
        await a.cleanup();
        const stopMs = Date.now() - stopping;
        const got = await answer;
        assert.equal(got.status, 503);
        assert.equal(got.body.error.code, 'SHUTTING_DOWN');
        assert.ok(stopMs < 6_000, `the stop took ${stopMs} ms, past its grace`);

        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          const logs = (
            await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs` })
          ).json();
          assert.equal(logs.total, 1);
          const [log] = logs.logs;
          assert.equal(log.statusCode, 503);
          assert.equal(log.status, 'error');
          assert.equal(log.responseBody.error.code, 'SHUTTING_DOWN');
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test(
    'requests still waiting for an instance at the end of the grace period are refused 503 and logged, through either door',
    { timeout: 120_000 },
    async () => {
      await inOwnDir('eunha-restore-queued-', async (own) => {
        // Pipelining off: the waiting requests must wait in the version's line, not in the busy
        // instance's channel.
        const a = await startTestPlatform(
          { EUNHA_WARM_POOL_SIZE: '1', EUNHA_SHUTDOWN_GRACE_MS: '6000', EUNHA_PIPELINE_DEPTH: '0' },
          own,
        );
        const sleepy = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        time.sleep(30)
        return Response(200, {}, b"too late")
`;
        const { ws, fn } = await deployedFunction(a, {
          code: b64(sleepy),
          timeout: 60,
          maxInstances: 1,
          httpMethods: ['GET', 'POST'],
        });
        const address = await a.listen('127.0.0.1', 0);
        const answer = (r: Response) =>
          r.json().then((body) => ({ status: r.status, body: body as { error: Json } }));
        const running = fetch(`${address}/fn/${fn}`).then(answer);
        while (Object.values(a.runtime.stats().versions).every((v) => v.busy === 0))
          await new Promise((r) => setTimeout(r, 20));
        const waitingFn = fetch(`${address}/fn/${fn}/queued`).then(answer);
        const waitingInvoke = fetch(`${address}/api/workspaces/${ws}/functions/${fn}/invoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"waiting":true}',
        }).then(answer);
        while (a.runtime.stats().queueDepth < 2) await new Promise((r) => setTimeout(r, 20));
        await a.cleanup();
        const got = await Promise.all([running, waitingFn, waitingInvoke]);
        for (const g of got) {
          assert.equal(g.status, 503);
          assert.equal(g.body.error.code, 'SHUTTING_DOWN');
        }
        // Each refusal names the log it wrote, as any failed call does.
        const [, queuedFn, queuedInvoke] = got;
        assert.equal(typeof queuedFn!.body.error.details.logId, 'string');
        assert.equal(typeof queuedInvoke!.body.error.details.logId, 'string');

        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          const logs = (
            await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs` })
          ).json();
          // Before, only the running request was logged: the two that waited left no trace.
          assert.equal(logs.total, 3);
          for (const log of logs.logs) {
            assert.equal(log.statusCode, 503);
            assert.equal(log.status, 'error');
            assert.equal(log.responseBody.error.code, 'SHUTTING_DOWN');
          }
          const ids = new Set(logs.logs.map((l: Json) => l.id));
          assert.ok(ids.has(queuedFn!.body.error.details.logId));
          assert.ok(ids.has(queuedInvoke!.body.error.details.logId));
          assert.ok(
            logs.logs.some((l: Json) => isDeepStrictEqual(l.requestBody, { waiting: true })),
            'the /invoke body is in its log',
          );
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test(
    'a call whose caller hung up before a graceful stop is still logged',
    { timeout: 120_000 },
    async () => {
      await inOwnDir('eunha-restore-gone-caller-', async (own) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        const slow = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        time.sleep(1.5)
        return Response(200, {}, b"done")
`;
        const { ws, fn } = await deployedFunction(a, { code: b64(slow) });
        const address = await a.listen('127.0.0.1', 0);
        const calls = Array.from({ length: 3 }, () =>
          fetch(`${address}/fn/${fn}`, { signal: AbortSignal.timeout(300) }).then(
            () => 'answered',
            () => 'hung up',
          ),
        );
        assert.deepEqual(await Promise.all(calls), ['hung up', 'hung up', 'hung up']);
        // No connection is left open: before, the stop closed the log writer at once, and the
        // three logs written when the calls ended were dropped without a word.
        await a.cleanup();

        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          const logs = (
            await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs` })
          ).json();
          assert.equal(
            logs.total,
            3,
            JSON.stringify(logs.logs.map((l: { statusCode: number }) => l.statusCode)),
          );
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test(
    'a data dir that lost its database, or its secrets key, refuses to start and keeps what it holds',
    { timeout: 120_000 },
    async () => {
      const files = (dir: string): string[] =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name))
          .sort();
      await inOwnDir('eunha-restore-lost-', async (own) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        const { ws, fn } = await deployedFunction(a, {
          code: b64(SAMPLE_HANDLER),
          secretEnvironmentVariables: { TOKEN: 'kept-sealed' },
        });
        await a.cleanup();
        const blobs = files(join(own, 'blobs'));
        assert.ok(blobs.length >= 3, 'code, artifact and manifest');
        const db = join(own, 'eunha.db');
        renameSync(db, `${db}.saved`);
        for (const lost of ['missing', 'empty']) {
          if (lost === 'empty') writeFileSync(db, '');
          // Before, this started as a fresh install and its sweep deleted every blob.
          await assert.rejects(startTestPlatform({}, own), (e: Error) => {
            assert.equal(e.name, 'DataDirStateError', `${lost}: ${e.message}`);
            assert.match(e.message, /eunha\.db is missing or empty, but .* holds data/);
            return true;
          });
          assert.deepEqual(files(join(own, 'blobs')), blobs, `${lost}: nothing deleted`);
        }
        renameSync(`${db}.saved`, db);

        const key = join(own, 'secrets.key');
        renameSync(key, `${key}.saved`);
        // Before, a new key was made and the function could not run, nor be redeployed (500).
        await assert.rejects(
          startTestPlatform({}, own),
          /secrets\.key is missing, but 2 functions or deployments/,
        );
        assert.equal(existsSync(key), false, 'no new key is left in its place');
        renameSync(`${key}.saved`, key);

        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          assert.equal((await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
          assert.equal(
            (await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}` })).statusCode,
            200,
          );
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test(
    'a crash between activation and the function record is repaired at restart',
    { timeout: 120_000 },
    async () => {
      await inOwnDir('eunha-restore-repair-', async (own) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        const { ws, fn } = await deployedFunction(a, { code: b64(SAMPLE_HANDLER) });
        const [deployment] = await a.meta.listDeployments(fn);
        // What a kill between the two writes of a first deploy leaves: active, yet never marked.
        await a.meta.updateFunction(ws, fn, { invocationUrl: null, lastDeployed: null });
        await a.cleanup();

        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          const f = (
            await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}` })
          ).json();
          assert.match(f.invocationUrl, new RegExp(`/fn/${fn}$`));
          assert.equal(f.lastDeployed, deployment!.createdAt);
          assert.equal((await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test(
    'a function whose deployment could not be restored says so in its view, and the server is not ready, until it is activated or deployed again',
    { timeout: 120_000 },
    async () => {
      await inOwnDir('eunha-restore-view-', async (own) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        // `rolled` gets a second version (other code, so another artifact), whose artifact goes;
        // `redeployed` has one version, whose artifact goes.
        const rolled = await deployedFunction(a, { code: b64(SAMPLE_HANDLER) });
        const ws = rolled.ws;
        const v2 = SAMPLE_HANDLER.replace('Hello from Blue FaaS!', 'Hello again');
        const base = `/api/workspaces/${ws}/functions`;
        assert.equal(
          (await a.app.inject({ method: 'PATCH', url: `${base}/${rolled.fn}`, payload: { code: b64(v2) } }))
            .statusCode,
          200,
        );
        const second = await a.app.inject({ method: 'POST', url: `${base}/${rolled.fn}/deployments` });
        assert.equal(second.statusCode, 201, second.body);
        const created = await a.app.inject({
          method: 'POST',
          url: base,
          payload: { name: 'redeployed', code: b64(SAMPLE_HANDLER) },
        });
        const redeployed = created.json().id as string;
        assert.equal(created.json().unavailable, null);
        const first = await a.app.inject({ method: 'POST', url: `${base}/${redeployed}/deployments` });
        assert.equal(first.statusCode, 201, first.body);
        await a.cleanup();
        for (const digest of [second.json().digest, first.json().digest])
          rmSync(join(own, 'blobs', 'artifacts', ws, digest), { recursive: true });

        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          const view = async (fn: string): Promise<Json> =>
            (await b.app.inject({ method: 'GET', url: `${base}/${fn}` })).json();
          for (const fn of [rolled.fn, redeployed]) {
            const f = await view(fn);
            // The record is untouched (the seed's status stays), and the view says what callers get.
            assert.equal(f.status, 'active');
            assert.equal(f.unavailable?.code, 'DEPENDENCY_UNAVAILABLE', JSON.stringify(f));
            assert.match(f.unavailable.message, /could not be loaded at start-up/);
            const call = (await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).json();
            assert.deepEqual(f.unavailable, { code: call.error.code, message: call.error.message });
            assert.equal((await b.meta.getFunction(ws, fn))?.status, 'active');
          }
          // Alive, and ready: these failed for good (their artifacts are gone), which no other
          // server can mend, and out of rotation this one would fail every other function too.
          // Readiness counts them (a count: it is public).
          assert.equal((await b.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
          const counted = await b.app.inject({ method: 'GET', url: '/ready' });
          assert.equal(counted.statusCode, 200, counted.body);
          assert.deepEqual(counted.json().checks, {
            store: { ok: true },
            deployments: { ok: true, unrestored: 2, retrying: 0, restoring: 0 },
          });
          assert.doesNotMatch(counted.body, new RegExp(`${rolled.fn}|${redeployed}`), 'no function ids');
          const listed = (await b.app.inject({ method: 'GET', url: base })).json() as Json[];
          assert.deepEqual(
            listed.map((f) => f.unavailable?.code),
            ['DEPENDENCY_UNAVAILABLE', 'DEPENDENCY_UNAVAILABLE'],
          );
          // A PATCH answers the view too.
          const patched = await b.app.inject({
            method: 'PATCH',
            url: `${base}/${redeployed}`,
            payload: { description: 'still broken' },
          });
          assert.equal(patched.json().unavailable?.code, 'DEPENDENCY_UNAVAILABLE');

          const back = await b.app.inject({
            method: 'POST',
            url: `${base}/${rolled.fn}/deployments/1/activate`,
          });
          assert.equal(back.statusCode, 200, back.body);
          assert.equal((await view(rolled.fn)).unavailable, null);
          assert.equal((await view(redeployed)).unavailable?.code, 'DEPENDENCY_UNAVAILABLE');
          const oneLeft = await b.app.inject({ method: 'GET', url: '/ready' });
          assert.equal(oneLeft.json().checks.deployments.unrestored, 1);
          const again = await b.app.inject({ method: 'POST', url: `${base}/${redeployed}/deployments` });
          assert.equal(again.statusCode, 201, again.body);
          assert.equal((await view(redeployed)).unavailable, null);
          const ready = await b.app.inject({ method: 'GET', url: '/ready' });
          assert.equal(ready.statusCode, 200, ready.body);
          assert.equal(ready.json().status, 'ready');
          for (const fn of [rolled.fn, redeployed])
            assert.equal((await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test(
    'a deployment whose artifact is gone at restart says so (503), until the next deploy',
    { timeout: 120_000 },
    async () => {
      await inOwnDir('eunha-restore-gone-', async (own) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        const { ws, fn, digest } = await deployedFunction(a, { code: b64(SAMPLE_HANDLER) });
        await a.cleanup();
        rmSync(join(own, 'blobs', 'artifacts', ws, digest), { recursive: true });

        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          const res = await b.app.inject({ method: 'GET', url: `/fn/${fn}` });
          assert.equal(res.statusCode, 503);
          assert.equal(res.json().error.code, 'DEPENDENCY_UNAVAILABLE');
          // Gone is gone: waiting does not bring it back, so nothing is retried.
          assert.match(
            res.json().error.message,
            /could not be loaded at start-up; its owner must deploy it again/,
          );
          const again = await b.app.inject({
            method: 'POST',
            url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
          });
          assert.equal(again.statusCode, 201, again.body);
          assert.equal((await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  test(
    'a deployment the blob store could not read at restart is tried again until it loads',
    { timeout: 120_000 },
    async () => {
      // The first two reads fail: the start-up restore's and its first retry's, a second later.
      await restartWithArtifactReads(
        'eunha-restore-retry-',
        (n) => n <= 2,
        async (b, { ws, fn }, reads) => {
          const res = await b.app.inject({ method: 'GET', url: `/fn/${fn}` });
          assert.equal(res.statusCode, 503);
          assert.match(
            res.json().error.message,
            /could not be loaded at start-up; the server is trying again/,
          );
          // Being retried: this server lacks what another may have, so it is not ready meanwhile.
          const notReady = await b.app.inject({ method: 'GET', url: '/ready' });
          assert.equal(notReady.statusCode, 503);
          assert.equal(notReady.json().error.code, 'NOT_READY');
          assert.match(
            notReady.json().error.message,
            /1 function could not be loaded at start-up and is being tried again/,
          );
          assert.deepEqual(notReady.json().error.details.checks.deployments, {
            ok: false,
            unrestored: 1,
            retrying: 1,
            restoring: 0,
          });
          const view = await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}` });
          assert.match(view.json().unavailable.message, /trying again/);

          const t0 = Date.now();
          let status = 503;
          while (status !== 200 && Date.now() - t0 < 15_000) {
            await new Promise((r) => setTimeout(r, 100));
            status = (await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode;
          }
          assert.equal(status, 200, 'the function answers once its artifact can be read');
          assert.equal(reads(), 3, 'two failed, the third loaded it');
          // Back-off: 1 s, then 2 s.
          assert.ok(Date.now() - t0 >= 2_000, `loaded after ${Date.now() - t0} ms`);
          assert.equal((await b.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
          const mended = await b.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}` });
          assert.equal(mended.json().unavailable, null);
        },
      );
    },
  );

  test(
    'a retried restore never replaces what a deploy made active meanwhile',
    { timeout: 120_000 },
    async () => {
      let failing = true;
      // Before the restore, which the helper's second start runs: the wait below is from here.
      const started = Date.now();
      await restartWithArtifactReads(
        'eunha-restore-retry-deploy-',
        () => failing,
        async (b, { ws, fn }, reads) => {
          assert.equal(reads(), 1);
          const patch = await b.app.inject({
            method: 'PATCH',
            url: `/api/workspaces/${ws}/functions/${fn}`,
            payload: { code: b64(SAMPLE_HANDLER.replace('Hello', 'Hello again')) },
          });
          assert.equal(patch.statusCode, 200, patch.body);
          const again = await b.app.inject({
            method: 'POST',
            url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
          });
          assert.equal(again.statusCode, 201, again.body);
          // The old version could load now. Retries wait 1, 2, 4 … s, so one is due by twice the
          // time the deploy took, plus the first second: it must find the new version served.
          failing = false;
          const readsBefore = reads();
          const deployedAfter = Date.now() - started;
          await new Promise((r) => setTimeout(r, deployedAfter + 1_500));
          const res = await b.app.inject({ method: 'GET', url: `/fn/${fn}` });
          assert.equal(res.statusCode, 200);
          assert.match(res.body, /Hello again/);
          assert.equal(reads(), readsBefore, 'the old version was not loaded again');
        },
      );
    },
  );

  test(
    'a change to a function while start-up loads it is what its route serves by (it was lost: disabled, or KEY, it still answered everyone)',
    { timeout: 120_000 },
    async () => {
      await inOwnDir('eunha-restore-changed-', async (own) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        // Open mode here, where KEY lets everyone in: the methods stand for the rest of the record.
        let postOnly: { ws: string; fn: string };
        let disabled: { ws: string; fn: string };
        try {
          const code = b64(slowImportHandler(3));
          [postOnly, disabled] = await Promise.all([
            deployedFunction(a, { code, timeout: 60 }),
            deployedFunction(a, { code, timeout: 60 }),
          ]);
        } finally {
          await a.cleanup();
        }
        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own, { beforeRestore: true });
        try {
          // Well into the loads, whose imports take 3 s: start-up read both records before this.
          await new Promise((r) => setTimeout(r, 1000));
          assert.equal((await b.app.inject({ method: 'GET', url: '/ready' })).statusCode, 503);
          const patch = (f: { ws: string; fn: string }, payload: object) =>
            b.app.inject({ method: 'PATCH', url: `/api/workspaces/${f.ws}/functions/${f.fn}`, payload });
          const [m, d] = await Promise.all([
            patch(postOnly, { httpMethods: ['POST'] }),
            patch(disabled, { status: 'disabled' }),
          ]);
          assert.equal(m.statusCode, 200, m.body);
          assert.equal(d.statusCode, 200, d.body);
          assert.deepEqual(await b.restoring, { restored: 2, failed: 0, retrying: 0, skipped: 0 });
          const call = async (fn: string) =>
            (await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode;
          assert.equal(await call(postOnly.fn), 405);
          assert.equal(await call(disabled.fn), 403);
        } finally {
          await b.cleanup();
        }
      });
    },
  );

  describe('deployments whose imports are slow', () => {
    // Four functions, each in a workspace of its own, whose module import sleeps 5 s. One by one,
    // their restore took the sum of the imports and of the sandboxes' boots (35 s here, the server
    // listening only after it); a few at a time, about one import and the boots. The bound is the
    // sum of the imports alone, which one by one can never beat, however slow the machine.
    const IMPORT_S = 5;
    const COUNT = 4;
    const SUM_MS = IMPORT_S * COUNT * 1000;
    const own = mkdtempSync(join(tmpdir(), 'eunha-restore-slow-'));
    let fns: string[] = [];
    after(() => rmSync(own, { recursive: true, force: true }));

    test(
      'are restored together after the server can answer, and a call waits for its function',
      { timeout: 180_000 },
      async (t) => {
        const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          fns = (
            await Promise.all(
              Array.from({ length: COUNT }, () =>
                deployedFunction(a, { code: b64(slowImportHandler(IMPORT_S)), timeout: 60 }),
              ),
            )
          ).map((d) => d.fn);
        } finally {
          await a.cleanup();
        }

        const t0 = Date.now();
        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own, { beforeRestore: true });
        try {
          const upMs = Date.now() - t0;
          // Alive at once; not ready while the functions load, and the count says why.
          assert.equal((await b.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
          const ready = await b.app.inject({ method: 'GET', url: '/ready' });
          assert.equal(ready.statusCode, 503, `answered ${upMs} ms into the start: ${ready.body}`);
          assert.ok(ready.json().error.details.checks.deployments.restoring > 0, ready.body);
          // A call to a function not yet loaded waits for it: never NOT_DEPLOYED.
          const call = await b.app.inject({ method: 'GET', url: `/fn/${fns[COUNT - 1]}` });
          assert.equal(call.statusCode, 200, call.body);
          assert.equal(call.body, 'slow to start');
          const summary = await b.restoring;
          const ms = Date.now() - t0;
          assert.deepEqual(summary, { restored: COUNT, failed: 0, retrying: 0, skipped: 0 });
          t.diagnostic(`listening after ${upMs} ms, restored after ${ms} ms`);
          assert.ok(ms < SUM_MS, `restored ${COUNT} in ${ms} ms: the sum of their imports is ${SUM_MS} ms`);
          assert.equal((await b.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
          for (const fn of fns)
            assert.equal((await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
        } finally {
          await b.cleanup();
        }
      },
    );

    test(
      'a stop during their restore is prompt: what has not loaded is skipped or abandoned',
      { timeout: 180_000 },
      async (t) => {
        assert.equal(fns.length, COUNT, 'the test before deployed them');
        const t0 = Date.now();
        const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own, { beforeRestore: true });
        await new Promise((r) => setTimeout(r, 300));
        // A caller waiting for its function is answered by the stop, not left holding it up.
        const waiting = b.app.inject({ method: 'GET', url: `/fn/${fns[0]}` });
        await new Promise((r) => setTimeout(r, 50));
        const stopping = Date.now();
        await b.cleanup();
        const stopMs = Date.now() - stopping;
        const totalMs = Date.now() - t0;
        const got = await waiting;
        assert.equal(got.statusCode, 503, got.body);
        assert.equal(got.json().error.code, 'SHUTTING_DOWN');
        const summary = await b.restoring;
        assert.equal(summary.restored, 0, JSON.stringify(summary));
        // Well within the default grace (10 s), and far from the sum of the imports.
        t.diagnostic(`stopped in ${stopMs} ms, ${totalMs} ms after the start`);
        assert.ok(stopMs < 5_000, `the stop took ${stopMs} ms`);
        assert.ok(totalMs < SUM_MS, `start and stop took ${totalMs} ms: the imports sum to ${SUM_MS} ms`);

        // Nothing was lost: the next start restores them all.
        const c = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, own);
        try {
          for (const fn of fns)
            assert.equal((await c.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
        } finally {
          await c.cleanup();
        }
      },
    );
  });
});
