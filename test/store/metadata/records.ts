// Contract: workspaces, functions and build tasks — CRUD, ordering, lookups by id, conflicts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EunhaError } from '../../../src/core/errors.js';
import { eunhaError, fn, task, uid, workspace } from '../fixtures.js';
import { mentions, type WithStore } from './harness.js';
import type { MetadataStore } from '../../../src/store/ports.js';

export function workspaceTests(withStore: WithStore): void {
  test('workspace: create, get, get missing', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      assert.deepEqual(await store.getWorkspace(ws.id), ws);
      assert.equal(await store.getWorkspace(uid('missing')), undefined);
    }));

  test('workspace: creating an existing id is a CONFLICT and keeps the original', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      await assert.rejects(store.createWorkspace({ ...ws, name: 'other' }), eunhaError('CONFLICT'));
      assert.equal((await store.getWorkspace(ws.id))?.name, ws.name);
    }));

  test('workspace: listing is oldest first and complete', () =>
    withStore(async (store) => {
      const b = workspace({ createdAt: '2026-03-01T10:00:00.000Z' });
      const a = workspace({ createdAt: '2026-03-01T09:00:00.000Z' });
      const c = workspace({ createdAt: '2026-03-01T11:00:00.000Z' });
      for (const ws of [b, c, a]) await store.createWorkspace(ws);
      assert.deepEqual(await store.listWorkspaces(), [a, b, c]);
    }));

  test('workspace: update merges the patch, ignores undefined fields, reports missing', () =>
    withStore(async (store) => {
      const ws = workspace({ description: 'keep me' });
      await store.createWorkspace(ws);
      const renamed = await store.updateWorkspace(ws.id, { name: 'renamed', description: undefined });
      assert.deepEqual(renamed, { ...ws, name: 'renamed' });
      assert.deepEqual(await store.getWorkspace(ws.id), renamed);
      const cleared = await store.updateWorkspace(ws.id, { description: null });
      assert.equal(cleared?.description, null);
      assert.deepEqual(await store.listWorkspaces(), [cleared]);
      assert.equal(await store.updateWorkspace(uid('missing'), { name: 'x' }), undefined);
    }));

  test('workspace: deleting a missing workspace returns undefined', () =>
    withStore(async (store) => {
      assert.equal(await store.deleteWorkspace(uid('missing')), undefined);
    }));
}

export function functionTests(withStore: WithStore): void {
  test('function: create, get, find by id alone', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const f = fn(ws.id, { environmentVariables: { A: '1', 'WITH SPACE': 'x=y', UNICODE: 'é€😀' } });
      await store.createFunction(f);
      assert.deepEqual(await store.getFunction(ws.id, f.id), f);
      assert.deepEqual(await store.findFunction(f.id), f);
      assert.equal(await store.getFunction(uid('other-ws'), f.id), undefined, 'scoped to its workspace');
      assert.equal(await store.findFunction(uid('missing')), undefined);
    }));

  test('function: creating into a missing workspace is NOT_FOUND and writes nothing', () =>
    withStore(async (store) => {
      const before = (await store.dumpKeys()).length;
      const f = fn(uid('ghost-ws'));
      await assert.rejects(store.createFunction(f), eunhaError('NOT_FOUND'));
      assert.equal(await store.findFunction(f.id), undefined);
      assert.equal((await store.dumpKeys()).length, before);
    }));

  test('function: an id already used, in any workspace, is a CONFLICT', () =>
    withStore(async (store) => {
      const [w1, w2] = [workspace(), workspace()];
      await store.createWorkspace(w1);
      await store.createWorkspace(w2);
      const f = fn(w1.id);
      await store.createFunction(f);
      await assert.rejects(store.createFunction({ ...f, name: 'again' }), eunhaError('CONFLICT'));
      await assert.rejects(store.createFunction({ ...f, workspaceId: w2.id }), eunhaError('CONFLICT'));
      assert.deepEqual(await store.findFunction(f.id), f);
      assert.equal(await store.countFunctions(w2.id), 0);
    }));

  test('function: listing is oldest first, per workspace, and agrees with the count', () =>
    withStore(async (store) => {
      const [w1, w2] = [workspace(), workspace()];
      await store.createWorkspace(w1);
      await store.createWorkspace(w2);
      const late = fn(w1.id, { createdAt: '2026-03-01T12:00:00.000Z' });
      const early = fn(w1.id, { createdAt: '2026-03-01T08:00:00.000Z' });
      const mid = fn(w1.id, { createdAt: '2026-03-01T10:00:00.000Z' });
      const elsewhere = fn(w2.id);
      for (const f of [late, early, elsewhere, mid]) await store.createFunction(f);
      assert.deepEqual(await store.listFunctions(w1.id), [early, mid, late]);
      assert.equal(await store.countFunctions(w1.id), 3);
      assert.deepEqual(await store.listFunctions(w2.id), [elsewhere]);
      assert.deepEqual(await store.listFunctions(uid('missing')), []);
      assert.equal(await store.countFunctions(uid('missing')), 0);
    }));

  test('function: update merges the patch and pins id, workspace and creation time', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const f = fn(ws.id);
      await store.createFunction(f);
      const patch = {
        memory: 512,
        status: 'disabled' as const,
        httpMethods: ['PUT'],
        lastModified: '2026-03-02T00:00:00.000Z',
      };
      const updated = await store.updateFunction(ws.id, f.id, patch);
      assert.deepEqual(updated, { ...f, ...patch });
      assert.deepEqual(await store.getFunction(ws.id, f.id), updated);
      assert.deepEqual(await store.findFunction(f.id), updated);
      // An untyped caller smuggling key fields changes nothing about them.
      const sneaky = { id: 'x', workspaceId: 'y', createdAt: 'z', name: 'n' } as unknown as { name: string };
      const after = await store.updateFunction(ws.id, f.id, sneaky);
      assert.deepEqual(after, { ...updated, name: 'n' });
      assert.equal(await store.updateFunction(ws.id, uid('missing'), { memory: 1 }), undefined);
      assert.equal(await store.updateFunction(uid('other-ws'), f.id, { memory: 1 }), undefined);
    }));

  test('function: a patch computed from the record sees it as it is at the write', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const f = fn(ws.id);
      await store.createFunction(f);
      const activeUnlessDisabled = (current: { status: string }) =>
        current.status === 'disabled' ? { memory: 256 } : { memory: 256, status: 'active' as const };
      // Disabled after the caller last read it: the computed patch sees the disable.
      await store.updateFunction(ws.id, f.id, { status: 'disabled' });
      const kept = await store.updateFunction(ws.id, f.id, activeUnlessDisabled);
      assert.equal(kept?.status, 'disabled');
      assert.equal(kept?.memory, 256);
      await store.updateFunction(ws.id, f.id, { status: 'building' });
      assert.equal((await store.updateFunction(ws.id, f.id, activeUnlessDisabled))?.status, 'active');
      assert.equal(await store.updateFunction(ws.id, uid('missing'), activeUnlessDisabled), undefined);
    }));

  test('function: delete returns the record; a wrong workspace deletes nothing', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const [f, g] = [fn(ws.id), fn(ws.id, { createdAt: '2026-03-01T01:00:00.000Z' })];
      await store.createFunction(f);
      await store.createFunction(g);
      assert.equal(await store.deleteFunction(uid('other-ws'), f.id), undefined);
      assert.deepEqual(await store.deleteFunction(ws.id, f.id), f);
      assert.equal(await store.getFunction(ws.id, f.id), undefined);
      assert.equal(await store.findFunction(f.id), undefined);
      assert.equal(await store.deleteFunction(ws.id, f.id), undefined);
      assert.deepEqual(await store.listFunctions(ws.id), [g]);
      assert.equal(await store.countFunctions(ws.id), 1);
    }));

  test('function: what an update or delete check throws leaves the record and its data as they were', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const f = fn(ws.id);
      await store.createFunction(f);
      const scope = { functionId: f.id, store: 'default' };
      await store.kv.set(scope, 'k', new TextEncoder().encode('v'));
      const refuse = (): never => {
        throw new EunhaError('PRECONDITION_FAILED', 'changed since');
      };
      await assert.rejects(store.updateFunction(ws.id, f.id, refuse), eunhaError('PRECONDITION_FAILED'));
      await assert.rejects(store.deleteFunction(ws.id, f.id, refuse), eunhaError('PRECONDITION_FAILED'));
      assert.deepEqual(await store.getFunction(ws.id, f.id), f);
      assert.deepEqual(await store.kv.get(scope, 'k'), new TextEncoder().encode('v'));
      let seen: unknown;
      assert.deepEqual(
        await store.deleteFunction(ws.id, f.id, (current) => {
          seen = current;
        }),
        f,
      );
      assert.deepEqual(seen, f);
      assert.equal(await store.getFunction(ws.id, f.id), undefined);
    }));

  test('function: 200 concurrent creates in one workspace all land', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const fns = Array.from({ length: 200 }, (_, i) =>
        fn(ws.id, { name: `f${i}`, createdAt: new Date(Date.UTC(2026, 2, 1, 0, 0, 0, i)).toISOString() }),
      );
      await Promise.all(fns.map((f) => store.createFunction(f)));
      assert.equal(await store.countFunctions(ws.id), 200);
      const listed = await store.listFunctions(ws.id);
      assert.equal(listed.length, 200);
      assert.deepEqual(listed, fns);
    }));
}

export function taskTests(withStore: WithStore): void {
  test('task: put, get by id alone, list newest first per workspace', () =>
    withStore(async (store) => {
      const [w1, w2] = [workspace(), workspace()];
      await store.createWorkspace(w1);
      await store.createWorkspace(w2);
      const old = task(w1.id, { createdAt: '2026-03-01T01:00:00.000Z' });
      const recent = task(w1.id, { createdAt: '2026-03-01T03:00:00.000Z', kind: 'build-and-push' });
      const middle = task(w1.id, { createdAt: '2026-03-01T02:00:00.000Z', appName: null, sourcePath: null });
      const other = task(w2.id);
      for (const t of [old, recent, other, middle]) await store.putTask(t);
      assert.deepEqual(await store.getTask(middle.taskId), middle);
      assert.equal(await store.getTask(uid('missing')), undefined);
      assert.deepEqual(await store.listTasks(w1.id), [recent, middle, old]);
      assert.deepEqual(await store.listTasks(w2.id), [other]);
      assert.deepEqual(await store.listTasks(uid('missing')), []);
    }));

  test('task: pages of a listing, by limit, cursor and byte size; ties go by id', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const same = '2026-03-01T05:00:00.000Z';
      const tasks = [
        task(ws.id, { taskId: 'task-a', createdAt: same }),
        task(ws.id, { taskId: 'task-b', createdAt: same }),
        task(ws.id, { taskId: 'task-c', createdAt: '2026-03-01T04:00:00.000Z', error: 'x'.repeat(50_000) }),
        task(ws.id, { taskId: 'task-d', createdAt: '2026-03-01T06:00:00.000Z' }),
      ];
      for (const t of tasks) await store.putTask(t);
      const idsOf = async (page: Parameters<MetadataStore['listTasks']>[1]) =>
        (await store.listTasks(ws.id, page)).map((t) => t.taskId);
      assert.deepEqual(await idsOf(undefined), ['task-d', 'task-b', 'task-a', 'task-c']);
      assert.deepEqual(await idsOf({ limit: 2 }), ['task-d', 'task-b']);
      assert.deepEqual(await idsOf({ limit: 2, before: { createdAt: same, taskId: 'task-b' } }), [
        'task-a',
        'task-c',
      ]);
      assert.deepEqual(await idsOf({ before: { createdAt: same, taskId: 'task-a' } }), ['task-c']);
      // The byte cap ends the page before the large one; alone, it still comes back.
      assert.deepEqual(await idsOf({ maxBytes: 10_000 }), ['task-d', 'task-b', 'task-a']);
      assert.deepEqual(await idsOf({ maxBytes: 10_000, before: { createdAt: same, taskId: 'task-a' } }), [
        'task-c',
      ]);
      // An update keeps a task's place.
      await store.updateTask('task-c', { status: 'failed' });
      assert.deepEqual(await idsOf(undefined), ['task-d', 'task-b', 'task-a', 'task-c']);
    }));

  test('task: a task of a missing or deleted workspace is refused and leaves nothing', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      await store.deleteWorkspace(ws.id);
      for (const owner of [ws.id, uid('ws')]) {
        const t = task(owner);
        await assert.rejects(store.putTask(t), eunhaError('NOT_FOUND'));
        assert.equal(await store.getTask(t.taskId), undefined);
        assert.deepEqual(mentions(await store.dumpKeys(), [owner, t.taskId]), []);
      }
    }));

  test('task: delete removes the record and says what it was; a second delete finds nothing', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const [gone, kept] = [task(ws.id), task(ws.id)];
      await store.putTask(gone);
      await store.putTask(kept);
      assert.deepEqual(await store.deleteTask(gone.taskId), gone);
      assert.equal(await store.getTask(gone.taskId), undefined);
      assert.deepEqual(await store.listTasks(ws.id), [kept]);
      assert.equal(await store.deleteTask(gone.taskId), undefined);
      assert.deepEqual(mentions(await store.dumpKeys(), [gone.taskId]), []);
    }));

  test('task: update merges status, result and error; put replaces', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const t = task(ws.id);
      await store.putTask(t);
      const running = await store.updateTask(t.taskId, {
        status: 'running',
        updatedAt: '2026-03-01T00:00:01.000Z',
      });
      assert.deepEqual(running, { ...t, status: 'running', updatedAt: '2026-03-01T00:00:01.000Z' });
      const result = { wasm_path: 'build-artifacts/t/app.wasm', image_url: null, file_path: null };
      const done = await store.updateTask(t.taskId, { status: 'completed', result, error: undefined });
      assert.deepEqual(done, { ...running, status: 'completed', result });
      assert.deepEqual(await store.getTask(t.taskId), done);
      assert.equal(await store.updateTask(uid('missing'), { status: 'failed' }), undefined);
      const replaced = { ...t, status: 'failed' as const, error: 'boom' };
      await store.putTask(replaced);
      assert.deepEqual(await store.getTask(t.taskId), replaced);
      assert.deepEqual(await store.listTasks(ws.id), [replaced]);
    }));
}
