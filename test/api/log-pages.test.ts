// Paging and selecting execution logs over the API: `next`/`before` walk every stored log once,
// whatever arrives meanwhile; `since`, `until` and `status` select; bad selections are 400s.
// Logs are written through the store port with known timestamps (the clock is injected).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ExecutionLog } from '../../src/core/types.js';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const SECOND = 1000;

interface Page {
  logs: ExecutionLog[];
  total: number;
  next: string | null;
}

describe('pages of execution logs', () => {
  let p: TestPlatform;
  let ws = '';
  let fn = '';
  let other = '';
  let n = 0;
  const log = (
    functionId: string,
    at: number,
    status: 'success' | 'error',
    lines: string[] = [],
  ): ExecutionLog => ({
    id: `log-${String(++n).padStart(4, '0')}`,
    functionId,
    workspaceId: ws,
    timestamp: new Date(p.clock.now.getTime() - at).toISOString(),
    status,
    duration: 1,
    statusCode: status === 'success' ? 200 : 500,
    requestBody: null,
    responseBody: null,
    logs: lines,
    level: status === 'success' ? 'info' : 'error',
    coldStart: false,
    deploymentVersion: 1,
    cpuMs: 1,
  });

  before(async () => {
    p = await startTestPlatform();
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'pages' } })).json()
      .id;
    const create = async (name: string) =>
      (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          payload: { name, code: b64('# no code\n') },
        })
      ).json().id as string;
    fn = await create('paged');
    other = await create('other');
    // 40 logs, one a second back from now, every fourth an error; the other function's are
    // interleaved in the workspace's listing.
    await p.meta.appendLogs(
      Array.from({ length: 40 }, (_, i) => log(fn, (i + 1) * SECOND, i % 4 === 3 ? 'error' : 'success')),
    );
    await p.meta.appendLogs(Array.from({ length: 5 }, (_, i) => log(other, i * 7 * SECOND + 500, 'success')));
  });
  after(async () => p.cleanup());

  const get = async (url: string) => {
    const res = await p.app.inject({ method: 'GET', url });
    return {
      status: res.statusCode,
      body: res.json() as Page & { error?: { message: string; details: { field: string } } },
    };
  };
  const fnLogs = (q: string) => get(`/api/workspaces/${ws}/functions/${fn}/logs?${q}`);
  const wsLogs = (q: string) => get(`/api/workspaces/${ws}/logs?${q}`);

  /** Follows `next` to the end; answers every log's id in order. */
  const walk = async (
    list: (q: string) => ReturnType<typeof get>,
    q: string,
    between?: () => Promise<void>,
  ) => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await list(cursor === null ? q : `${q}&before=${cursor}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      seen.push(...r.body.logs.map((l) => l.id));
      cursor = r.body.next;
      pages++;
      await between?.();
    } while (cursor !== null && pages < 100);
    return { seen, pages };
  };
  // Ids are numbered from the newest log back (see `before`).
  const newestFirst = (ids: string[]) => [...new Set(ids)].sort();

  test('next walks every log once, newest first, while new ones arrive', async () => {
    const { seen, pages } = await walk(fnLogs, 'limit=7', async () => {
      await p.meta.appendLogs([log(fn, 0, 'success')]); // newer than every page: never in the walk
    });
    assert.equal(pages, 6, '40 logs in pages of 7');
    assert.equal(seen.length, 40);
    assert.deepEqual(seen, newestFirst(seen), 'newest first, none twice');
    const first = await fnLogs('limit=5');
    assert.equal(first.body.total, 46, 'total counts every stored log of the function');
    const end = await fnLogs(`limit=1000`);
    assert.equal(end.body.next, null, 'one page holds them all: no next');
  });

  test('status, since and until select, alone and together, across pages', async () => {
    const errors = await walk(fnLogs, 'status=error&limit=3');
    assert.equal(errors.seen.length, 10);
    const all = (await fnLogs('limit=1000')).body.logs;
    const byId = new Map(all.map((l) => [l.id, l]));
    assert.ok(errors.seen.every((id) => byId.get(id)?.status === 'error'));
    const ok = (await fnLogs('status=success&limit=1000')).body.logs;
    assert.ok(ok.length > 0 && ok.every((l) => l.status === 'success'));
    assert.equal(ok.length + errors.seen.length, all.length);

    const now = p.clock.now.getTime();
    const since = new Date(now - 10.5 * SECOND).toISOString();
    const until = new Date(now - 4.5 * SECOND).toISOString();
    const window = (await fnLogs(`since=${since}&until=${until}&limit=1000`)).body.logs;
    assert.equal(window.length, 6, 'logs 5 to 10 seconds old');
    for (const l of window) {
      assert.ok(l.timestamp >= since && l.timestamp < until, l.timestamp);
    }
    const windowErrors = (await fnLogs(`since=${since}&until=${until}&status=error`)).body.logs;
    assert.deepEqual(
      windowErrors.map((l) => l.id),
      window.filter((l) => l.status === 'error').map((l) => l.id),
    );
  });

  test("the workspace's listing pages across its functions the same way", async () => {
    const { seen } = await walk(wsLogs, 'limit=9');
    const everything = (await wsLogs('limit=1000')).body;
    assert.equal(everything.next, null);
    assert.deepEqual(
      seen,
      everything.logs.map((l) => l.id),
    );
    assert.ok(seen.some((id) => everything.logs.find((l) => l.id === id)?.functionId === other));
    const errors = (await wsLogs('status=error&limit=1000')).body.logs;
    assert.equal(errors.length, 10);
  });

  test('a page the byte cap ends early still has a next', async () => {
    // 4 MiB a page: 80 logs of ~64 KB do not fit in one.
    const big = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name: 'big', code: b64('# big\n') },
    });
    const id = big.json().id as string;
    const line = 'x'.repeat(1000);
    await p.meta.appendLogs(
      Array.from({ length: 80 }, (_, i) => log(id, i * SECOND, 'success', Array(64).fill(line))),
    );
    const first = await get(`/api/workspaces/${ws}/functions/${id}/logs?limit=100`);
    assert.ok(first.body.logs.length < 80, `${first.body.logs.length} logs in the first page`);
    assert.notEqual(first.body.next, null);
    const { seen } = await walk((q) => get(`/api/workspaces/${ws}/functions/${id}/logs?${q}`), 'limit=100');
    assert.equal(seen.length, 80);
  });

  test('bad selections are 400s naming the field', async () => {
    const cases: Array<[string, string]> = [
      ['before=not-a-cursor!', 'before'],
      [`before=${Buffer.from('yesterday#x').toString('base64url')}`, 'before'],
      ['since=yesterday', 'since'],
      ['until=2026-13-01T00:00:00Z', 'until'],
      ['since=2026-11-27T10:00:00Z&until=2026-11-27T09:00:00Z', 'since'],
      ['status=failed', 'status'],
      ['follow=true&status=error', 'status'],
      ['follow=true&before=abc', 'before'],
    ];
    for (const [q, field] of cases) {
      for (const list of [fnLogs, wsLogs]) {
        if (q.startsWith('follow') && list === wsLogs) continue;
        const r = await list(q);
        assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.details.field, field, q);
      }
    }
    // A live tail follows one function: asked of the workspace, it is refused, not ignored.
    const tail = await wsLogs('follow=true');
    assert.equal(tail.status, 400);
    assert.equal(tail.body.error?.details.field, 'follow');
    assert.match(tail.body.error?.message, /functions\/\{function_id\}\/logs\?follow=true/);
    assert.equal((await wsLogs('follow=false')).status, 200);
  });
});
