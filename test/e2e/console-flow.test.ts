// The seed console's whole flow over real HTTP against the server process: create a function with
// the README sample, build-and-push to the `local` registry, poll the task, deploy with
// function_id, invoke through /invoke and through the invocationUrl, read logs and /metrics,
// restart, and invoke again without redeploying.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { b64, SAMPLE_HANDLER, SHARED_CACHE_DIR } from '../helpers/platform.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are read loosely here
type Json = any;

async function call(
  s: ServerProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : null };
}

describe('the console flow, end to end', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eunha-flow-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { EUNHA_DATA_DIR: dataDir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '1' };

  test(
    'create → build-and-push → poll → deploy → invoke ×2 → logs → metrics → restart → invoke',
    { timeout: 180_000 },
    async () => {
      let s = await startServer(env, 90_000);
      try {
        const ws = (await call(s, 'POST', '/api/workspaces', { name: 'flow' })).json;
        const fn = (
          await call(s, 'POST', `/api/workspaces/${ws.id}/functions`, {
            name: 'hello',
            code: b64(SAMPLE_HANDLER),
            httpMethods: ['GET', 'POST'],
          })
        ).json;

        const form = new FormData();
        form.append('file', new Blob([SAMPLE_HANDLER], { type: 'text/x-python' }), 'app.py');
        form.append('registry_url', 'local');
        form.append('workspace_id', ws.id);
        form.append('app_name', 'hello');
        const submitted = await fetch(`${s.url}/api/v1/build-and-push`, { method: 'POST', body: form });
        assert.equal(submitted.status, 202);
        const task = (await submitted.json()) as Json;
        assert.equal(task.status, 'pending');

        let polled: Json;
        for (let i = 0; i < 200; i++) {
          polled = (await call(s, 'GET', `/api/v1/tasks/${task.task_id}`)).json;
          if (polled.status === 'completed' || polled.status === 'failed') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(polled.status, 'completed', JSON.stringify(polled));
        assert.match(polled.result.image_url, /^local\/.+@sha256:[0-9a-f]{64}$/);

        const deployed = await call(s, 'POST', '/api/v1/deploy', {
          namespace: 'default',
          image_ref: polled.result.image_url,
          function_id: fn.id,
        });
        assert.equal(deployed.status, 200, JSON.stringify(deployed.json));
        assert.equal(deployed.json.service_status, 'found');
        assert.equal(deployed.json.endpoint, `${s.url}/fn/${fn.id}`);

        const after = (await call(s, 'GET', `/api/workspaces/${ws.id}/functions/${fn.id}`)).json;
        assert.equal(after.invocationUrl, deployed.json.endpoint);
        assert.ok(after.lastDeployed);

        const viaApi = await call(s, 'POST', `/api/workspaces/${ws.id}/functions/${fn.id}/invoke`, {
          hello: 'world',
        });
        assert.equal(viaApi.status, 200, JSON.stringify(viaApi.json));
        assert.equal(viaApi.json.statusCode, 200);
        assert.equal(viaApi.json.status, 'success');
        assert.equal(viaApi.json.responseBody, 'Hello from Blue FaaS!');
        assert.deepEqual(viaApi.json.requestBody, { hello: 'world' });

        const viaUrl = await fetch(after.invocationUrl);
        assert.equal(viaUrl.status, 200);
        assert.equal(viaUrl.headers.get('content-type'), 'text/plain');
        assert.equal(await viaUrl.text(), 'Hello from Blue FaaS!');

        // Logs are batched off the hot path: give the writer a moment.
        let logs: Json;
        for (let i = 0; i < 50; i++) {
          logs = (await call(s, 'GET', `/api/workspaces/${ws.id}/functions/${fn.id}/logs`)).json;
          if (logs.total >= 2) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(logs.total, 2);
        assert.ok(logs.logs.every((l: Json) => l.functionId === fn.id && l.statusCode === 200));

        const metrics = await (await fetch(`${s.url}/metrics`)).text();
        assert.match(
          metrics,
          new RegExp(`gateway_function_invocation_total\\{function_name="${fn.id}",code="200"\\} 2`),
        );
        assert.match(metrics, /gateway_service_count 1/);
        assert.match(metrics, /gateway_functions_seconds_bucket/);

        s.child.kill('SIGTERM');
        assert.equal(await s.exited, 0);

        s = await startServer(env, 90_000);
        const again = await fetch(`${s.url}/fn/${fn.id}`);
        assert.equal(again.status, 200);
        assert.equal(await again.text(), 'Hello from Blue FaaS!');
        const count = (await call(s, 'GET', `/api/workspaces/${ws.id}/functions/${fn.id}/logs`)).json.total;
        assert.ok(count >= 2, 'logs written before the restart survive it');
      } finally {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    },
  );
});
