// Deletes leave nothing behind (checked by listing the store), and the 24h statistics come from
// invocation records in a real rolling window (records written through the store port, clock injected).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ExecutionLog } from '../../src/core/types.js';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { MAX_FUNCTIONS_PER_WORKSPACE } from '../../src/services/functions.js';

const HOUR = 3600_000;

function log(
  fn: { id: string; workspaceId: string },
  at: Date,
  status: 'success' | 'error',
  duration: number,
  n: number,
): ExecutionLog {
  return {
    id: `log-${n}`,
    functionId: fn.id,
    workspaceId: fn.workspaceId,
    timestamp: at.toISOString(),
    status,
    duration,
    statusCode: status === 'success' ? 200 : 500,
    requestBody: { n },
    responseBody: 'ok',
    logs: [`line ${n}`],
    level: status === 'success' ? 'info' : 'error',
    coldStart: false,
    deploymentVersion: 1,
    cpuMs: 1,
  };
}

describe('cascading deletes and rolling statistics', () => {
  let p: TestPlatform;
  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => p.cleanup());

  const newWs = async (name: string) =>
    (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name } })).json();
  const newFn = async (ws: string, name: string) =>
    (
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name, code: b64(`# ${name}\n`) },
      })
    ).json();

  test('statistics cover exactly the last 24 hours and move with the clock', async () => {
    const ws = await newWs('stats');
    const a = await newFn(ws.id, 'a');
    const b = await newFn(ws.id, 'b');
    const now = p.clock.now;
    const at = (h: number) => new Date(now.getTime() - h * HOUR);
    await p.meta.appendLogs([
      log(a, at(25), 'error', 1000, 1), // outside the window
      log(a, at(23), 'success', 10, 2),
      log(a, at(1), 'error', 30, 3),
      log(b, at(2), 'success', 20, 4),
      log(b, at(0.5), 'success', 40, 5),
    ]);
    const fa = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}/functions/${a.id}` })
    ).json();
    assert.deepEqual([fa.invocations24h, fa.errors24h, fa.avgDuration], [2, 1, 20]);
    const w = (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}` })).json();
    assert.equal(w.functionCount, 2);
    assert.equal(w.invocations24h, 4);
    assert.equal(w.errors24h, 1);
    assert.equal(w.errorRate, 25);
    assert.equal(w.avgDuration, 25);

    p.clock.advance(2 * HOUR); // the record at -23h falls out of the window
    const fa2 = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}/functions/${a.id}` })
    ).json();
    assert.deepEqual([fa2.invocations24h, fa2.errors24h, fa2.avgDuration], [1, 1, 30]);
    const list = (await p.app.inject({ method: 'GET', url: '/api/workspaces' })).json() as Array<{
      id: string;
      invocations24h: number;
    }>;
    assert.equal(list.find((x) => x.id === ws.id)?.invocations24h, 3);

    const logs = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}/functions/${a.id}/logs?limit=2` })
    ).json();
    assert.equal(logs.total, 3);
    assert.equal(logs.logs.length, 2);
    assert.equal(logs.logs[0].id, 'log-3'); // newest first
    // {logs, total} as the seed answered: its console reads `.logs`.
    const wsLogs = (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}/logs` })).json();
    assert.deepEqual(
      wsLogs.logs.map((l: { id: string }) => l.id),
      ['log-5', 'log-3', 'log-4', 'log-2', 'log-1'],
    );
    assert.equal(wsLogs.total, 5);
  });

  test('deleting a function removes its code and logs; deleting a workspace removes everything', async () => {
    const keep = await newWs('keep');
    const kf = await newFn(keep.id, 'kept');
    await p.meta.appendLogs([log(kf, p.clock.now, 'success', 1, 100)]);
    await p.meta.kv.set({ functionId: kf.id, store: 'default' }, 'k', new Uint8Array([1]));

    const ws = await newWs('doomed');
    const f1 = await newFn(ws.id, 'one');
    const f2 = await newFn(ws.id, 'two');
    await p.meta.appendLogs([log(f1, p.clock.now, 'success', 1, 101), log(f2, p.clock.now, 'error', 1, 102)]);
    await p.meta.kv.set({ functionId: f1.id, store: 'default' }, 'k', new Uint8Array([2]));
    await p.meta.putTask({
      taskId: 'task-doomed',
      workspaceId: ws.id,
      appName: 'one',
      kind: 'build',
      status: 'completed',
      sourcePath: null,
      result: null,
      error: null,
      createdAt: p.clock.now.toISOString(),
      updatedAt: p.clock.now.toISOString(),
    });

    const mentions = async (id: string) =>
      (await p.meta.dumpKeys()).filter((k) => k.pk.includes(id) || k.sk.includes(id)).length;

    assert.equal(
      (await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws.id}/functions/${f1.id}` }))
        .statusCode,
      204,
    );
    assert.equal(await mentions(f1.id), 0);
    assert.deepEqual(await p.blobs.list(`code/${ws.id}/${f1.id}`), []);
    assert.equal(await p.meta.kv.exists({ functionId: f1.id, store: 'default' }, 'k'), false);

    assert.equal((await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws.id}` })).statusCode, 204);
    assert.equal(await mentions(ws.id), 0);
    assert.equal(await mentions(f2.id), 0);
    assert.equal(await p.meta.getTask('task-doomed'), undefined);
    assert.deepEqual(await p.blobs.list(`code/${ws.id}`), []);

    // The other workspace is untouched.
    assert.ok((await mentions(keep.id)) >= 2);
    assert.ok((await mentions(kf.id)) >= 2);
    assert.equal((await p.meta.listFunctionLogs(kf.id, 10)).length, 1);
    assert.equal((await p.blobs.list(`code/${keep.id}/${kf.id}`)).length, 1);
  });

  test('as many parallel creates as a workspace may hold lose nothing', async () => {
    const ws = await newWs('parallel');
    const results = await Promise.all(
      Array.from({ length: MAX_FUNCTIONS_PER_WORKSPACE }, (_, i) =>
        p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws.id}/functions`,
          payload: { name: `f${i}`, code: b64(`n = ${i}\n`) },
        }),
      ),
    );
    assert.ok(results.every((r) => r.statusCode === 201));
    const ids = new Set(results.map((r) => r.json().id as string));
    assert.equal(ids.size, MAX_FUNCTIONS_PER_WORKSPACE);
    const list = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}/functions` })
    ).json() as Array<{ id: string }>;
    assert.equal(list.length, MAX_FUNCTIONS_PER_WORKSPACE);
    assert.deepEqual(new Set(list.map((f) => f.id)), ids);
    const w = (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}` })).json();
    assert.equal(w.functionCount, MAX_FUNCTIONS_PER_WORKSPACE);
  });

  test('a delete removes a function’s logs a batch at a time, not in one transaction (with If-Match, in its own)', async () => {
    const ws = await newWs('purge');
    const fns = [await newFn(ws.id, 'a'), await newFn(ws.id, 'b'), await newFn(ws.id, 'c')];
    let n = 0;
    for (const fn of fns) {
      const logs = Array.from({ length: 4500 }, () => log(fn, p.clock.now, 'success', 1, ++n));
      // Unique ids across the functions: the fixture numbers them.
      await p.meta.appendLogs(logs.map((l) => ({ ...l, id: `${l.id}-${fn.id}` })));
    }
    const original = p.meta.deleteFunctionLogsBefore;
    let batches = 0;
    p.meta.deleteFunctionLogsBefore = (...args) => {
      batches++;
      return original.apply(p.meta, args);
    };
    try {
      const url = (fn: { id: string }) => `/api/workspaces/${ws.id}/functions/${fn.id}`;
      assert.equal((await p.app.inject({ method: 'DELETE', url: url(fns[0]) })).statusCode, 204);
      assert.equal(batches, 19, '4,500 logs: 18 of 250, and one that finds none left');
      assert.equal(await p.meta.countFunctionLogs(fns[0].id), 0);
      // With If-Match the logs go in the function's own transaction (a failed check keeps them).
      const etag = String((await p.app.inject({ method: 'GET', url: url(fns[1]) })).headers.etag);
      const stale = await p.app.inject({
        method: 'DELETE',
        url: url(fns[1]),
        headers: { 'if-match': '"stale"' },
      });
      assert.equal(stale.statusCode, 412);
      assert.equal(await p.meta.countFunctionLogs(fns[1].id), 4500, 'a refused delete keeps every log');
      const tagged = await p.app.inject({
        method: 'DELETE',
        url: url(fns[1]),
        headers: { 'if-match': etag },
      });
      assert.equal(tagged.statusCode, 204);
      assert.equal(batches, 19);
      assert.equal(await p.meta.countFunctionLogs(fns[1].id), 0);
      // A workspace's delete purges each of its functions' logs in batches first.
      assert.equal(
        (await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws.id}` })).statusCode,
        204,
      );
      assert.equal(batches, 38);
      assert.equal(await p.meta.countFunctionLogs(fns[2].id), 0);
    } finally {
      p.meta.deleteFunctionLogsBefore = original;
    }
  });
});
