// The execution-log writer (src/observability/log-writer.ts) against a real SQLite store whose file
// is pinned at its size, so writes fail with SQLITE_FULL as on a full disk, on hand-moved timers:
// no write storm while it fails, back-off, recovery without loss, the backlog caps (count and
// bytes), close(); and a store locked by another connection, which must fail fast, not stall.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ExecutionLog, FunctionRecord } from '../../src/core/types.js';
import {
  DEFAULT_MAX_PENDING_BYTES,
  ExecutionLogWriter,
  estimateLogBytes,
  type LogWriterOptions,
  type WriterLogLevel,
  type WriterTimers,
} from '../../src/observability/log-writer.js';
import { BUSY_TIMEOUT_MS, openDatabase, type Db } from '../../src/store/sqlite/connection.js';
import { migrate } from '../../src/store/sqlite/schema.js';
import { SqliteMetadataStore } from '../../src/store/sqlite/store.js';
import { at, fn, log, workspace } from '../store/fixtures.js';

/** Timers that fire only when the test moves time. */
class ManualTimers implements WriterTimers {
  private t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.due.set(++this.seq, { at: this.t + ms, fn });
    return this.seq;
  }
  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.due.delete(handle);
  }
  /** How far ahead each set timer is. */
  delays(): number[] {
    return [...this.due.values()].map((d) => d.at - this.t).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.due].filter(([, d]) => d.at <= end).sort(([, a], [, b]) => a.at - b.at)[0];
      if (!next) break;
      this.due.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

interface Line {
  level: WriterLogLevel;
  fields: Record<string, unknown>;
  msg: string;
}

interface Disk {
  store: SqliteMetadataStore;
  /** The store's connection and its file. */
  db: Db;
  path: string;
  f: FunctionRecord;
  /** Store calls the writer made. */
  calls: number;
  /** Pins the file at its current size: every log needs new pages (its body is larger than one). */
  fill(): void;
  free(): void;
}

const BASE = new Date('2026-03-01T00:00:00.000Z');
// Larger than a 4 KiB page: each row needs overflow pages, so a pinned file can take none.
const BODY = 'x'.repeat(5000);
const entry = (f: FunctionRecord, i: number): ExecutionLog =>
  log(f, { id: `log-${String(i).padStart(5, '0')}`, timestamp: at(BASE, i), responseBody: BODY });

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function withWriter(
  opts: LogWriterOptions,
  body: (w: ExecutionLogWriter, disk: Disk, timers: ManualTimers, lines: Line[]) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-log-writer-'));
  const path = join(dir, 'eunha.db');
  const db: Db = openDatabase(path);
  migrate(db);
  const store = new SqliteMetadataStore(db);
  const ws = workspace();
  await store.createWorkspace(ws);
  const f = fn(ws.id);
  await store.createFunction(f);
  const disk: Disk = {
    store,
    db,
    path,
    f,
    calls: 0,
    fill() {
      assert.equal(db.pragma('freelist_count', { simple: true }), 0, 'no free pages to reuse');
      db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
    },
    free() {
      db.pragma('max_page_count = 1000000');
    },
  };
  const timers = new ManualTimers();
  const lines: Line[] = [];
  const writer = new ExecutionLogWriter(
    {
      appendLogs: (logs) => {
        disk.calls++;
        return store.appendLogs(logs);
      },
    },
    { maxBatch: 100, timers, log: (level, fields, msg) => lines.push({ level, fields, msg }), ...opts },
  );
  try {
    await body(writer, disk, timers, lines);
  } finally {
    disk.free();
    await writer.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function appendAll(w: ExecutionLogWriter, f: FunctionRecord, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    w.append(entry(f, i));
    await turn();
  }
}

/** Ids in the store, oldest first. */
async function stored(disk: Disk): Promise<string[]> {
  return (await disk.store.listFunctionLogs(disk.f.id, 100_000)).map((l) => l.id).reverse();
}
const ids = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `log-${String(from + i).padStart(5, '0')}`);
/** stats() but the byte estimate. */
const counts = (w: ExecutionLogWriter) => {
  const { pending, dropped, failing } = w.stats();
  return { pending, dropped, failing };
};

test('healthy: a batch goes after the flush interval or as soon as it is full', () =>
  withWriter({}, async (w, disk, timers) => {
    await appendAll(w, disk.f, 0, 5);
    assert.equal(disk.calls, 0);
    timers.advance(10);
    await turn();
    assert.equal(disk.calls, 1);
    await appendAll(w, disk.f, 5, 105);
    assert.equal(disk.calls, 2, 'the 100th entry of the batch wrote it without waiting');
    assert.deepEqual(await stored(disk), ids(0, 105));
  }));

test('while the store fails, appends write nothing: one attempt per retry, 1 s doubling to 30 s', () => {
  const errors: number[] = [];
  return withWriter({ onError: (_err, pending) => errors.push(pending) }, async (w, disk, timers, lines) => {
    disk.fill();
    await appendAll(w, disk.f, 0, 1000);
    assert.equal(disk.calls, 1, 'the first full batch tried once; the next 900 appends did not');
    assert.deepEqual(timers.delays(), [1000], 'only the retry timer is set');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'warn');
    assert.match(lines[0]!.msg, /^could not write execution logs: .*database or disk is full; 100 waiting/);
    assert.deepEqual(counts(w), { pending: 1000, dropped: 0, failing: true });

    for (const [n, wait] of [1000, 2000, 4000, 8000, 16000, 30000, 30000].entries()) {
      assert.deepEqual(timers.delays(), [wait]);
      timers.advance(wait - 1);
      await turn();
      assert.equal(disk.calls, n + 1, 'nothing before the retry is due');
      timers.advance(1);
      await turn();
      assert.equal(disk.calls, n + 2);
      assert.equal(lines.length, n + 2, 'one line per failed attempt');
      assert.equal(lines[n + 1]!.fields.pending, 1000);
    }
    for (const line of lines) {
      assert.doesNotMatch(JSON.stringify(line), /\bat .*\.js:\d+/, 'no stack');
      assert.equal(line.fields.error, 'metadata store: database or disk is full');
    }
    assert.deepEqual(errors, [100, ...Array<number>(7).fill(1000)], 'onError hears each attempt');
    assert.deepEqual(await stored(disk), []);
  });
});

test('with room again, the next retry writes the whole backlog once, in order, and batching resumes', () =>
  withWriter({}, async (w, disk, timers, lines) => {
    disk.fill();
    await appendAll(w, disk.f, 0, 1000);
    timers.advance(1000);
    await turn();
    assert.equal(disk.calls, 2);
    disk.free();
    timers.advance(2000);
    for (let i = 0; i < 100 && w.stats().pending > 0; i++) await turn();
    assert.deepEqual(counts(w), { pending: 0, dropped: 0, failing: false });
    assert.equal(disk.calls, 2 + 10, 'one call per batch of 100');
    assert.deepEqual(await stored(disk), ids(0, 1000));
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.level, 'info');
    assert.equal(lines[2]!.msg, 'execution logs are being written again after 3 s of store failures');
    assert.deepEqual(timers.delays(), [], 'no retry left');

    await appendAll(w, disk.f, 1000, 1100);
    assert.equal(disk.calls, 13, 'a full batch is written at once again');
    assert.deepEqual(await stored(disk), ids(0, 1100));
  }));

test('past maxPending the oldest logs are dropped, counted and reported in the next line', () =>
  withWriter({ maxPending: 300 }, async (w, disk, timers, lines) => {
    disk.fill();
    await appendAll(w, disk.f, 0, 100);
    assert.equal(lines.length, 1);
    await appendAll(w, disk.f, 100, 500);
    assert.deepEqual(counts(w), { pending: 300, dropped: 200, failing: true });
    assert.equal(lines.length, 1, 'dropping logs no line per append');

    timers.advance(1000);
    await turn();
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.level, 'error');
    assert.match(lines[1]!.msg, /^dropped 200 execution logs: the store has been failing for 1 s \(/);
    assert.equal(lines[1]!.fields.dropped, 200);

    disk.free();
    timers.advance(2000);
    for (let i = 0; i < 100 && w.stats().pending > 0; i++) await turn();
    assert.deepEqual(await stored(disk), ids(200, 500), 'the newest 300 survive');
    assert.deepEqual(counts(w), { pending: 0, dropped: 200, failing: false });
    assert.equal(lines[2]!.level, 'info', 'the drops were reported already');
  }));

// What a function printing 64 KiB a call leaves: 1,024 lines of 64 characters, and both bodies at
// the 8 KiB cap. The strings are shared: the test holds thousands of these without their heap.
const PRINTED = Array.from({ length: 1024 }, (_, i) => `${String(i).padStart(4, '0')} ${'p'.repeat(59)}`);
const REQUEST = 'q'.repeat(8192);
const RESPONSE = 'r'.repeat(8192);
const bigEntry = (f: FunctionRecord, i: number): ExecutionLog =>
  log(f, {
    id: `log-${String(i).padStart(5, '0')}`,
    timestamp: at(BASE, i),
    requestBody: REQUEST,
    responseBody: RESPONSE,
    logs: PRINTED,
  });

test('past maxPendingBytes the oldest logs are dropped, counted and reported like those past maxPending', () =>
  withWriter({ maxPendingBytes: 1024 * 1024 }, async (w, disk, timers, lines) => {
    const size = estimateLogBytes(bigEntry(disk.f, 0));
    assert.ok(size > 120_000 && size < 130_000, `${size} bytes estimated for 64 KiB printed and two bodies`);
    const fits = Math.floor((1024 * 1024) / size);
    assert.equal(fits, 8);
    disk.fill();
    w.append(bigEntry(disk.f, 0));
    timers.advance(10);
    await turn();
    assert.equal(lines.length, 1, 'the store is failing');
    for (let i = 1; i < 30; i++) {
      w.append(bigEntry(disk.f, i));
      await turn();
      assert.ok(w.stats().pendingBytes <= 1024 * 1024, `${w.stats().pendingBytes} bytes held`);
    }
    assert.deepEqual(w.stats(), {
      pending: fits,
      pendingBytes: fits * size,
      dropped: 30 - fits,
      failing: true,
    });
    assert.equal(lines.length, 1, 'no line per drop');

    timers.advance(1000);
    await turn();
    assert.equal(lines[1]!.level, 'error');
    assert.match(lines[1]!.msg, /^dropped 22 execution logs: the store has been failing for 1 s \(/);
    assert.equal(lines[1]!.fields.dropped, 22);

    disk.free();
    timers.advance(2000);
    for (let i = 0; i < 100 && w.stats().pending > 0; i++) await turn();
    assert.deepEqual(await stored(disk), ids(22, 30), 'the newest 8 survive');
    assert.deepEqual(w.stats(), { pending: 0, pendingBytes: 0, dropped: 22, failing: false });
  }));

test('by default a failing store holds at most 256 MiB of logs that print 64 KiB, not 100,000 of them', () =>
  withWriter({}, async (w, disk) => {
    // 100,000 such logs were ~12 GB of heap (~123 KB each): the process ran out of it first.
    const size = estimateLogBytes(bigEntry(disk.f, 0));
    assert.ok(DEFAULT_MAX_PENDING_BYTES <= 256 * 1024 * 1024);
    const fits = Math.floor(DEFAULT_MAX_PENDING_BYTES / size);
    disk.fill();
    for (let i = 0; i < 4000; i++) {
      w.append(bigEntry(disk.f, i));
      if (i % 100 === 0) await turn();
    }
    await turn();
    const s = w.stats();
    assert.equal(s.failing, true);
    assert.ok(s.pendingBytes <= DEFAULT_MAX_PENDING_BYTES, `${s.pendingBytes} bytes held`);
    assert.equal(s.pending, fits, `~2,170 logs at 256 MiB`);
    assert.equal(s.dropped, 4000 - fits);
    assert.deepEqual(await w.close(), { lost: fits }, 'the disk is still full');
    // Not 270 MB of logs for the cleanup's close() to write: the store drops a deleted function's.
    disk.free();
    await disk.store.deleteFunction(disk.f.workspaceId, disk.f.id);
  }));

test('a write lock held by another connection fails the attempt in ms, not the 5-s busy timeout; the retry writes', () =>
  withWriter({}, async (w, disk, timers, lines) => {
    // An operator's `sqlite3` session in a transaction, or a backup tool: another process's lock.
    const other = new Database(disk.path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await appendAll(w, disk.f, 0, 5);
      const started = performance.now();
      await w.flush();
      const took = performance.now() - started;
      // The store is synchronous: this is how long the event loop was held.
      assert.ok(took < 500, `the attempt held the event loop ${Math.round(took)} ms`);
      assert.equal(disk.calls, 1);
      assert.deepEqual(counts(w), { pending: 5, dropped: 0, failing: true });
      assert.equal(lines.length, 1);
      assert.equal(
        lines[0]!.msg,
        'could not write execution logs: metadata store: database is locked; 5 waiting, next try in 1 s',
      );
      assert.equal(
        disk.db.pragma('busy_timeout', { simple: true }),
        BUSY_TIMEOUT_MS,
        'other writes still wait',
      );
      timers.advance(1000);
      await turn();
      assert.equal(disk.calls, 2, 'the retry meets the lock too');
      assert.deepEqual(await stored(disk), []);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    timers.advance(2000);
    for (let i = 0; i < 100 && w.stats().pending > 0; i++) await turn();
    assert.deepEqual(await stored(disk), ids(0, 5), 'written once the lock is gone');
    assert.deepEqual(counts(w), { pending: 0, dropped: 0, failing: false });
    assert.equal(lines.at(-1)!.level, 'info');
  }));

test('close() while the store fails tries once more, logs the loss at error level and returns it', () =>
  withWriter({}, async (w, disk, timers, lines) => {
    disk.fill();
    await appendAll(w, disk.f, 0, 250);
    assert.equal(disk.calls, 1);
    assert.deepEqual(await w.close(), { lost: 250 });
    assert.equal(disk.calls, 2, 'one final attempt');
    assert.deepEqual(timers.delays(), [], 'no retry after close');
    const last = lines.at(-1)!;
    assert.equal(last.level, 'error');
    assert.equal(
      last.msg,
      'lost 250 execution logs at shutdown: the store is failing (metadata store: database or disk is full)',
    );
  }));

test('close() does not wait for the back-off: with room again it writes everything', () =>
  withWriter({}, async (w, disk) => {
    disk.fill();
    await appendAll(w, disk.f, 0, 150);
    assert.equal(disk.calls, 1);
    disk.free();
    assert.deepEqual(await w.close(), { lost: 0 });
    assert.deepEqual(await stored(disk), ids(0, 150));
  }));

test('a log appended after close() is counted as dropped and said at error level, not kept', () =>
  withWriter({}, async (w, disk, _timers, lines) => {
    await appendAll(w, disk.f, 0, 3);
    assert.deepEqual(await w.close(), { lost: 0 });
    w.append(entry(disk.f, 3));
    assert.equal(w.stats().dropped, 1);
    assert.equal(w.stats().pending, 0);
    assert.equal(lines.at(-1)!.level, 'error');
    assert.match(lines.at(-1)!.msg, /after the log writer closed/);
    assert.deepEqual(await stored(disk), ids(0, 3));
  }));
