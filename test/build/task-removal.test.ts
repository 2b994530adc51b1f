// Removing build tasks (src/build/task-removal.ts), what DELETE /api/v1/tasks/{id} and retention
// share, against real stores: the record, then the uploads no task that stays names and no build
// under way reads, then the artifact handed to the collector; a task not finished is a CONFLICT.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatImageRef } from '../../src/build/image-ref.js';
import { TaskRemoval, type BuildsUnderWay } from '../../src/build/task-removal.js';
import { sourcePrefix } from '../../src/build/types.js';
import type { BuildTask } from '../../src/core/types.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import type { BlobStore, MetadataStore } from '../../src/store/ports.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';
import { eunhaError, task, workspace } from '../store/fixtures.js';

describe('task removal', () => {
  let dir: string;
  let meta: MetadataStore;
  let blobs: BlobStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eunha-task-removal-'));
    meta = await openSqliteMetadataStore(join(dir, 'eunha.db'));
    blobs = await openFsBlobStore(join(dir, 'blobs'));
  });
  after(async () => {
    await meta.close();
    await blobs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A stored task with its upload under its own folder (or `sourcePath`, a push's). */
  const stored = async (ws: string, overrides: Partial<BuildTask> = {}): Promise<BuildTask> => {
    const t = task(ws, { status: 'completed', ...overrides });
    const own = { ...t, sourcePath: overrides.sourcePath ?? `${sourcePrefix(ws, t.taskId)}/app.py` };
    await meta.putTask(own);
    if (overrides.sourcePath === undefined) await blobs.put(own.sourcePath, Buffer.from('x = 1\n'));
    return own;
  };
  const uploadOf = (t: BuildTask) => blobs.list(sourcePrefix(t.workspaceId, t.taskId));
  const newWorkspace = async () => {
    const ws = workspace();
    await meta.createWorkspace(ws);
    return ws.id;
  };

  test('a finished task goes with its upload and hands its artifact to the collector', async () => {
    const ws = await newWorkspace();
    const digest = 'd'.repeat(64);
    const collected: Array<[string, string[]]> = [];
    const removal = new TaskRemoval(meta, blobs, {
      collectArtifacts: async (w, digests) => void collected.push([w, [...digests]]),
    });
    const done = await stored(ws, {
      result: { image_url: formatImageRef(ws, 'app', 'latest', digest), wasm_path: null, file_path: null },
    });
    const other = await stored(ws);
    await removal.removeFinished(done);
    assert.equal(await meta.getTask(done.taskId), undefined);
    assert.deepEqual(await uploadOf(done), []);
    assert.equal((await uploadOf(other)).length, 1, "another task's upload stays");
    assert.deepEqual(collected, [[ws, [digest]]]);
    await assert.rejects(removal.removeFinished(done), eunhaError('NOT_FOUND'), 'its record is gone');
  });

  test('an upload a task that stays names, or a build under way reads, stays', async () => {
    const ws = await newWorkspace();
    const reading = new Set<string>();
    const underWay: BuildsUnderWay = { has: () => false, reads: (folder) => reading.has(folder) };
    const removal = new TaskRemoval(meta, blobs, { underWay });
    const uploaded = await stored(ws);
    const push = await stored(ws, { kind: 'push', sourcePath: uploaded.sourcePath });
    await removal.removeFinished(uploaded);
    assert.equal((await uploadOf(uploaded)).length, 1, 'the push names it');
    reading.add(sourcePrefix(ws, uploaded.taskId));
    await removal.removeFinished(push);
    assert.equal((await uploadOf(uploaded)).length, 1, 'a build under way reads it');
    const again = await stored(ws, { kind: 'push', sourcePath: uploaded.sourcePath });
    reading.clear();
    await removal.removeFinished(again);
    assert.deepEqual(await uploadOf(uploaded), [], 'the last push took the earlier upload with it');
  });

  test('a pending or running task, or one under way here, is a CONFLICT and stays', async () => {
    const ws = await newWorkspace();
    let busy = '';
    const removal = new TaskRemoval(meta, blobs, {
      underWay: { has: (taskId) => taskId === busy, reads: () => false },
    });
    for (const t of [await stored(ws, { status: 'pending' }), await stored(ws, { status: 'running' })]) {
      await assert.rejects(removal.removeFinished(t), eunhaError('CONFLICT'));
      assert.ok(await meta.getTask(t.taskId));
    }
    const finishing = await stored(ws);
    busy = finishing.taskId; // its record says completed; the build has not let go of it yet
    await assert.rejects(removal.removeFinished(finishing), eunhaError('CONFLICT'));
    assert.equal((await uploadOf(finishing)).length, 1);
  });

  test('survey and removeMany: the picked tasks go, uploads the others name stay, failures are reported', async () => {
    const ws = await newWorkspace();
    const failures: unknown[] = [];
    let failNext = false;
    const removal = new TaskRemoval(meta, {
      deletePrefix: async (prefix) => {
        if (failNext) {
          failNext = false;
          throw new Error('disk went away');
        }
        return blobs.deletePrefix(prefix);
      },
    });
    const old = [await stored(ws), await stored(ws)];
    const kept = await stored(ws, { status: 'failed' });
    const push = await stored(ws, { kind: 'push', status: 'running', sourcePath: old[1]!.sourcePath });
    const going = new Set(old.map((t) => t.taskId));
    const { going: picked, named } = await removal.survey(ws, (t) => going.has(t.taskId));
    assert.deepEqual(new Set(picked.map((t) => t.taskId)), going);
    assert.ok(named.has(sourcePrefix(ws, kept.taskId)) && named.has(sourcePrefix(ws, old[1]!.taskId)));
    failNext = true;
    const deleted = await removal.removeMany(
      ws,
      picked,
      named,
      () => false,
      (err) => failures.push(err),
    );
    assert.equal(deleted, 2);
    assert.equal(failures.length, 1, 'the failed delete was reported, and the rest went on');
    for (const t of old) assert.equal(await meta.getTask(t.taskId), undefined);
    assert.equal((await uploadOf(old[1]!)).length, 1, 'the push names it');
    assert.equal((await uploadOf(kept)).length, 1);
    assert.ok(await meta.getTask(push.taskId));
    assert.equal(
      await removal.removeMany(
        ws,
        picked,
        named,
        () => false,
        () => {},
      ),
      0,
      'gone already',
    );
  });
});
