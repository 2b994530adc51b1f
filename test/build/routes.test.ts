// The build API through HTTP (app.inject): task lifecycle, failures with useful errors, the
// contract's shapes, and bad input answered as 4xx, never 500. The checker is real Python
// (python-checker.ts).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadArtifact } from '../../src/build/artifact.js';
import { parseImageRef } from '../../src/build/image-ref.js';
import { endlessBody } from '../helpers/endless-body.js';
import { SAMPLE_HANDLER } from '../helpers/platform.js';
import { UPLOADS_PER_CALLER } from '../../src/api/upload-slots.js';
import { multipart, startBuildHarness, waitForTask, type BuildHarness } from './harness.js';
import { pythonChecker } from './python-checker.js';
import { makeZip, patchName } from './zip-fixtures.js';

describe('build API', () => {
  let h: BuildHarness;
  before(async () => {
    h = await startBuildHarness(pythonChecker, { maxSourceBytes: 64 * 1024 });
  });
  after(async () => h.close());

  const post = (url: string, fields: Record<string, string>, file?: Parameters<typeof multipart>[1]) => {
    const body = multipart(fields, file);
    return h.app.inject({ method: 'POST', url, payload: body.payload, headers: body.headers });
  };

  test('build: pending → completed, with the contract fields and a verifiable artifact', async () => {
    const res = await post('/api/v1/build', {}, { filename: 'Hello World.py', data: SAMPLE_HANDLER });
    assert.equal(res.statusCode, 202);
    const accepted = res.json();
    assert.deepEqual(Object.keys(accepted).sort(), ['message', 'source_s3_path', 'status', 'task_id']);
    assert.equal(accepted.status, 'pending');
    assert.equal(accepted.source_s3_path, `build-sources/ws-default/${accepted.task_id}/Hello_World.py`);
    assert.equal(
      Buffer.from((await h.blobs.get(accepted.source_s3_path)) ?? new Uint8Array()).toString(),
      SAMPLE_HANDLER,
    );

    const done = await waitForTask(h.app, accepted.task_id);
    assert.equal(done.status, 'completed', done.error ?? '');
    assert.equal(done.error, null);
    const result = done.result!;
    assert.deepEqual(Object.keys(result).sort(), ['file_path', 'image_url', 'wasm_path']);
    assert.equal(result.file_path, accepted.source_s3_path);
    const ref = parseImageRef(result.image_url!);
    assert.equal(ref.workspaceId, 'ws-default');
    assert.equal(ref.app, 'hello-world');
    assert.equal(ref.tag, ref.digest.slice(0, 12));
    assert.equal(result.wasm_path, `artifacts/ws-default/${ref.digest}/manifest.json`);
    const artifact = await loadArtifact(h.blobs, 'ws-default', ref.digest);
    assert.equal(Buffer.from(artifact.files['app.py'] ?? new Uint8Array()).toString(), SAMPLE_HANDLER);
    assert.equal((await h.builds.resolveImage(result.image_url!)).digest, ref.digest);

    // ws-default was created on first use, as the seed's clients expect.
    assert.equal((await h.meta.getWorkspace('ws-default'))?.name, 'default');
    const list = (await h.app.inject({ method: 'GET', url: '/api/v1/workspaces/ws-default/tasks' })).json();
    assert.equal(list.workspace_id, 'ws-default');
    const mine = list.tasks.find((t: { task_id: string }) => t.task_id === accepted.task_id);
    assert.deepEqual(Object.keys(mine).sort(), [
      'app_name',
      'created_at',
      'error',
      'result',
      'status',
      'task_id',
      'updated_at',
    ]);
    assert.equal(mine.app_name, 'hello-world');
    assert.equal(mine.status, 'completed');
    assert.equal(list.count, list.tasks.length);
    assert.ok(h.finished.some((f) => f.outcome === 'completed' && f.seconds >= 0));
  });

  test('the same code builds to the same digest', async () => {
    const ids = await Promise.all(
      [0, 1].map(async () => {
        const r = await post(
          '/api/v1/build',
          { app_name: 'same' },
          { filename: 'a.py', data: SAMPLE_HANDLER },
        );
        return r.json().task_id as string;
      }),
    );
    const [a, b] = await Promise.all(ids.map((id) => waitForTask(h.app, id)));
    assert.equal(a!.result!.image_url, b!.result!.image_url);
  });

  test('a syntax error fails the task with the Python traceback', async () => {
    const res = await post('/api/v1/build', {}, { filename: 'bad.py', data: 'def broken(:\n    pass\n' });
    assert.equal(res.statusCode, 202);
    const done = await waitForTask(h.app, res.json().task_id);
    assert.equal(done.status, 'failed');
    assert.equal(done.result, null);
    assert.match(done.error!, /File "app\.py", line 1/);
    assert.match(done.error!, /SyntaxError/);
  });

  test("an upload that is no valid .py or .zip is removed with its task's failure; a push of it is a 404", async () => {
    const sources = async () => (await h.blobs.list('build-sources/ws-default/')).length;
    const before = await sources();
    const junk = await post('/api/v1/build', {}, { filename: 'junk.zip', data: 'PK not a zip at all' });
    assert.equal(junk.statusCode, 202);
    assert.equal((await waitForTask(h.app, junk.json().task_id)).status, 'failed');
    // The task says failed first, then its upload goes (a record never names a missing blob).
    for (let i = 0; i < 100 && (await h.blobs.get(junk.json().source_s3_path)) !== undefined; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(await h.blobs.get(junk.json().source_s3_path), undefined, 'its upload is gone');
    assert.equal(await sources(), before, 'nothing left of it');
    const push = await h.app.inject({
      method: 'POST',
      url: '/api/v1/push',
      payload: { registry_url: 'local', tag: 'x', s3_source_path: junk.json().source_s3_path },
    });
    assert.equal(push.statusCode, 404, push.body);
    // Code that does not load keeps its upload: a sandbox that died or ran out of time fails a
    // load too, and a push may build it again. So does one that builds.
    for (const [data, status] of [
      ['def broken(:\n', 'failed'],
      [SAMPLE_HANDLER, 'completed'],
    ] as const) {
      const res = await post('/api/v1/build', {}, { filename: 'app.py', data });
      assert.equal((await waitForTask(h.app, res.json().task_id)).status, status);
      assert.ok(await h.blobs.get(res.json().source_s3_path), `${status}: kept`);
    }
  });

  test('a push queued behind the failing build of its upload fails with the reason, and the upload stays for it', async () => {
    // One build slot, held by a build whose check waits for the gate: the junk build and the push
    // of its upload are both still waiting when the push is accepted.
    let open = () => {};
    const gate = new Promise<void>((r) => (open = r));
    const gated = await startBuildHarness(
      { check: async () => (await gate, { ok: true }) },
      { concurrency: 1, maxSourceBytes: 64 * 1024 },
    );
    try {
      const send = (url: string, fields: Record<string, string>, file: { filename: string; data: string }) =>
        gated.app.inject({ method: 'POST', url, ...multipart(fields, file) });
      const holder = await send('/api/v1/build', {}, { filename: 'app.py', data: SAMPLE_HANDLER });
      const junk = await send('/api/v1/build', {}, { filename: 'junk.zip', data: 'PK still not a zip' });
      const path = junk.json().source_s3_path as string;
      const push = await gated.app.inject({
        method: 'POST',
        url: '/api/v1/push',
        payload: { registry_url: 'local', tag: 'x', s3_source_path: path },
      });
      assert.equal(push.statusCode, 202, push.body);
      open();
      assert.equal((await waitForTask(gated.app, holder.json().task_id)).status, 'completed');
      assert.equal((await waitForTask(gated.app, junk.json().task_id)).status, 'failed');
      const pushed = await waitForTask(gated.app, push.json().task_id);
      assert.equal(pushed.status, 'failed');
      // Before, the junk build's failure removed the upload under the push: "internal error …
      // the uploaded source … is missing".
      assert.match(pushed.error!, /^invalid zip: /);
    } finally {
      await gated.close();
    }
  });

  test('a zip with its app in a folder builds; a zip-slip zip fails the task with the reason', async () => {
    const good = await makeZip([
      { name: 'svc/app.py', data: 'from lib.x import Y\n' + SAMPLE_HANDLER },
      { name: 'svc/lib/x.py', data: 'Y = 1\n' },
    ]);
    const ok = await waitForTask(
      h.app,
      (await post('/api/v1/build', {}, { filename: 'svc.zip', data: good })).json().task_id,
    );
    assert.equal(ok.status, 'completed', ok.error ?? '');
    const files = (await h.builds.resolveImage(ok.result!.image_url!)).files;
    assert.deepEqual(Object.keys(files).sort(), ['app.py', 'lib/x.py']);

    const evil = patchName(
      await makeZip([
        { name: 'app.py', data: SAMPLE_HANDLER },
        { name: 'XXXevil.py', data: 'x' },
      ]),
      'XXXevil.py',
      '../evil.py',
    );
    const bad = await waitForTask(
      h.app,
      (await post('/api/v1/build', {}, { filename: 'evil.zip', data: evil })).json().task_id,
    );
    assert.equal(bad.status, 'failed');
    assert.match(bad.error!, /"\.\.\/evil\.py" is rejected: contains a '\.\.' segment/);
  });

  test('build-and-push to local completes; tag is honoured; passwords are not stored', async () => {
    const res = await post(
      '/api/v1/build-and-push',
      {
        registry_url: 'local',
        username: 'AWS',
        password: 's3cr3t-pa55',
        tag: 'v1',
        app_name: 'Pay Hook',
        workspace_id: 'ws-default',
      },
      { filename: 'x.py', data: SAMPLE_HANDLER },
    );
    assert.equal(res.statusCode, 202);
    const done = await waitForTask(h.app, res.json().task_id);
    assert.equal(done.status, 'completed', done.error ?? '');
    assert.match(done.result!.image_url!, /^local\/ws-default\/pay-hook:v1@sha256:[0-9a-f]{64}$/);
    // Nothing on disk — database, its WAL, blobs — holds the password.
    for (const file of readdirSync(h.dir, { recursive: true, encoding: 'utf8' })) {
      const path = join(h.dir, file);
      if (statSync(path).isFile()) assert.equal(readFileSync(path).indexOf('s3cr3t-pa55'), -1, file);
    }
  });

  test('an app name in another script builds, as app- and a hash of it; one with no letter or digit is a 400', async () => {
    const image = async (fields: Record<string, string>, filename = 'x.py') => {
      const res = await post('/api/v1/build', fields, { filename, data: SAMPLE_HANDLER });
      assert.equal(res.statusCode, 202, res.body);
      const done = await waitForTask(h.app, res.json().task_id);
      assert.equal(done.status, 'completed', done.error ?? '');
      return done.result!.image_url!;
    };
    const korean = await image({ app_name: '결제 함수' });
    assert.match(korean, /^local\/ws-default\/app-[0-9a-f]{8}:[0-9a-f]{12}@sha256:/);
    // The same name is the same app; another is another, and a file name falls back alike.
    assert.equal(korean.split(':')[0], (await image({ app_name: '결제 함수' })).split(':')[0]);
    assert.notEqual(korean.split(':')[0], (await image({ app_name: '주문 함수' })).split(':')[0]);
    assert.equal(korean.split(':')[0], (await image({}, '결제 함수.py')).split(':')[0]);
    const junk = await post('/api/v1/build', { app_name: '!!! ---' }, { filename: 'a.py', data: 'x' });
    assert.equal(junk.statusCode, 400);
    assert.equal(junk.json().error.details.field, 'app_name');
  });

  test('an external registry fails the task with a clear message, never a fake success', async () => {
    const res = await post(
      '/api/v1/build-and-push',
      { registry_url: '123456789012.dkr.ecr.ap-northeast-2.amazonaws.com', password: 'x' },
      { filename: 'x.py', data: SAMPLE_HANDLER },
    );
    assert.equal(res.statusCode, 202);
    const done = await waitForTask(h.app, res.json().task_id);
    assert.equal(done.status, 'failed');
    assert.equal(done.result, null);
    assert.equal(
      done.error,
      "pushing to external OCI registries is not supported yet; use registry_url 'local'",
    );
  });

  test('push builds an earlier upload of the same workspace for registry local', async () => {
    const first = (await post('/api/v1/build', {}, { filename: 'pushme.py', data: SAMPLE_HANDLER })).json();
    await waitForTask(h.app, first.task_id);
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/v1/push',
      payload: {
        registry_url: 'local',
        tag: 'sha256',
        workspace_id: 'ws-default',
        s3_source_path: first.source_s3_path,
      },
    });
    assert.equal(res.statusCode, 202);
    assert.equal(res.json().source_s3_path, first.source_s3_path);
    const done = await waitForTask(h.app, res.json().task_id);
    assert.equal(done.status, 'completed', done.error ?? '');
    assert.match(done.result!.image_url!, /^local\/ws-default\/pushme:/);

    const missing = await h.app.inject({
      method: 'POST',
      url: '/api/v1/push',
      payload: { registry_url: 'local' },
    });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error.details.field, 's3_source_path');
    const foreign = await h.app.inject({
      method: 'POST',
      url: '/api/v1/push',
      payload: { registry_url: 'local', s3_source_path: 'code/ws-default/fn-x/abc.py' },
    });
    assert.equal(foreign.statusCode, 400);
    assert.equal(foreign.json().error.details.field, 's3_source_path');
    const absent = await h.app.inject({
      method: 'POST',
      url: '/api/v1/push',
      payload: { registry_url: 'local', s3_source_path: 'build-sources/ws-default/nope/app.py' },
    });
    assert.equal(absent.statusCode, 404);
    // No upload is kept under another name: a 400 on the field, whether or not it exists.
    const notCode = await h.app.inject({
      method: 'POST',
      url: '/api/v1/push',
      payload: { registry_url: 'local', s3_source_path: 'build-sources/ws-default/nope/app.txt' },
    });
    assert.equal(notCode.statusCode, 400);
    assert.equal(notCode.json().error.details.field, 's3_source_path');
  });

  test('unknown task → 404; a poll that names another workspace still finds the task (the seed ignored it)', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/api/v1/tasks/no-such-task' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'NOT_FOUND');
    const t = (await post('/api/v1/build', {}, { filename: 'q.py', data: SAMPLE_HANDLER })).json();
    const ok = await h.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${t.task_id}?workspace_id=ws-default`,
    });
    assert.equal(ok.statusCode, 200);
    const other = await h.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${t.task_id}?workspace_id=ws-other123`,
    });
    // The seed README polls `?workspace_id=ws-default` for a task of any workspace.
    assert.equal(other.statusCode, 200, other.body);
    assert.equal(other.json().task_id, t.task_id);
    await waitForTask(h.app, t.task_id);
  });

  test('unknown workspace → 404 for builds and task lists; a new workspace works once it exists', async () => {
    const res = await post(
      '/api/v1/build',
      { workspace_id: 'ws-nothere1' },
      { filename: 'a.py', data: SAMPLE_HANDLER },
    );
    assert.equal(res.statusCode, 404);
    assert.equal(
      (await h.app.inject({ method: 'GET', url: '/api/v1/workspaces/ws-nothere1/tasks' })).statusCode,
      404,
    );
    await h.meta.createWorkspace({
      id: 'ws-real0001',
      name: 'r',
      description: null,
      createdAt: new Date().toISOString(),
    });
    const ok = await post(
      '/api/v1/build',
      { workspace_id: 'ws-real0001' },
      { filename: 'a.py', data: SAMPLE_HANDLER },
    );
    assert.equal(ok.statusCode, 202);
    assert.match(ok.json().source_s3_path, /^build-sources\/ws-real0001\//);
    await waitForTask(h.app, ok.json().task_id);
    const list = (await h.app.inject({ method: 'GET', url: '/api/v1/workspaces/ws-real0001/tasks' })).json();
    assert.equal(list.count, 1);
  });

  test('the task listing comes a page at a time: limit, 4 MiB, and next/before walk every task once', async () => {
    await h.meta.createWorkspace({
      id: 'ws-pages001',
      name: 'p',
      description: null,
      createdAt: new Date().toISOString(),
    });
    // 80 failed builds with 60 KB tracebacks: ~4.8 MB, more than one page holds. Before, the whole
    // list went out at once (9,000 such tasks: a 500 and a 7-s stall of the server).
    const base = Date.parse('2026-03-01T00:00:00.000Z');
    for (let i = 0; i < 80; i++) {
      const at = new Date(base + i * 1000).toISOString();
      await h.meta.putTask({
        taskId: `task-${String(i).padStart(3, '0')}`,
        workspaceId: 'ws-pages001',
        kind: 'build',
        status: 'failed',
        appName: 'p',
        createdAt: at,
        updatedAt: at,
        sourcePath: null,
        result: null,
        error: 'Traceback…\n' + 'x'.repeat(60_000),
      });
    }
    const url = '/api/v1/workspaces/ws-pages001/tasks';
    const first = (await h.app.inject({ method: 'GET', url })).json();
    assert.ok(first.count < 80 && first.count > 10, `${first.count} tasks in the first page`);
    assert.notEqual(first.next, null);
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const query: string = next === null ? '' : `&before=${next}`;
      const res = await h.app.inject({ method: 'GET', url: `${url}?limit=7${query}` });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json() as { tasks: Array<{ task_id: string }>; count: number; next: string | null };
      assert.equal(page.count, page.tasks.length);
      seen.push(...page.tasks.map((t) => t.task_id));
      next = page.next;
    } while (next !== null && seen.length < 200);
    assert.deepEqual(
      seen,
      Array.from({ length: 80 }, (_, i) => `task-${String(79 - i).padStart(3, '0')}`),
    );
    const bad = await h.app.inject({ method: 'GET', url: `${url}?before=nonsense!` });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.details.field, 'before');
  });

  let address: Promise<string> | undefined;
  const portOf = async () =>
    Number(new URL(await (address ??= h.app.listen({ host: '127.0.0.1', port: 0 }))).port);
  /** An upload whose file part has begun and goes no further, over a socket of its own. */
  const stalledUpload = async (port?: number): Promise<{ socket: Socket; answer: () => string }> => {
    const socket = connect(port ?? (await portOf()), '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => {});
    const part = '--B\r\nContent-Disposition: form-data; name="file"; filename="a.py"\r\n\r\nprint(1)\n';
    socket.write(
      'POST /api/v1/build HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n' +
        `Transfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`,
    );
    return { socket, answer: () => answer };
  };

  test('an upload that passes the cap is refused at once, and its connection closed', async () => {
    const port = await portOf();
    // A chunked file part that never ends. Before, the 413 came only when the client stopped
    // sending (a review's stream was read for 121 s, 57 GB, until the request timeout).
    const outcome = await endlessBody(
      port,
      'POST /api/v1/build HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n',
      64 * 1024 * 1024, // 1,000 times the cap: it was not refused
      '--B\r\nContent-Disposition: form-data; name="file"; filename="a.py"\r\n\r\n',
    );
    assert.ok(outcome.closed, `still reading after ${outcome.sent} bytes`);
    assert.match(outcome.answer, /^HTTP\/1\.1 413 /);
    assert.match(outcome.answer, /PAYLOAD_TOO_LARGE/);
    assert.ok(outcome.sent < 16 * 1024 * 1024, `${outcome.sent} bytes sent before the close`);
  });

  test('one caller has 4 uploads arriving at once: the fifth waits for a slot (429 after the wait); a slow one ends at the read deadline (408)', async () => {
    // The real waits are 10 s and 30 s; here 1 s and 4 s.
    const short = await startBuildHarness(pythonChecker, { uploads: { waitMs: 1000, readMs: 4000 } });
    try {
      const port = Number(new URL(await short.app.listen({ host: '127.0.0.1', port: 0 })).port);
      const send = () =>
        short.app.inject({
          method: 'POST',
          url: '/api/v1/build',
          ...multipart({}, { filename: 'a.py', data: SAMPLE_HANDLER }),
        });
      const stall = async () => {
        const u = await stalledUpload(port);
        return { ...u, closed: new Promise<number>((r) => u.socket.on('close', () => r(Date.now()))) };
      };
      const started = Date.now();
      const stalled = await Promise.all(Array.from({ length: UPLOADS_PER_CALLER }, stall));
      await new Promise((r) => setTimeout(r, 300)); // each is being read
      assert.ok(
        stalled.every((u) => u.answer() === ''),
        'the stalled ones wait for their bodies',
      );
      // One more waits, unread, and goes on when a slot comes back.
      let settled = false;
      const waiting = send().finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(settled, false, 'it waits while four are arriving');
      stalled[0]!.socket.destroy();
      assert.equal((await waiting).statusCode, 202);
      // With three arriving and one more stalled, the next one is refused once it has waited.
      stalled[0] = await stall();
      await new Promise((r) => setTimeout(r, 200));
      const asked = Date.now();
      const refused = await send();
      const waited = Date.now() - asked;
      assert.equal(refused.statusCode, 429, refused.body);
      assert.equal(refused.json().error.code, 'RATE_LIMITED');
      assert.equal(refused.headers['retry-after'], '1');
      assert.ok(waited >= 950 && waited < 3000, `waited ${waited} ms`);
      // The first three reach the read deadline: 408, connection closed, slots back.
      const closedAt = await Promise.all(stalled.slice(1).map((u) => u.closed));
      for (const [i, u] of stalled.slice(1).entries()) {
        assert.match(u.answer(), /^HTTP\/1\.1 408 /, `upload ${i + 1}`);
        assert.match(u.answer(), /did not arrive within 4 s/);
        assert.ok(closedAt[i]! - started >= 3900, `closed after ${closedAt[i]! - started} ms`);
      }
      assert.equal((await send()).statusCode, 202);
      for (const u of stalled) u.socket.destroy();
    } finally {
      await short.close();
    }
  });

  test('an upload whose caller leaves while it waits for a slot gives up its place', async () => {
    const short = await startBuildHarness(pythonChecker, { uploads: { waitMs: 3000, readMs: 8000 } });
    try {
      const port = Number(new URL(await short.app.listen({ host: '127.0.0.1', port: 0 })).port);
      const stalled = await Promise.all(
        Array.from({ length: UPLOADS_PER_CALLER }, () => stalledUpload(port)),
      );
      await new Promise((r) => setTimeout(r, 300));
      const leaver = await stalledUpload(port); // waits for a slot, then goes
      await new Promise((r) => setTimeout(r, 200));
      leaver.socket.destroy();
      await new Promise((r) => setTimeout(r, 100));
      stalled[0]!.socket.destroy();
      // The freed slot is this upload's at once. Before, it went to the caller that had left and
      // stayed with it until the read deadline, and this one was refused after its wait.
      const asked = Date.now();
      const res = await short.app.inject({
        method: 'POST',
        url: '/api/v1/build',
        ...multipart({}, { filename: 'a.py', data: SAMPLE_HANDLER }),
      });
      assert.equal(res.statusCode, 202, res.body);
      assert.ok(Date.now() - asked < 2000, `waited ${Date.now() - asked} ms`);
      for (const u of stalled) u.socket.destroy();
    } finally {
      await short.close();
    }
  });

  test('a body that is not multipart gets a 415 that says to send multipart', async () => {
    for (const type of ['text/plain', 'application/octet-stream', 'application/json']) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/api/v1/build',
        payload: type === 'application/json' ? '{"file":"x"}' : 'print(1)',
        headers: { 'content-type': type },
      });
      assert.equal(res.statusCode, 415, type);
      assert.match(
        res.json().error.message,
        /send multipart\/form-data with the upload in a field named "file"$/,
        type,
      );
    }
    // Over a socket too: a JSON body was read to its end before the form's turn, and Node had
    // marked the request destroyed, which read as a caller gone (499 CLIENT_CLOSED).
    for (const url of ['/api/v1/build', '/api/v1/build-and-push']) {
      const res = await fetch(`http://127.0.0.1:${await portOf()}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(res.status, 415, url);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /send multipart/);
    }
    // The JSON routes still ask for JSON.
    const push = await h.app.inject({
      method: 'POST',
      url: '/api/v1/push',
      payload: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(push.statusCode, 415);
    assert.match(push.json().error.message, /send application\/json$/);
  });

  test('bad uploads are 4xx with the field named, never 500', async () => {
    const cases: Array<
      [
        Promise<{ statusCode: number; json(): { error: { code: string; details: { field?: string } } } }>,
        number,
        string,
        string,
      ]
    > = [
      [post('/api/v1/build', { app_name: 'x' }), 400, 'VALIDATION_ERROR', 'file'],
      [post('/api/v1/build', {}, { filename: 'a.exe', data: 'MZ' }), 400, 'VALIDATION_ERROR', 'file'],
      [post('/api/v1/build', {}, { filename: 'a.py', data: '' }), 400, 'VALIDATION_ERROR', 'file'],
      [
        post('/api/v1/build', {}, { filename: 'big.py', data: 'x'.repeat(64 * 1024 + 1) }),
        413,
        'PAYLOAD_TOO_LARGE',
        'file',
      ],
      [
        post('/api/v1/build', {}, { field: 'upload', filename: 'a.py', data: 'x' }),
        400,
        'VALIDATION_ERROR',
        'upload',
      ],
      [
        post('/api/v1/build', { colour: 'red' }, { filename: 'a.py', data: 'x' }),
        400,
        'VALIDATION_ERROR',
        'colour',
      ],
      [
        post('/api/v1/build', { app_name: '!!!' }, { filename: 'a.py', data: 'x' }),
        400,
        'VALIDATION_ERROR',
        'app_name',
      ],
      [
        post('/api/v1/build', { workspace_id: '../x' }, { filename: 'a.py', data: 'x' }),
        400,
        'VALIDATION_ERROR',
        'workspace_id',
      ],
      [
        post('/api/v1/build-and-push', {}, { filename: 'a.py', data: 'x' }),
        400,
        'VALIDATION_ERROR',
        'registry_url',
      ],
      [
        post(
          '/api/v1/build-and-push',
          { registry_url: 'local', tag: 'bad tag' },
          { filename: 'a.py', data: 'x' },
        ),
        400,
        'VALIDATION_ERROR',
        'tag',
      ],
      [
        h.app.inject({ method: 'POST', url: '/api/v1/build', payload: { file: 'x' } }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'content-type',
      ],
      [
        h.app.inject({
          method: 'POST',
          url: '/api/v1/build',
          payload: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.py"\r\n\r\nunterminated',
          headers: { 'content-type': 'multipart/form-data; boundary=b' },
        }),
        400,
        'VALIDATION_ERROR',
        'body',
      ],
      [
        h.app.inject({ method: 'POST', url: '/api/v1/push', payload: { registry_url: 'local', extra: 1 } }),
        400,
        'VALIDATION_ERROR',
        'extra',
      ],
      [
        h.app.inject({ method: 'POST', url: '/api/v1/push', payload: {} }),
        400,
        'VALIDATION_ERROR',
        'registry_url',
      ],
    ];
    for (const [pending, status, code, field] of cases) {
      const res = await pending;
      assert.equal(res.statusCode, status, JSON.stringify(res.json()));
      assert.equal(res.json().error.code, code);
      assert.equal(res.json().error.details.field, field);
    }
  });

  test('what a review found the build forms and /push answering wrongly, each said of the field sent', async () => {
    const said = async (pending: ReturnType<typeof post>, field: string, message: RegExp): Promise<void> => {
      const res = await pending;
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error.details.field, field, res.body);
      assert.match(res.json().error.message, message);
      assert.ok(res.body.length < 2000, `${res.body.length} bytes`);
    };
    // A file name past busboy's header limit arrived cut (its .py gone) and was quoted whole.
    await said(
      post('/api/v1/build', {}, { filename: `${'a'.repeat(200_000)}.py`, data: 'x' }),
      'file',
      /longer than 255 bytes/,
    );
    await said(
      post('/api/v1/build', {}, { filename: `${'a'.repeat(300)}.py`, data: 'x' }),
      'file',
      /longer than 255 bytes/,
    );
    // What `curl -F 'file=<app.py'` sends: the code as a text field.
    await said(post('/api/v1/build', { file: SAMPLE_HANDLER }), 'file', /sent as a file, with a file name/);
    const json = (payload: object) => h.app.inject({ method: 'POST', url: '/api/v1/push', payload });
    await said(
      json({ registry_url: 'local', app_dir: '..', s3_source_path: 'x.py' }),
      's3_source_path',
      /s3_source_path/,
    );
    // /push reads its fields as the forms do: trimmed, blank is absent.
    await said(json({ registry_url: '  ' }), 'registry_url', /required/);
    const stale = await post('/api/v1/build', {}, { filename: 'app.py', data: SAMPLE_HANDLER });
    const source = stale.json().source_s3_path as string;
    await said(
      json({ registry_url: 'local', app_dir: 'apps/..', s3_source_path: source }),
      'app_dir',
      /app_dir/,
    );
    const trimmed = await json({ registry_url: ' local ', tag: 'v1 ', s3_source_path: source });
    assert.equal(trimmed.statusCode, 202, trimmed.body);
    const task = await waitForTask(h.app, trimmed.json().task_id, 60_000);
    assert.equal(task.status, 'completed', task.error ?? '');
    assert.match(String(task.result?.image_url), /:v1@sha256:/);
  });

  test('two files in one form are refused', async () => {
    const boundary = 'bb';
    const part = (name: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="a.py"\r\n\r\nx\r\n`;
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/v1/build',
      payload: `${part('file')}${part('file')}--${boundary}--\r\n`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.details.field, 'file');
  });
});
