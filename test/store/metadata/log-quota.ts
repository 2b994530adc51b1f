// Contract: the per-function quota on stored execution logs (core/log-quota.ts). Past it the
// oldest logs go in the same append; what is left always fits; the count follows; statistics and
// other functions do not change; retention afterwards leaves nothing of the function behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logEntryBytes } from '../../../src/core/log-quota.js';
import type { ExecutionLog } from '../../../src/core/types.js';
import { MINUTE, at, fn, log, workspace } from '../fixtures.js';
import { mentions, type WithStore } from './harness.js';

const ids = (logs: Array<{ id: string }>): string[] => logs.map((l) => l.id);
const size = (l: ExecutionLog): number => logEntryBytes(JSON.stringify(l));

export function logQuotaTests(withStore: WithStore): void {
  test('log quota: past it the oldest logs go at once, the count follows, the statistics do not', async () => {
    // Sizes vary (0–3 KB of printed lines), so "fits" is a real sum and not a count of logs.
    const lines = (i: number): string[] => ['x'.repeat((i * 997) % 3000), `call ${i}`];
    const quota = 40_000;
    await withStore(
      async (store, clock) => {
        const ws = workspace();
        await store.createWorkspace(ws);
        const f = fn(ws.id);
        const other = fn(ws.id);
        await store.createFunction(f);
        await store.createFunction(other);
        const start = at(clock.now(), -HOUR_AGO);
        const all = Array.from({ length: 60 }, (_, i) =>
          log(f, {
            id: `q-${String(i).padStart(2, '0')}`,
            timestamp: at(new Date(start), i * MINUTE),
            logs: lines(i),
          }),
        );
        const bystander = log(other, { id: 'bystander', timestamp: start, logs: lines(7) });
        await store.appendLogs([bystander]);
        // What the store must keep: after each batch, the newest logs whose sizes fit, all of them.
        let kept: ExecutionLog[] = [];
        for (let b = 0; b < all.length; b += 12) {
          const batch = all.slice(b, b + 12);
          await store.appendLogs(batch);
          kept = [...kept, ...batch];
          while (kept.reduce((n, l) => n + size(l), 0) > quota) kept.shift();
          const listed = await store.listFunctionLogs(f.id, 1000);
          assert.deepEqual(ids(listed), ids(kept).reverse(), `after batch ${b / 12}`);
          assert.equal(await store.countFunctionLogs(f.id), kept.length);
          assert.deepEqual(await store.functionDataUsage(f.id), {
            logBytes: kept.reduce((n, l) => n + size(l), 0),
            keyValueBytes: 0,
          });
        }
        assert.ok(kept.length > 5 && kept.length < 40, `the quota bit: ${kept.length} of 60 kept`);
        // A tail resumed before the deleted logs hears that it missed some; one after them does not.
        const tail = await store.tailFunctionLogs(f.id, 0, 1000);
        assert.deepEqual(ids(tail.logs.map((e) => e.log)), ids(kept));
        assert.equal(tail.more, true);
        assert.equal((await store.tailFunctionLogs(f.id, tail.logs[0]!.seq - 1, 1000)).more, false);
        const total = all.reduce((n, l) => n + size(l), 0);
        assert.ok(total > 2 * quota, 'the logs written were well over the quota');

        // Every call still counts, minute by minute.
        const stats = await store.functionStats(f.id, at(new Date(start), -MINUTE));
        assert.equal(stats.invocations, 60);
        assert.equal((await store.functionMinutes(f.id, start, clock.now().toISOString())).length, 60);
        // The other function is untouched.
        assert.deepEqual(ids(await store.listFunctionLogs(other.id, 10)), ['bystander']);
        assert.equal(await store.countFunctionLogs(other.id), 1);

        // Retention past every log: nothing of the function is left, not even the minutes whose
        // logs the quota deleted.
        const after = at(clock.now(), MINUTE);
        assert.equal(await store.deleteFunctionLogsBefore(f.id, after, 1000), kept.length);
        assert.equal(await store.countFunctionLogs(f.id), 0);
        assert.equal((await store.functionDataUsage(f.id)).logBytes, 0);
        assert.deepEqual(await store.functionMinutes(f.id, start, after), []);
        // What is left is the function and the note of its highest deleted sequence number.
        assert.deepEqual(mentions(await store.dumpKeys(), [f.id]), [
          `FN#${f.id} | LOGDELETED`,
          `WS#${ws.id} | FN#${f.id}`,
        ]);
      },
      { logMaxBytesPerFunction: quota },
    );
  });

  test('log quota: a replaced log counts its new size once; one batch past the quota trims in place', () =>
    withStore(
      async (store, clock) => {
        const ws = workspace();
        await store.createWorkspace(ws);
        const f = fn(ws.id);
        await store.createFunction(f);
        const ts = (i: number): string => at(clock.now(), (i - 100) * MINUTE);
        const small = log(f, { id: 'again', timestamp: ts(0), logs: ['s'] });
        const big = { ...small, logs: ['b'.repeat(6000)] };
        await store.appendLogs([small]);
        await store.appendLogs([big]);
        assert.equal(await store.countFunctionLogs(f.id), 1);
        // 6 KB is counted once, not 6 KB + the small one: two more 1.5-KB logs still fit in 12 KB.
        const more = [1, 2].map((i) => log(f, { id: `m-${i}`, timestamp: ts(i), logs: ['m'.repeat(1500)] }));
        await store.appendLogs(more);
        assert.deepEqual(ids(await store.listFunctionLogs(f.id, 10)), ['m-2', 'm-1', 'again']);
        // One batch far over the quota on its own keeps only its newest logs that fit.
        const flood = Array.from({ length: 20 }, (_, i) =>
          log(f, { id: `f-${String(i).padStart(2, '0')}`, timestamp: ts(10 + i), logs: ['f'.repeat(2000)] }),
        );
        await store.appendLogs(flood);
        const left = await store.listFunctionLogs(f.id, 100);
        const fits = Math.floor(12_000 / size(flood[0]!));
        assert.deepEqual(ids(left), ids(flood.slice(-fits)).reverse());
        assert.equal(await store.countFunctionLogs(f.id), fits);
        assert.equal((await store.functionStats(f.id, ts(-1))).invocations, 23);
      },
      { logMaxBytesPerFunction: 12_000 },
    ));
}

const HOUR_AGO = 2 * 60 * MINUTE;
