// Execution-log retention (src/observability/log-retention.ts) against a real SQLite store on a
// hand-moved clock: what a sweep deletes and keeps, batches across a backlog, the timer, close().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogRetention } from '../../src/observability/log-retention.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';
import type { MetadataStore } from '../../src/store/ports.js';
import { HOUR, at, fn, log, workspace } from '../store/fixtures.js';
import { ManualClock } from '../store/metadata/harness.js';

const DAY = 24 * HOUR;

async function withStore(body: (store: MetadataStore, clock: ManualClock) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-retention-'));
  const clock = new ManualClock();
  const store = await openSqliteMetadataStore(join(dir, 'eunha.db'), { now: clock.now });
  try {
    await body(store, clock);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a sweep deletes every function’s logs past the retention, in batches, and keeps the rest', () =>
  withStore(async (store, clock) => {
    const now = clock.now();
    const [a, b] = [workspace(), workspace()];
    await store.createWorkspace(a);
    await store.createWorkspace(b);
    const [fa, fb] = [fn(a.id), fn(b.id)];
    await store.createFunction(fa);
    await store.createFunction(fb);
    // 1,234 logs of fa older than a week (a backlog of several batches), 3 recent ones each.
    const old = Array.from({ length: 1234 }, (_, i) =>
      log(fa, { id: `old-${i}`, timestamp: at(now, -8 * DAY - i) }),
    );
    await store.appendLogs(old);
    await store.appendLogs([log(fb, { id: 'old-b', timestamp: at(now, -10 * DAY) })]);
    for (const f of [fa, fb])
      await store.appendLogs(
        [0, 1, 6].map((d) => log(f, { id: `${f.id}-${d}`, timestamp: at(now, -d * DAY) })),
      );

    const retention = new LogRetention(store, clock.now, { retentionMs: 7 * DAY, batch: 100 });
    assert.equal(await retention.sweep(), 1235);
    assert.equal(await store.countFunctionLogs(fa.id), 3);
    assert.equal(await store.countFunctionLogs(fb.id), 3);
    assert.equal(await retention.sweep(), 0, 'nothing left to delete');
    // Two days later, the 6-day-old logs have aged out.
    clock.advance(2 * DAY);
    assert.equal(await retention.sweep(), 2);
    await retention.close();
  }));

test('started, it sweeps after its first delay and then on its interval; close stops it', () =>
  withStore(async (store, clock) => {
    const ws = workspace();
    await store.createWorkspace(ws);
    const f = fn(ws.id);
    await store.createFunction(f);
    const errors: unknown[] = [];
    const removed: number[] = [];
    const retention = new LogRetention(store, clock.now, {
      retentionMs: DAY,
      firstDelayMs: 10,
      intervalMs: 30,
      onError: (e) => errors.push(e),
      // Told only of passes that removed something (the server logs each).
      onRemoved: (n) => removed.push(n),
    });
    await store.appendLogs([log(f, { id: 'first', timestamp: at(clock.now(), -2 * DAY) })]);
    retention.start();
    const until = async (cond: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(async () => (await store.countFunctionLogs(f.id)) === 0);
    assert.equal(await store.countFunctionLogs(f.id), 0, 'the first sweep ran');
    await store.appendLogs([log(f, { id: 'second', timestamp: at(clock.now(), -2 * DAY) })]);
    await until(async () => (await store.countFunctionLogs(f.id)) === 0);
    assert.equal(await store.countFunctionLogs(f.id), 0, 'a later sweep ran');
    await retention.close();
    await store.appendLogs([log(f, { id: 'third', timestamp: at(clock.now(), -2 * DAY) })]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await store.countFunctionLogs(f.id), 1, 'no sweep after close');
    assert.deepEqual(errors, []);
    assert.deepEqual(removed, [1, 1]);
  }));
