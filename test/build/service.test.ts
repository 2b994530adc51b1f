// BuildService behaviour beyond single requests: the concurrency cap observed through a recording
// checker and FIFO order through the order tasks are marked running, tasks interrupted by a
// restart, the synchronous buildNow path, resolving images, and a clean close.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CANCELLED_ERROR, INTERRUPTED_ERROR, buildBlobPrefixes } from '../../src/build/index.js';
import { MAX_WAITING_PER_WORKSPACE } from '../../src/build/service.js';
import { EunhaError } from '../../src/core/errors.js';
import type { BuildTask } from '../../src/core/types.js';
import { workspaceBlobOwners } from '../../src/services/storage-quota.js';
import { MeteredBlobStore } from '../../src/store/metered-blobs.js';
import { SAMPLE_HANDLER } from '../helpers/platform.js';
import { workspace } from '../store/fixtures.js';
import { multipart, startBuildHarness, waitForTask } from './harness.js';
import { overriding } from '../helpers/blob-overrides.js';
import { pythonChecker, recordingChecker } from './python-checker.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');

describe('build service', () => {
  // Two workspaces: with 2 slots one workspace now runs one build at a time (queue.ts), so the
  // global cap is seen only across workspaces (this used 6 builds of one workspace).
  test('at most `concurrency` builds run at once; the rest start in submission order', async () => {
    const { checker, stats } = recordingChecker(pythonChecker, 40);
    const h = await startBuildHarness(checker, { concurrency: 2 });
    try {
      const other = workspace();
      await h.meta.createWorkspace(other);
      const ids: string[] = [];
      const byWs = new Map<string, string[]>();
      for (let i = 0; i < 6; i++) {
        const ws = i % 2 === 0 ? 'ws-default' : other.id;
        const body = multipart(
          { workspace_id: ws },
          { filename: `f${i}.py`, data: `# ${i}\n${SAMPLE_HANDLER}` },
        );
        const res = await h.app.inject({ method: 'POST', url: '/api/v1/build', ...body });
        assert.equal(res.statusCode, 202);
        ids.push(res.json().task_id);
        byWs.set(ws, [...(byWs.get(ws) ?? []), res.json().task_id]);
      }
      assert.ok(h.builds.queueDepth > 0, 'builds beyond the cap wait in the queue');
      const done = await Promise.all(ids.map((id) => waitForTask(h.app, id)));
      assert.deepEqual(
        done.map((d) => d.status),
        Array(6).fill('completed'),
      );
      assert.equal(stats.max, 2);
      for (const [ws, own] of byWs) {
        assert.deepEqual(
          h.started.filter((id) => own.includes(id)),
          own,
          `${ws}'s builds start in its order`,
        );
      }
      assert.equal(h.finished.length, 6);
    } finally {
      await h.close();
    }
  });

  test("a workspace whose builds nap in module code leaves a slot: another workspace's deploy builds at once", async () => {
    // The review's case: tenant A's checks sleep (up to 60 s, and a running check cannot be
    // pre-empted); with both default slots A's, tenant B's trivial deploy took 52 s.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const napping: string[] = [];
    const h = await startBuildHarness(
      {
        async check(files) {
          const code = Buffer.from(files['app.py'] ?? new Uint8Array()).toString('utf8');
          if (code.startsWith('# nap')) {
            napping.push(code.split('\n')[0]!);
            await gate;
          }
          return pythonChecker.check(files);
        },
      },
      { concurrency: 2 },
    );
    try {
      const a = workspace();
      const b = workspace();
      await h.meta.createWorkspace(a);
      await h.meta.createWorkspace(b);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const body = multipart(
          { workspace_id: a.id },
          { filename: `n${i}.py`, data: `# nap ${i}\n${SAMPLE_HANDLER}` },
        );
        const res = await h.app.inject({ method: 'POST', url: '/api/v1/build', ...body });
        assert.equal(res.statusCode, 202, res.body);
        ids.push(res.json().task_id);
      }
      for (let i = 0; i < 200 && (napping.length === 0 || h.builds.queueDepth + h.builds.running < 4); i++)
        await new Promise((r) => setTimeout(r, 10));
      const quick = h.builds.buildNow(b.id, 'quick', { 'app.py': bytes(SAMPLE_HANDLER) });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'held'>((r) => (timer = setTimeout(() => r('held'), 15_000)));
      const built = await Promise.race([quick, timedOut]);
      clearTimeout(timer);
      assert.notEqual(built, 'held', "B's deploy waited behind A's napping builds");
      // A's: one napping (the other slot was kept free, though B was not yet waiting), 3 waiting.
      assert.deepEqual(napping, ['# nap 0']);
      assert.equal(h.builds.queueDepth, 3);
      assert.equal(h.builds.running, 1);
      open();
      const done = await Promise.all(ids.map((id) => waitForTask(h.app, id)));
      assert.deepEqual(
        done.map((d) => d.status),
        Array(4).fill('completed'),
      );
      if (typeof built !== 'string') built.release();
      assert.deepEqual(h.started, ids, "A's tasks ran in their order");
    } finally {
      open();
      await h.close();
    }
  });

  test('a workspace may have 20 builds waiting, even when uploads arrive at once; other workspaces still queue', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const h = await startBuildHarness(
      {
        async check(files) {
          await gate;
          return pythonChecker.check(files);
        },
      },
      { concurrency: 1 },
    );
    try {
      const other = workspace();
      await h.meta.createWorkspace(other);
      const submit = (ws?: string) =>
        h.app.inject({
          method: 'POST',
          url: '/api/v1/build',
          ...multipart(ws ? { workspace_id: ws } : {}, { filename: 'app.py', data: SAMPLE_HANDLER }),
        });
      assert.equal((await submit()).statusCode, 202, 'this one runs (held at its check)');
      const burst = await Promise.all(Array.from({ length: MAX_WAITING_PER_WORKSPACE + 10 }, () => submit()));
      const statuses = burst.map((r) => r.statusCode);
      assert.equal(statuses.filter((s) => s === 202).length, MAX_WAITING_PER_WORKSPACE, statuses.join(' '));
      const over = burst.find((r) => r.statusCode === 429)!;
      assert.equal(over.json().error.code, 'RATE_LIMITED');
      assert.equal(over.json().error.details.limit, MAX_WAITING_PER_WORKSPACE);
      assert.ok(Number(over.headers['retry-after']) > 0);
      assert.equal(h.builds.queueDepth, MAX_WAITING_PER_WORKSPACE);
      // A push that could never be taken is a 400 all the same, not a 429 whose retry fails too.
      const bad = await h.app.inject({
        method: 'POST',
        url: '/api/v1/push',
        payload: { registry_url: 'local', s3_source_path: 'build-sources/x' },
      });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.equal(bad.json().error.details.field, 's3_source_path');
      assert.equal((await submit(other.id)).statusCode, 202, 'another workspace has its own allowance');
    } finally {
      open();
      await h.close();
    }
  });

  test('start() marks tasks left running (interrupted) or pending (cancelled) by a previous process as failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eunha-build-restart-'));
    try {
      const first = await startBuildHarness(pythonChecker, { dir });
      await first.meta.createWorkspace({
        id: 'ws-restart1',
        name: 'r',
        description: null,
        createdAt: '2026-11-26T12:00:00.000Z',
      });
      const stale = (taskId: string, status: BuildTask['status']): BuildTask => ({
        taskId,
        workspaceId: 'ws-restart1',
        appName: 'a',
        kind: 'build',
        status,
        sourcePath: null,
        result: null,
        error: null,
        createdAt: '2026-11-26T12:00:00.000Z',
        updatedAt: '2026-11-26T12:00:00.000Z',
      });
      await first.meta.putTask(stale('t-running', 'running'));
      await first.meta.putTask(stale('t-pending', 'pending'));
      await first.meta.putTask({
        ...stale('t-done', 'completed'),
        result: { wasm_path: 'w', image_url: 'i', file_path: 'f' },
      });
      await first.close(true);

      const second = await startBuildHarness(pythonChecker, { dir, start: false });
      try {
        assert.equal(await second.builds.start(), 2);
        for (const [id, error] of [
          ['t-running', INTERRUPTED_ERROR],
          ['t-pending', CANCELLED_ERROR],
        ]) {
          const res = (await second.app.inject({ method: 'GET', url: `/api/v1/tasks/${id}` })).json();
          assert.equal(res.status, 'failed');
          assert.equal(res.error, error);
        }
        const kept = (await second.app.inject({ method: 'GET', url: '/api/v1/tasks/t-done' })).json();
        assert.equal(kept.status, 'completed');
        assert.equal(await second.builds.start(), 0, 'a second start finds nothing left to mark');
      } finally {
        await second.close(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a build that finishes after its workspace was deleted leaves no blobs behind', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let storing!: () => void;
    const inStore = new Promise<void>((r) => (storing = r));
    const h = await startBuildHarness(pythonChecker, {
      // The artifact's first file waits: the workspace goes while it is being stored.
      wrapBlobs: (blobs) =>
        overriding(blobs, {
          put: async (key, data, known) => {
            if (key.startsWith('artifacts/')) {
              storing();
              await gate;
            }
            return blobs.put(key, data, known);
          },
        }),
    });
    try {
      const ws = { id: 'ws-late0001', name: 'late', description: null, createdAt: new Date().toISOString() };
      await h.meta.createWorkspace(ws);
      const building = h.builds.buildNow(ws.id, 'late', { 'app.py': bytes(SAMPLE_HANDLER) });
      await inStore;
      // What WorkspaceService.delete does: the records, then every blob prefix of the workspace.
      await h.meta.deleteWorkspace(ws.id);
      for (const prefix of buildBlobPrefixes(ws.id)) await h.blobs.deletePrefix(prefix);
      release();
      await assert.rejects(building, (e: unknown) => e instanceof EunhaError && e.code === 'NOT_FOUND');
      for (const prefix of buildBlobPrefixes(ws.id)) assert.deepEqual(await h.blobs.list(prefix), [], prefix);
    } finally {
      release();
      await h.close();
    }
  });

  test('an upload whose workspace is deleted while it is stored is refused and leaves no task and no blob', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let storing!: () => void;
    const inPut = new Promise<void>((r) => (storing = r));
    const h = await startBuildHarness(pythonChecker, {
      // The upload is stored, then waits: the workspace goes before its task is recorded.
      wrapBlobs: (blobs) =>
        overriding(blobs, {
          put: async (key, data) => {
            await blobs.put(key, data);
            storing();
            await gate;
          },
        }),
    });
    try {
      const ws = { id: 'ws-race0001', name: 'race', description: null, createdAt: new Date().toISOString() };
      await h.meta.createWorkspace(ws);
      const submitted = h.builds.submit({
        kind: 'build',
        workspaceId: ws.id,
        filename: 'app.py',
        data: bytes(SAMPLE_HANDLER),
      });
      await inPut;
      // What WorkspaceService.delete does: the records, then every blob prefix of the workspace.
      await h.meta.deleteWorkspace(ws.id);
      for (const prefix of buildBlobPrefixes(ws.id)) await h.blobs.deletePrefix(prefix);
      release();
      await assert.rejects(submitted, (e: unknown) => e instanceof EunhaError && e.code === 'NOT_FOUND');
      assert.deepEqual(
        (await h.meta.dumpKeys()).filter((k) => k.pk.includes(ws.id)),
        [],
        'no task row outlives its workspace',
      );
      for (const prefix of buildBlobPrefixes(ws.id)) assert.deepEqual(await h.blobs.list(prefix), [], prefix);
    } finally {
      release();
      await h.close();
    }
  });

  test('an artifact whose store fails halfway leaves none of its files behind', async () => {
    let artifactPuts = 0;
    const h = await startBuildHarness(pythonChecker, {
      // The third file of the artifact fails, as a disk or an S3 that goes away would.
      wrapBlobs: (blobs) =>
        overriding(blobs, {
          put: async (key, data) => {
            if (key.startsWith('artifacts/') && ++artifactPuts === 3) throw new Error('storage went away');
            await blobs.put(key, data);
          },
        }),
    });
    try {
      const ws = { id: 'ws-half0001', name: 'half', description: null, createdAt: new Date().toISOString() };
      await h.meta.createWorkspace(ws);
      const files = {
        'app.py': bytes(SAMPLE_HANDLER),
        'lib/a.py': bytes('A = 1\n'),
        'lib/b.py': bytes('B = 2\n'),
        'lib/c.py': bytes('C = 3\n'),
      };
      await assert.rejects(h.builds.buildNow(ws.id, 'half', files), /storage went away/);
      assert.ok(artifactPuts >= 3);
      // Before, the files stored before the failure stayed (counted against the quota) until a restart.
      assert.deepEqual(await h.blobs.list(`artifacts/${ws.id}`), []);
    } finally {
      await h.close();
    }
  });

  test('a build lists its artifact once; an upload and the artifact leave the meter nothing to ask', async () => {
    const lists: string[] = [];
    const sized: string[] = [];
    let meter!: MeteredBlobStore;
    const h = await startBuildHarness(pythonChecker, {
      wrapBlobs: (blobs) => {
        const watched = overriding(blobs, {
          list: (prefix) => {
            lists.push(prefix);
            return blobs.list(prefix);
          },
          size: (key) => {
            sized.push(key);
            return blobs.size(key);
          },
          usage: (prefix) => {
            if (prefix.split('/').length > 2) sized.push(prefix); // not a workspace's whole prefix
            return blobs.usage(prefix);
          },
        });
        meter = new MeteredBlobStore(watched, workspaceBlobOwners);
        return meter;
      },
    });
    try {
      const ws = { id: 'ws-once0001', name: 'once', description: null, createdAt: new Date().toISOString() };
      await h.meta.createWorkspace(ws);
      await meter.usageOf(ws.id); // the meter moves a total from here on
      const files = { 'app.py': bytes(SAMPLE_HANDLER), 'lib/a.py': bytes('A = 1\n') };
      const built = await h.builds.buildNow(ws.id, 'once', files);
      built.release();
      // Before: once for its cost (the manifest), then again to store it.
      assert.deepEqual(lists, [`artifacts/${ws.id}/${built.digest}`]);
      const body = multipart({ workspace_id: ws.id }, { filename: 'up.py', data: SAMPLE_HANDLER });
      const res = await h.app.inject({ method: 'POST', url: '/api/v1/build', ...body });
      assert.equal(res.statusCode, 202, res.body);
      assert.equal((await waitForTask(h.app, res.json().task_id)).status, 'completed');
      assert.deepEqual(sized, [], 'each write said what was at its key');
      const walked = { bytes: 0, blobs: 0 };
      for (const prefix of workspaceBlobOwners.prefixesOf(ws.id)) {
        const u = await h.blobs.usage(prefix);
        walked.bytes += u.bytes;
        walked.blobs += u.blobs;
      }
      assert.deepEqual(await meter.usageOf(ws.id), walked);
      assert.equal(walked.blobs, 3 + 1 + 2, 'two artifacts (files and manifest) and the upload');
    } finally {
      await h.close();
    }
  });

  test('buildNow builds synchronously to the same artifact as a task, without loading the code', async () => {
    const h = await startBuildHarness(pythonChecker);
    try {
      await h.meta.createWorkspace({
        id: 'ws-now00001',
        name: 'n',
        description: null,
        createdAt: new Date().toISOString(),
      });
      const built = await h.builds.buildNow('ws-now00001', 'hello', { 'app.py': bytes(SAMPLE_HANDLER) });
      assert.match(
        built.imageUrl,
        new RegExp(`^local/ws-now00001/hello:${built.digest.slice(0, 12)}@sha256:${built.digest}$`),
      );
      assert.equal(built.manifestPath, `artifacts/ws-now00001/${built.digest}/manifest.json`);
      const again = await h.builds.buildNow('ws-now00001', 'hello', { 'app.py': bytes(SAMPLE_HANDLER) });
      assert.equal(again.digest, built.digest);
      const resolved = await h.builds.resolveImage(built.imageUrl);
      assert.equal(resolved.workspaceId, 'ws-now00001');
      assert.equal(Buffer.from(resolved.files['app.py'] ?? new Uint8Array()).toString(), SAMPLE_HANDLER);

      const body = multipart(
        { workspace_id: 'ws-now00001', app_name: 'hello' },
        { filename: 'x.py', data: SAMPLE_HANDLER },
      );
      const task = await waitForTask(
        h.app,
        (await h.app.inject({ method: 'POST', url: '/api/v1/build', ...body })).json().task_id,
      );
      assert.equal(task.result!.image_url, built.imageUrl);

      // Not loaded here: the deploy that asked loads it next, as its version's first instance
      // (test/pipeline/deployments.test.ts has code that does not load).
      const unchecked = await h.builds.buildNow('ws-now00001', 'bad', { 'app.py': bytes('x = (\n') });
      unchecked.release();
      await assert.rejects(h.builds.buildNow('ws-now00001', 'x', { 'lib.py': bytes('') }), /no app\.py/);
      await assert.rejects(
        h.builds.buildNow('ws-missing1', 'x', { 'app.py': bytes(SAMPLE_HANDLER) }),
        /not found/,
      );
      assert.deepEqual(
        h.finished.map((f) => f.outcome),
        ['completed', 'completed', 'completed', 'completed'],
      );

      await assert.rejects(
        h.builds.resolveImage(built.imageUrl.replace('/hello:', '/other:')),
        /names app 'other'/,
      );
    } finally {
      await h.close();
    }
  });

  test('close waits for running builds and fails the ones still queued', async () => {
    const { checker } = recordingChecker(pythonChecker, 100);
    const h = await startBuildHarness(checker, { concurrency: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const body = multipart({}, { filename: `c${i}.py`, data: SAMPLE_HANDLER });
      ids.push((await h.app.inject({ method: 'POST', url: '/api/v1/build', ...body })).json().task_id);
    }
    await new Promise((r) => setTimeout(r, 20));
    await h.builds.close();
    const tasks = await Promise.all(ids.map((id) => h.builds.getTask(id)));
    assert.equal(tasks[0]!.status, 'completed');
    assert.deepEqual(
      tasks.slice(1).map((t) => [t.status, t.error]),
      [
        ['failed', CANCELLED_ERROR],
        ['failed', CANCELLED_ERROR],
      ],
    );
    await assert.rejects(
      h.builds.submit({ kind: 'build', filename: 'a.py', data: bytes(SAMPLE_HANDLER) }),
      /shutting down/,
    );
    await h.close();
  });
});
