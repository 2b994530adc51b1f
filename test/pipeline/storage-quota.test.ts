// The workspace storage quota through the API, with the real runtime and stores: code, uploads and
// artifacts count together; a store past the quota is a 507 that changes nothing; a redeploy of
// code already stored costs nothing; deleting a deployment, a task or a function makes room at
// once (their artifacts go unless something else names them); the numbers reported are what the
// blob store really holds.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { multipart, waitForTask } from '../build/harness.js';
import { makeZip } from '../build/zip-fixtures.js';
import { SAMPLE_HANDLER, b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

/** The sample handler, padded to about `size` bytes; `tag` makes each one different code. */
const padded = (tag: string, size: number): string => {
  const head = `${SAMPLE_HANDLER}\n# ${tag}\n`;
  return `${head}# ${'x'.repeat(size - head.length - 3)}\n`;
};

/** What the blob store holds for the workspace: a walk, the truth a report must equal. */
/** A workspace whose functions keep no logs or key-value data. */
const NO_DATA = { logBytes: 0, keyValueBytes: 0 };

async function walked(p: TestPlatform, ws: string): Promise<{ usedBytes: number; usedFiles: number }> {
  let usedBytes = 0;
  let usedFiles = 0;
  for (const prefix of [`code/${ws}`, `artifacts/${ws}`, `build-sources/${ws}`]) {
    const u = await p.blobs.usage(prefix);
    usedBytes += u.bytes;
    usedFiles += u.blobs;
  }
  return { usedBytes, usedFiles };
}

describe('workspace storage quota: bytes', () => {
  const LIMIT = 64 * 1024;
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform({
      EUNHA_WARM_POOL_SIZE: '1',
      EUNHA_WORKSPACE_STORAGE_MAX_BYTES: String(LIMIT),
    });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'q' } })).json().id;
  });
  after(async () => p.cleanup());

  /** The report of a workspace that stores nothing. */
  const EMPTY = { usedBytes: 0, maxBytes: LIMIT, usedFiles: 0, maxFiles: 20_000, ...NO_DATA };
  const storage = async () => {
    const res = await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/storage` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as {
      usedBytes: number;
      maxBytes: number;
      usedFiles: number;
      maxFiles: number;
      logBytes: number;
      keyValueBytes: number;
    };
  };
  const deploy = (fn: string) =>
    p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/functions/${fn}/deployments` });
  const setCode = (fn: string, code: string) =>
    p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${ws}/functions/${fn}`,
      payload: { code: b64(code) },
    });
  const artifacts = async () =>
    (await p.blobs.list(`artifacts/${ws}`)).filter((k) => k.endsWith('manifest.json'));

  test('the report also says what the functions keep in the database: logs and key-value data', async () => {
    const fn = (
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'data', code: b64('x = 1\n') },
      })
    ).json();
    const before = await storage();
    const log = {
      id: 'log-data-1',
      functionId: fn.id,
      workspaceId: ws,
      timestamp: new Date().toISOString(),
      status: 'success' as const,
      duration: 1,
      statusCode: 200,
      requestBody: null,
      responseBody: 'x'.repeat(10_000),
      logs: [],
      level: 'info' as const,
      coldStart: false,
      deploymentVersion: 1,
      cpuMs: 1,
    };
    await p.meta.appendLogs([log]);
    await p.meta.kv.set({ functionId: fn.id, store: 'default' }, 'k', new Uint8Array(20_000));
    const now = await storage();
    assert.ok(now.logBytes - before.logBytes >= 10_000, `logs: ${now.logBytes}`);
    assert.ok(now.keyValueBytes - before.keyValueBytes >= 20_000, `kv: ${now.keyValueBytes}`);
    assert.equal(now.usedBytes, before.usedBytes, 'not counted as blobs');
    await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${fn.id}` });
    const after = await storage();
    assert.equal(after.logBytes, before.logBytes);
    assert.equal(after.keyValueBytes, before.keyValueBytes);
  });

  test(
    'stores past the quota are refused with 507 and change nothing; deleting makes room',
    { timeout: 120_000 },
    async () => {
      const created = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'big', code: b64(padded('A', 30_000)) },
      });
      assert.equal(created.statusCode, 201, created.body);
      const fn = created.json().id as string;
      assert.deepEqual(await storage(), {
        ...(await walked(p, ws)),
        maxBytes: LIMIT,
        maxFiles: 20_000,
        ...NO_DATA,
      });
      assert.equal((await storage()).usedBytes, 30_000, 'the code alone');

      const v1 = await deploy(fn);
      assert.equal(v1.statusCode, 201, v1.body);
      // Smaller code: it costs nothing, the old code goes.
      assert.equal((await setCode(fn, padded('B', 10_000))).statusCode, 200);
      const v2 = await deploy(fn);
      assert.equal(v2.statusCode, 201, v2.body);
      const full = await storage();
      assert.deepEqual(full, { ...(await walked(p, ws)), maxBytes: LIMIT, maxFiles: 20_000, ...NO_DATA });
      assert.ok(full.usedBytes > 50_000 && full.usedBytes < LIMIT, `code + two artifacts: ${full.usedBytes}`);

      // 16 KB more code does not fit: the code change is refused and the old code stays.
      const refused = await setCode(fn, padded('C', 26_000));
      assert.equal(refused.statusCode, 507, refused.body);
      const error = refused.json().error;
      assert.equal(error.code, 'QUOTA_EXCEEDED');
      assert.match(error.message, new RegExp(`workspace '${ws}' is out of storage`));
      // In units that show the numbers (it said "0.0 MiB more would take it past its 0.1 MiB").
      assert.match(
        error.message,
        /: 15\.6 KiB more would take it past its \d+\.\d KiB \(it stores \d+\.\d KiB\)/,
      );
      assert.deepEqual(error.details, {
        workspace: ws,
        resource: 'bytes',
        limit: LIMIT,
        used: full.usedBytes,
        requested: 26_000 - 10_000, // what the code grows by
      });
      const fnNow = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}` })
      ).json();
      assert.match(Buffer.from(fnNow.code, 'base64').toString(), /# B\n/, 'the code is still B');
      assert.deepEqual(await storage(), full, 'nothing was stored');

      // An upload that would not fit is refused before it is stored.
      const form = multipart(
        { registry_url: 'local', workspace_id: ws },
        { filename: 'app.py', data: padded('U', 16_000) },
      );
      const upload = await p.app.inject({ method: 'POST', url: '/api/v1/build-and-push', ...form });
      assert.equal(upload.statusCode, 507, upload.body);
      assert.equal(upload.json().error.code, 'QUOTA_EXCEEDED');
      assert.deepEqual(await storage(), full);

      // The active version cannot go; an older one can, and its artifact with it.
      const activeDelete = await p.app.inject({
        method: 'DELETE',
        url: `/api/workspaces/${ws}/functions/${fn}/deployments/2`,
      });
      assert.equal(activeDelete.statusCode, 409, activeDelete.body);
      assert.equal(activeDelete.json().error.code, 'CONFLICT');
      assert.equal((await artifacts()).length, 2);
      const removed = await p.app.inject({
        method: 'DELETE',
        url: `/api/workspaces/${ws}/functions/${fn}/deployments/1`,
      });
      assert.equal(removed.statusCode, 204, removed.body);
      assert.deepEqual(await artifacts(), [`artifacts/${ws}/${v2.json().digest}/manifest.json`]);
      const freed = await storage();
      assert.ok(freed.usedBytes < full.usedBytes - 30_000, `v1's artifact went: ${freed.usedBytes}`);
      assert.deepEqual(freed, { ...(await walked(p, ws)), maxBytes: LIMIT, maxFiles: 20_000, ...NO_DATA });
      const gone = await p.app.inject({
        method: 'DELETE',
        url: `/api/workspaces/${ws}/functions/${fn}/deployments/1`,
      });
      assert.equal(gone.statusCode, 404, gone.body);

      // Now C fits, and deploys as v3: numbers are never given twice.
      assert.equal((await setCode(fn, padded('C', 26_000))).statusCode, 200);
      const v3 = await deploy(fn);
      assert.equal(v3.statusCode, 201, v3.body);
      assert.equal(v3.json().version, 3);
      // Near the quota, a redeploy of the same code is the same artifact: it costs nothing.
      const v4 = await deploy(fn);
      assert.equal(v4.statusCode, 201, v4.body);
      assert.equal(v4.json().digest, v3.json().digest);
      // v3 names the same artifact as the active v4: deleting v3 keeps it, and the function answers.
      const v3Delete = await p.app.inject({
        method: 'DELETE',
        url: `/api/workspaces/${ws}/functions/${fn}/deployments/3`,
      });
      assert.equal(v3Delete.statusCode, 204);
      assert.ok((await artifacts()).includes(`artifacts/${ws}/${v4.json().digest}/manifest.json`));
      const called = await p.app.inject({ method: 'GET', url: `/fn/${fn}` });
      assert.equal(called.statusCode, 200, called.body);
      const versions = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/deployments` })
      ).json() as Array<{ version: number }>;
      assert.deepEqual(
        versions.map((d) => d.version),
        [4, 2],
      );

      // Deleting the function takes its code and every artifact only it named.
      const fnDelete = await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${fn}` });
      assert.equal(fnDelete.statusCode, 204);
      assert.deepEqual(await artifacts(), []);
      assert.deepEqual(await storage(), EMPTY);
    },
  );

  test('a function deleted while its deploy builds leaves nothing behind', { timeout: 60_000 }, async () => {
    // Module code that naps: the build's load check takes long enough for the delete to land.
    const slow = padded('S', 15_000).replace(
      'from spin_sdk import http',
      'import time\ntime.sleep(0.5)\nfrom spin_sdk import http',
    );
    for (let round = 0; round < 3; round++) {
      const created = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: `doomed${round}`, code: b64(`${slow}# ${round}\n`) },
      });
      assert.equal(created.statusCode, 201, created.body);
      const fn = created.json().id as string;
      const deploying = deploy(fn);
      await new Promise((r) => setTimeout(r, 200));
      const removed = await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${fn}` });
      assert.equal(removed.statusCode, 204);
      assert.equal((await deploying).statusCode, 404);
      // Before, each round left its artifact (≈ 15 KB) that nothing named, until a restart.
      assert.deepEqual(await storage(), EMPTY);
    }
  });

  test('at the quota, code can still be made smaller', { timeout: 60_000 }, async () => {
    const make = (name: string, size: number) =>
      p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name, code: b64(padded(name, size)) },
      });
    const big = await make('big', 40_000);
    assert.equal(big.statusCode, 201, big.body);
    assert.equal((await make('filler', 20_000)).statusCode, 201);
    assert.equal((await make('more', 10_000)).statusCode, 507, 'full');
    const smaller = await setCode(big.json().id, padded('small', 6_000));
    assert.equal(smaller.statusCode, 200, smaller.body);
    assert.equal((await storage()).usedBytes, 26_000);
    assert.equal(
      (await setCode(big.json().id, padded('grown', 50_000))).statusCode,
      507,
      'growing still counts',
    );
    for (const f of (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions` })).json()) {
      await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${f.id}` });
    }
  });

  test('a code change whose record cannot be written leaves no new code behind', async () => {
    const made = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name: 'unwritten', code: b64(padded('before', 2_000)) },
    });
    assert.equal(made.statusCode, 201, made.body);
    const fn = made.json().id as string;
    const real = p.meta.updateFunction.bind(p.meta);
    // The database refusing the write (a full disk, say), once the new code is stored.
    p.meta.updateFunction = async () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    };
    try {
      const res = await setCode(fn, padded('after', 3_000));
      assert.equal(res.statusCode, 500, res.body);
    } finally {
      p.meta.updateFunction = real;
    }
    const code = await p.blobs.list(`code/${ws}/${fn}`);
    assert.equal(code.length, 1, code.join(' '));
    const report = await storage();
    assert.deepEqual({ usedBytes: report.usedBytes, usedFiles: report.usedFiles }, await walked(p, ws));
    await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${fn}` });
  });

  test('the storage report of an unknown workspace is a 404', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/api/workspaces/ws-nope/storage' });
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(res.json().error.code, 'NOT_FOUND');
  });
});

describe('workspace storage quota: files, and deleting build tasks', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform({ EUNHA_WORKSPACE_STORAGE_MAX_FILES: '10' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'f' } })).json().id;
  });
  after(async () => p.cleanup());

  const build = async (filename: string, data: Uint8Array | string) => {
    const form = multipart({ registry_url: 'local', workspace_id: ws }, { filename, data });
    const res = await p.app.inject({ method: 'POST', url: '/api/v1/build-and-push', ...form });
    assert.equal(res.statusCode, 202, res.body);
    return waitForTask(p.app, res.json().task_id as string, 60_000);
  };
  const usage = async () =>
    (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/storage` })).json();

  test(
    'a build whose artifact has too many files fails its task with the reason',
    { timeout: 60_000 },
    async () => {
      const modules = Array.from({ length: 9 }, (_, i) => ({ name: `m${i}.py`, data: `X = ${i}\n` }));
      const zip = await makeZip([{ name: 'app.py', data: SAMPLE_HANDLER }, ...modules]);
      const task = await build('app.zip', zip);
      assert.equal(task.status, 'failed');
      assert.match(
        task.error ?? '',
        /out of storage: 11 more files would take it past its 10 \(it stores 1\)/,
      );
      assert.equal((await usage()).usedFiles, 1, 'the upload only; no artifact was stored');

      // Deleting the task removes its upload.
      const del = await p.app.inject({ method: 'DELETE', url: `/api/v1/tasks/${task.task_id}` });
      assert.equal(del.statusCode, 204, del.body);
      assert.deepEqual(await usage(), {
        usedBytes: 0,
        maxBytes: 1024 ** 3,
        usedFiles: 0,
        maxFiles: 10,
        ...NO_DATA,
      });
      const again = await p.app.inject({ method: 'GET', url: `/api/v1/tasks/${task.task_id}` });
      assert.equal(again.statusCode, 404);
    },
  );

  test(
    'deleting a completed task removes its upload and the artifact nothing else names',
    { timeout: 60_000 },
    async () => {
      const one = await build('app.py', SAMPLE_HANDLER);
      const two = await build('app.py', SAMPLE_HANDLER); // the same code: the same artifact
      assert.equal(one.status, 'completed', one.error ?? '');
      assert.equal(two.status, 'completed', two.error ?? '');
      assert.equal(one.result?.image_url?.split('@')[1], two.result?.image_url?.split('@')[1]);
      assert.equal((await usage()).usedFiles, 4, 'two uploads, one artifact (app.py + manifest)');
      assert.equal(
        (await p.app.inject({ method: 'DELETE', url: `/api/v1/tasks/${one.task_id}` })).statusCode,
        204,
      );
      assert.equal((await usage()).usedFiles, 3, 'the artifact stays: the other task names it');
      assert.equal(
        (await p.app.inject({ method: 'DELETE', url: `/api/v1/tasks/${two.task_id}` })).statusCode,
        204,
      );
      assert.equal((await usage()).usedFiles, 0);
      assert.deepEqual(await p.blobs.list(`artifacts/${ws}`), []);
    },
  );

  test('a task of another workspace is not found for a delete that names one', async () => {
    const task = await build('app.py', SAMPLE_HANDLER);
    const res = await p.app.inject({
      method: 'DELETE',
      url: `/api/v1/tasks/${task.task_id}?workspace_id=ws-other`,
    });
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(
      (await p.app.inject({ method: 'GET', url: `/api/v1/tasks/${task.task_id}` })).statusCode,
      200,
    );
  });
});
