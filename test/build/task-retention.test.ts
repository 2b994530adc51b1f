// Build-task retention (src/build/task-retention.ts) against real stores on a hand-moved clock:
// finished tasks past the period go with their sources; running, pending and recent ones stay,
// and so does every artifact (the start-up sweep owns unreferenced ones).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TaskRetention } from '../../src/build/task-retention.js';
import { sourcePrefix } from '../../src/build/index.js';
import { sweepOrphanBlobs } from '../../src/services/orphan-blobs.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';
import { HOUR, at, task, workspace } from '../store/fixtures.js';
import { ManualClock } from '../store/metadata/harness.js';

const DAY = 24 * HOUR;

test('finished tasks past the retention go with their sources; the rest, and artifacts, stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-task-retention-'));
  const clock = new ManualClock();
  const meta = await openSqliteMetadataStore(join(dir, 'eunha.db'), { now: clock.now });
  const blobs = await openFsBlobStore(join(dir, 'blobs'));
  try {
    const [a, b] = [workspace(), workspace()];
    await meta.createWorkspace(a);
    await meta.createWorkspace(b);
    const now = clock.now();
    const old = at(now, -31 * DAY);
    const tasks = {
      oldDone: task(a.id, { status: 'completed', updatedAt: old }),
      oldFailed: task(a.id, { status: 'failed', updatedAt: old }),
      // Never finished (a restart marks such tasks failed; until then they are not history).
      oldPending: task(a.id, { status: 'pending', updatedAt: old }),
      oldRunning: task(a.id, { status: 'running', updatedAt: old }),
      recentDone: task(a.id, { status: 'completed', updatedAt: at(now, -29 * DAY) }),
      otherOld: task(b.id, { status: 'completed', updatedAt: old }),
      // An old upload a recent push still builds: its source stays, under the old task's prefix.
      uploaded: task(a.id, { status: 'completed', updatedAt: old }),
    };
    const push = task(a.id, {
      kind: 'push',
      status: 'completed',
      updatedAt: at(now, -1 * DAY),
      sourcePath: `${sourcePrefix(a.id, tasks.uploaded.taskId)}/app.py`,
    });
    await meta.putTask(push);
    for (const t of Object.values(tasks)) {
      await meta.putTask(t);
      await blobs.put(`${sourcePrefix(t.workspaceId, t.taskId)}/app.py`, Buffer.from('x = 1\n'));
    }
    const artifact = `artifacts/${a.id}/${'a'.repeat(64)}/manifest.json`;
    await blobs.put(artifact, Buffer.from('{}'));

    const retention = new TaskRetention(meta, blobs, clock.now, { retentionMs: 30 * DAY });
    assert.equal(await retention.sweep(), 4);
    const gone = [tasks.oldDone, tasks.oldFailed, tasks.otherOld, tasks.uploaded];
    for (const t of Object.values(tasks)) {
      const kept = !gone.includes(t);
      assert.equal((await meta.getTask(t.taskId)) !== undefined, kept, `${t.status} ${t.updatedAt}`);
      const sources = await blobs.list(sourcePrefix(t.workspaceId, t.taskId));
      const sourceKept = kept || t === tasks.uploaded;
      assert.equal(sources.length, sourceKept ? 1 : 0, `source of ${t.status} ${t.updatedAt}`);
    }
    assert.deepEqual(await blobs.list(`artifacts/${a.id}`), [artifact]);
    // The start-up sweep keeps it too, while the push names it.
    await sweepOrphanBlobs(meta, blobs);
    assert.deepEqual(await blobs.list(sourcePrefix(a.id, tasks.uploaded.taskId)), [push.sourcePath]);
    assert.equal(await retention.sweep(), 0, 'a second sweep finds nothing more');
    clock.advance(2 * DAY);
    assert.equal(await retention.sweep(), 1, 'the recent one, once it is old too');
    clock.advance(30 * DAY);
    assert.equal(await retention.sweep(), 1, 'the push');
    assert.deepEqual(await blobs.list(sourcePrefix(a.id, tasks.uploaded.taskId)), [], 'and then the upload');
    await retention.close();
  } finally {
    await meta.close();
    await blobs.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an old upload a queued push will read stays, though no record names it yet', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-task-retention-push-'));
  const clock = new ManualClock();
  const meta = await openSqliteMetadataStore(join(dir, 'eunha.db'), { now: clock.now });
  const blobs = await openFsBlobStore(join(dir, 'blobs'));
  try {
    const a = workspace();
    await meta.createWorkspace(a);
    const old = at(clock.now(), -31 * DAY);
    const [read, unread] = [
      task(a.id, { status: 'completed', updatedAt: old }),
      task(a.id, { status: 'completed', updatedAt: old }),
    ];
    for (const t of [read, unread]) {
      await meta.putTask(t);
      await blobs.put(`${sourcePrefix(a.id, t.taskId)}/app.py`, Buffer.from('x = 1\n'));
    }
    // The build service's view: a push of `read`'s upload is queued, its record not written yet.
    const folder = sourcePrefix(a.id, read.taskId);
    const retention = new TaskRetention(meta, blobs, clock.now, {
      retentionMs: 30 * DAY,
      underWay: { has: () => false, reads: (f) => f === folder },
    });
    assert.equal(await retention.sweep(), 2, 'both records go');
    assert.deepEqual(await blobs.list(folder), [`${folder}/app.py`], 'the upload the push reads stays');
    assert.deepEqual(await blobs.list(sourcePrefix(a.id, unread.taskId)), []);
    await retention.close();
  } finally {
    await meta.close();
    await blobs.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
