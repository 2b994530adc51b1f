// Blobs a crash left behind (records already gone, blobs not yet) are removed at the next start;
// every blob a record still names is kept: the deployed function still answers, and an image built
// by a task can still be deployed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { multipart, waitForTask } from '../build/harness.js';
import { b64, deployedFunction, SAMPLE_HANDLER, startTestPlatform } from '../helpers/platform.js';

const HEX = (c: string) => c.repeat(64);

describe('blobs that no record names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-orphans-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('are removed at start-up; named ones are kept', { timeout: 120_000 }, async () => {
    const a = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, dir);
    const { ws, fn } = await deployedFunction(a, { code: b64(SAMPLE_HANDLER) });
    const form = multipart(
      { registry_url: 'local', workspace_id: ws, app_name: 'built' },
      { filename: 'app.py', data: SAMPLE_HANDLER },
    );
    const submitted = await a.app.inject({ method: 'POST', url: '/api/v1/build-and-push', ...form });
    assert.equal(submitted.statusCode, 202, submitted.body);
    const task = await waitForTask(a.app, submitted.json().task_id, 60_000);
    assert.equal(task.status, 'completed', task.error ?? '');
    const named = await a.blobs.list('');
    // What a crash between a record's removal and its blobs' removal leaves behind.
    const orphans = [
      `code/${ws}/${fn}/${HEX('d')}.py`, // an older code blob of a live function
      `code/${ws}/fn-gone0000/${HEX('e')}.py`, // a deleted function's code
      `code/ws-gone0000/fn-gone0001/${HEX('e')}.py`, // a deleted workspace's
      `artifacts/${ws}/${HEX('a')}/manifest.json`, // a build killed before anything named it
      `artifacts/${ws}/${HEX('a')}/files/app.py`,
      `artifacts/ws-gone0000/${HEX('b')}/manifest.json`,
      `build-sources/${ws}/task-gone/app.py`,
      `build-sources/ws-gone0000/task-gone/app.py`,
    ];
    for (const key of [...orphans, 'elsewhere/not-ours.bin']) await a.blobs.put(key, Buffer.from('x'));
    await a.cleanup();

    const b = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, dir);
    try {
      assert.deepEqual(await b.blobs.list(''), [...named, 'elsewhere/not-ours.bin'].sort());
      const res = await b.app.inject({ method: 'GET', url: `/fn/${fn}` });
      assert.equal(res.statusCode, 200, res.body);
      const deployed = await b.app.inject({
        method: 'POST',
        url: '/api/v1/deploy',
        payload: { namespace: 'default', image_ref: task.result!.image_url, function_id: fn },
      });
      assert.equal(deployed.statusCode, 200, deployed.body);
      assert.equal((await b.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
    } finally {
      await b.cleanup();
    }
  });
});
