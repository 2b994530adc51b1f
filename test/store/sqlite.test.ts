// The SQLite metadata adapter: the shared contract on real temp files, plus what only SQLite has —
// persistence across reopen, the versioned schema, WAL, and query plans that never scan the table.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { EunhaError } from '../../src/core/errors.js';
import { kvEntryBytes } from '../../src/core/kv.js';
import { logEntryBytes } from '../../src/core/log-quota.js';
import { openSqliteMetadataStore, SCHEMA_VERSION } from '../../src/store/sqlite/index.js';
import {
  BUSY_TIMEOUT_MS,
  LOG_APPEND_BUSY_TIMEOUT_MS,
  openDatabase,
  type Db,
} from '../../src/store/sqlite/connection.js';
import { DEPLOYMENT_SQL } from '../../src/store/sqlite/deployments.js';
import { LOG_LIST_SQL } from '../../src/store/sqlite/logs.js';
import { checkpointReports } from '../../src/store/sqlite/checkpointer.js';
import { TASK_LIST_SQL } from '../../src/store/sqlite/tasks.js';
import { migrate } from '../../src/store/sqlite/schema.js';
import { MINUTE_WS_SUM_SQL } from '../../src/store/sqlite/minutes.js';
import {
  FUNCTION_MINUTES_SQL,
  FUNCTION_RANGE_SQL,
  WORKSPACE_RANGE_SQL,
} from '../../src/store/sqlite/stats.js';
import { SqliteMetadataStore } from '../../src/store/sqlite/store.js';
import { HOUR, at, deployment, eunhaError, fn, log, task, workspace } from './fixtures.js';
import { runMetadataStoreContract } from './metadata-contract.js';

const root = mkdtempSync(join(tmpdir(), 'eunha-sqlite-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => join(root, `db-${++counter}`, 'eunha.db');

runMetadataStoreContract('sqlite', (opts) => openSqliteMetadataStore(freshPath(), opts));

/** How SQLite would run `sql` (each `?` bound to 'x' unless given), its steps joined with ' | '. */
function planOf(db: Db, sql: string, params: unknown[] = Array.from(sql.matchAll(/\?/g), () => 'x')): string {
  return db
    .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all(...params)
    .map((r) => r.detail)
    .join(' | ');
}

describe('SQLite metadata store', () => {
  test('the key-value total survives a reopen, and is summed from the entries when its row is missing', async () => {
    const path = freshPath();
    const ws = workspace();
    const f = fn(ws.id);
    const scope = { functionId: f.id, store: 'default' };
    const over = eunhaError('QUOTA_EXCEEDED');
    const quota = { kvMaxBytesPerFunction: 4096 };
    const first = await openSqliteMetadataStore(path, quota);
    await first.createWorkspace(ws);
    await first.createFunction(f);
    await first.kv.set(scope, 'a', new Uint8Array(1500));
    await first.kv.set({ ...scope, store: 'other' }, 'b', new Uint8Array(1500));
    await first.close();
    const used = kvEntryBytes('default', 'a', 1500) + kvEntryBytes('other', 'b', 1500);
    const room = 4096 - used - kvEntryBytes('default', 'c', 0);
    for (const dropRow of [false, true]) {
      if (dropRow) {
        // A file written before the total existed has no such row.
        const raw = new Database(path);
        assert.equal(raw.prepare("DELETE FROM items WHERE sk = 'KVUSAGE'").run().changes, 1);
        raw.close();
      }
      const store = await openSqliteMetadataStore(path, quota);
      try {
        await assert.rejects(store.kv.set(scope, 'c', new Uint8Array(room + 1)), over, `dropRow=${dropRow}`);
      } finally {
        await store.close();
      }
    }
    const last = await openSqliteMetadataStore(path, quota);
    try {
      await last.kv.set(scope, 'c', new Uint8Array(room));
      await assert.rejects(last.kv.set(scope, 'd', new Uint8Array(0)), over);
    } finally {
      await last.close();
    }
  });

  test('a function far over a lowered log quota is trimmed 2,000 logs an append, not all at once', async () => {
    const path = freshPath();
    const ws = workspace();
    const f = fn(ws.id);
    const first = await openSqliteMetadataStore(path);
    await first.createWorkspace(ws);
    await first.createFunction(f);
    const base = Date.parse('2026-03-02T00:00:00.000Z');
    const at = (i: number) => new Date(base + i * 1000).toISOString();
    for (let b = 0; b < 10; b++) {
      await first.appendLogs(Array.from({ length: 500 }, (_, i) => log(f, { timestamp: at(b * 500 + i) })));
    }
    await first.close();
    const quota = 100_000;
    const store = await openSqliteMetadataStore(path, { logMaxBytesPerFunction: quota });
    try {
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) {
        await store.appendLogs([log(f, { timestamp: at(10_000 + i) })]);
        counts.push(await store.countFunctionLogs(f.id));
      }
      assert.deepEqual(counts.slice(0, 2), [3001, 1002]);
      const fits = counts[2]!;
      assert.ok(fits > 50 && fits < 200, `${fits} logs once within the quota`);
      assert.equal(counts[3], fits, 'then one out for each one in');
      const kept = await store.listFunctionLogs(f.id, 1000);
      const bytes = kept.reduce((n, l) => n + logEntryBytes(JSON.stringify(l)), 0);
      assert.ok(bytes <= quota, `${bytes} bytes kept`);
    } finally {
      await store.close();
    }
  });

  test('everything survives close and reopen', async () => {
    const path = freshPath();
    const now = new Date('2026-03-02T12:00:00.000Z');
    const ws = workspace();
    const f = fn(ws.id);
    const t = task(ws.id);
    const l = log(f, { timestamp: at(now, -HOUR), status: 'error', duration: 42 });
    const first = await openSqliteMetadataStore(path);
    await first.createWorkspace(ws);
    await first.createFunction(f);
    await first.putTask(t);
    await first.appendLogs([l]);
    await first.kv.set({ functionId: f.id, store: 'default' }, 'k', Uint8Array.of(0xff, 0));
    await first.createDeployment(deployment(f));
    const active = await first.activateDeployment(f.id, 1);
    await first.close();
    await first.close(); // idempotent

    const second = await openSqliteMetadataStore(path);
    try {
      assert.deepEqual(await second.listWorkspaces(), [ws]);
      assert.deepEqual(await second.findFunction(f.id), f);
      assert.deepEqual(await second.getTask(t.taskId), t);
      assert.deepEqual(await second.listFunctionLogs(f.id, 10), [l]);
      assert.deepEqual(await second.functionStats(f.id, at(now, -24 * HOUR)), {
        invocations: 1,
        errors: 1,
        avgDuration: 42,
      });
      assert.deepEqual(
        await second.kv.get({ functionId: f.id, store: 'default' }, 'k'),
        Uint8Array.of(0xff, 0),
      );
      assert.deepEqual(await second.listActiveDeployments(), [active]);
      assert.equal((await second.createDeployment(deployment(f))).version, 2, 'numbering continues');
    } finally {
      await second.close();
    }
  });

  test('what is deleted or overwritten is not left in the file: secrets, logs, key-value data', async () => {
    const path = freshPath();
    const ws = workspace();
    const marks = {
      secret: 'SEALED-SECRET-4711',
      env: 'ENV-VALUE-0815',
      line: 'PRINTED-LINE-1234',
      kv: 'KV-KEY-9876',
    };
    const f = fn(ws.id, {
      secretEnvironmentVariables: { TOKEN: marks.secret },
      environmentVariables: { OLD: marks.env },
    });
    const store = await openSqliteMetadataStore(path, { checkpointIntervalMs: 0 });
    await store.createWorkspace(ws);
    await store.createFunction(f);
    await store.appendLogs([log(f, { logs: [marks.line] })]);
    await store.kv.set({ functionId: f.id, store: 'default' }, marks.kv, Uint8Array.of(1));
    await store.createDeployment(deployment(f));
    // An overwrite (a rotation re-sealing, a PATCH) leaves no copy of the value it replaced.
    await store.updateFunction(ws.id, f.id, { environmentVariables: { NEW: 'x' } });
    const other = fn(ws.id);
    await store.createFunction(other);
    await store.deleteFunction(ws.id, f.id);
    await store.close();
    const file = readFileSync(path);
    for (const [what, mark] of Object.entries(marks))
      assert.equal(file.indexOf(mark), -1, `the ${what} is still in the database file`);
    assert.ok(!existsSync(`${path}-wal`) || readFileSync(`${path}-wal`).indexOf(marks.secret) === -1);
  });

  test('a final checkpoint that fails (a full disk) closes the store all the same, and loses nothing', async () => {
    // It threw out of close(): the server's stop said "error during shutdown", exited 1 and
    // skipped closing the blob store, with nothing lost (the WAL is replayed at the next open).
    const path = freshPath();
    const db = openDatabase(path);
    migrate(db);
    const full = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== 'pragma') return Reflect.get(target, prop, receiver) as unknown;
        return (sql: string, ...rest: unknown[]) => {
          if (sql.startsWith('wal_checkpoint')) throw new Error('database or disk is full');
          return (target.pragma as (...a: unknown[]) => unknown).call(target, sql, ...rest);
        };
      },
    });
    const store = new SqliteMetadataStore(full);
    const ws = workspace();
    await store.createWorkspace(ws);
    await store.close();
    assert.equal(db.open, false, 'the connection is closed');
    const again = await openSqliteMetadataStore(path);
    try {
      assert.deepEqual(await again.listWorkspaces(), [ws]);
    } finally {
      await again.close();
    }
  });

  test('a closed store refuses calls with DEPENDENCY_UNAVAILABLE', async () => {
    const store = await openSqliteMetadataStore(freshPath());
    await store.close();
    await assert.rejects(store.listWorkspaces(), eunhaError('DEPENDENCY_UNAVAILABLE'));
    await assert.rejects(
      store.kv.keys({ functionId: 'f', store: 's' }),
      eunhaError('DEPENDENCY_UNAVAILABLE'),
    );
  });

  test('the file is in WAL mode at the current schema version', async () => {
    const path = freshPath();
    // A new file is no upgrade: nothing is said.
    const said: string[] = [];
    await (await openSqliteMetadataStore(path, { onMigration: (_f, m) => said.push(m) })).close();
    assert.deepEqual(said, []);
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  test('a checkpoint that keeps failing is said once, then once a minute, and its end once', () => {
    const said: string[] = [];
    let now = 0;
    const report = checkpointReports(
      (m) => said.push(m),
      () => now,
    );
    for (let i = 0; i < 240; i++) {
      report({ error: 'database or disk is full' }); // two minutes at 500 ms
      now += 500;
    }
    report({ ok: true });
    report({ ok: true });
    assert.deepEqual(said, [
      'WAL checkpoint failed: database or disk is full',
      'WAL checkpoint failed (121 in a row): database or disk is full',
      'WAL checkpoints work again after 240 failed',
    ]);
  });

  test('WAL checkpoints run on a background thread, not on the serving connection', async () => {
    // With the background checkpointer, the serving connection only checkpoints past a 64 MB WAL,
    // so the main file can only grow here if the worker copied the WAL into it.
    const logsOf = async (checkpointIntervalMs: number): Promise<{ before: number; after: number }> => {
      const path = freshPath();
      const store = await openSqliteMetadataStore(path, { checkpointIntervalMs });
      try {
        await new Promise((r) => setTimeout(r, 300)); // the worker's first pass: the schema
        const before = statSync(path).size;
        const ws = workspace();
        const f = fn(ws.id);
        await store.createWorkspace(ws);
        await store.createFunction(f);
        const now = new Date();
        await store.appendLogs(
          Array.from({ length: 300 }, (_, i) => log(f, { timestamp: at(now, -i * 1000), duration: i })),
        );
        await new Promise((r) => setTimeout(r, 300));
        return { before, after: statSync(path).size };
      } finally {
        await store.close();
      }
    };
    const background = await logsOf(50);
    assert.ok(
      background.after > background.before,
      `main file ${background.before} → ${background.after} bytes`,
    );
    // The control: without it (and below SQLite's default 1000-page threshold) nothing is copied.
    const inline = await logsOf(0);
    assert.equal(inline.after, inline.before);
  });

  test('migration is idempotent and refuses a file from a newer Eunha', async () => {
    const path = freshPath();
    const db = openDatabase(path);
    try {
      migrate(db);
      migrate(db);
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    } finally {
      db.close();
    }
    await assert.rejects(openSqliteMetadataStore(path), /newer than this Eunha supports/);
  });

  test('a version-1 file migrates: CPU time columns, per-minute sums, log usage, sequence numbers, the indexes of errors and of task times are built from its records', async () => {
    const path = freshPath();
    const ws = workspace();
    const f = fn(ws.id);
    const l = log(f, { timestamp: '2026-03-02T11:30:15.000Z', cpuMs: 7.5, duration: 12 });
    const l2 = log(f, { timestamp: '2026-03-02T11:30:45.000Z', cpuMs: 0.5, duration: 8, status: 'error' });
    {
      // A version-1 file: a function and a log written today, then the later steps undone (for
      // version 2's, the column and the wider index go, the old index comes back). Written newest
      // first, so that numbers given in timestamp order differ from the order written.
      const store = await openSqliteMetadataStore(path);
      await store.createWorkspace(ws);
      await store.createFunction(f);
      await store.appendLogs([l2, l]);
      for (const [id, createdAt] of [
        ['task-old', '2026-03-01T00:00:00.000Z'],
        ['task-new', '2026-03-02T00:00:00.000Z'],
      ] as const)
        await store.putTask(task(ws.id, { taskId: id, createdAt, updatedAt: createdAt }));
      await store.close();
      const db = new Database(path);
      db.exec(`
        DROP INDEX items_task_time;
        UPDATE items SET ts = NULL WHERE kind = 'task';
        DROP INDEX items_log_fn_errors;
        DROP INDEX items_log_ws_errors;
        DROP INDEX items_log_seq;
        ALTER TABLE items DROP COLUMN seq;
        DROP INDEX items_minute_ws;
        DELETE FROM items WHERE kind IN ('minute', 'logusage', 'logseq');
        ALTER TABLE items DROP COLUMN calls;
        DROP INDEX items_log_fn_stats;
        ALTER TABLE items DROP COLUMN cpu_ms;
        CREATE INDEX items_log_fn_stats ON items (pk, ts, is_error, duration_ms) WHERE kind = 'log';
      `);
      db.pragma('user_version = 1');
      db.close();
    }
    // Said before it starts (it holds the start) and once it is done.
    const said: Array<[Record<string, number>, string]> = [];
    const store = await openSqliteMetadataStore(path, { onMigration: (f, m) => said.push([f, m]) });
    assert.deepEqual(
      said.map(([f]) => Object.keys(f)),
      [
        ['fromVersion', 'toVersion', 'databaseMb'],
        ['toVersion', 'ms'],
      ],
    );
    assert.equal(said[0]![0].fromVersion, 1);
    assert.equal(said[0]![0].toVersion, SCHEMA_VERSION);
    assert.match(said[0]![1], /^migrating the metadata database \(\d+ MB\) from schema version 1 to \d+/);
    assert.match(said[1]![1], /^migrated the metadata database in \d+ ms$/);
    try {
      assert.deepEqual(
        await store.functionMinutes(f.id, '2026-03-02T11:00:00.000Z', '2026-03-02T12:00:00.000Z'),
        [{ minute: '2026-03-02T11:30', invocations: 2, errors: 1, durationMs: 20, cpuMs: 8 }],
      );
      assert.deepEqual(await store.functionStats(f.id, '2026-03-02T11:00:00.000Z'), {
        invocations: 2,
        errors: 1,
        avgDuration: 10,
      });
      assert.deepEqual(await store.workspaceStats(ws.id, '2026-03-02T11:00:00.000Z'), {
        invocations: 2,
        errors: 1,
        avgDuration: 10,
      });
      assert.deepEqual(await store.listFunctionLogs(f.id, 10), [l2, l]);
      // Tasks are listed newest first from their index, a page at a time.
      assert.deepEqual(
        (await store.listTasks(ws.id, { limit: 1 })).map((t) => t.taskId),
        ['task-new'],
      );
      assert.deepEqual(
        (
          await store.listTasks(ws.id, {
            before: { createdAt: '2026-03-02T00:00:00.000Z', taskId: 'task-new' },
          })
        ).map((t) => t.taskId),
        ['task-old'],
      );
      // The indexes of errors hold the file's old ones.
      assert.deepEqual(await store.listFunctionLogs(f.id, 10, { status: 'error' }), [l2]);
      assert.deepEqual(await store.listWorkspaceLogs(ws.id, 10, { status: 'error' }), [l2]);
      assert.equal(await store.countFunctionLogs(f.id), 2);
      // Numbered in timestamp order; the next log is numbered after them.
      assert.deepEqual(await store.tailFunctionLogs(f.id, 0, 10), {
        logs: [
          { seq: 1, log: l },
          { seq: 2, log: l2 },
        ],
        more: false,
        last: 2,
      });
      const [next] = await store.appendLogs([log(f, { timestamp: '2026-03-02T11:29:00.000Z' })]);
      assert.equal(next!.seq, 3);
    } finally {
      await store.close();
    }
    // The usage summed by migration 5 is exact to the byte: with room for two logs, a third
    // deletes the oldest and only it.
    const l3 = log(f, { timestamp: '2026-03-02T11:31:00.000Z' });
    const bytes = (x: typeof l): number => logEntryBytes(JSON.stringify(x));
    const tight = await openSqliteMetadataStore(path, { logMaxBytesPerFunction: bytes(l2) + bytes(l3) });
    try {
      await tight.appendLogs([l3]);
      // The 11:29 log counts too: it is the oldest, and goes with l.
      assert.deepEqual(await tight.listFunctionLogs(f.id, 10), [l3, l2]);
    } finally {
      await tight.close();
    }
  });

  test('two connections on one file see each other (WAL readers, busy_timeout writers)', async () => {
    const path = freshPath();
    const a = await openSqliteMetadataStore(path);
    const b = await openSqliteMetadataStore(path);
    try {
      const ws = workspace();
      await a.createWorkspace(ws);
      await b.createFunction(fn(ws.id));
      assert.equal(await a.countFunctions(ws.id), 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("an append of logs gives up on another connection's lock in ~50 ms, other writes keep waiting 5 s", async () => {
    const path = freshPath();
    const db = openDatabase(path);
    migrate(db);
    const store = new SqliteMetadataStore(db);
    const ws = workspace();
    const f = fn(ws.id);
    await store.createWorkspace(ws);
    await store.createFunction(f);
    // An operator's `sqlite3` session in a transaction: the calls are synchronous, a wait for its
    // lock holds the event loop (it was 5 s, every retry of the log writer).
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = performance.now();
      await assert.rejects(store.appendLogs([log(f)]), (err: unknown) => {
        eunhaError('DEPENDENCY_UNAVAILABLE')(err);
        assert.equal((err as EunhaError).details['code'], 'SQLITE_BUSY');
        return true;
      });
      const took = performance.now() - started;
      assert.ok(took >= LOG_APPEND_BUSY_TIMEOUT_MS - 5 && took < 500, `gave up after ${Math.round(took)} ms`);
      assert.equal(db.pragma('busy_timeout', { simple: true }), BUSY_TIMEOUT_MS, 'restored for other writes');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    try {
      assert.equal((await store.appendLogs([log(f)])).length, 1);
      assert.equal(await store.countFunctionLogs(f.id), 1);
    } finally {
      await store.close();
    }
  });

  test('deployment versions are allocated race-free across connections to one file', async () => {
    const path = freshPath();
    const a = await openSqliteMetadataStore(path);
    const b = await openSqliteMetadataStore(path);
    try {
      const ws = workspace();
      const f = fn(ws.id);
      await a.createWorkspace(ws);
      await a.createFunction(f);
      // Alternate connections: each must read the highest version under the write lock, not cache it.
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).createDeployment(deployment(f))),
      );
      assert.deepEqual(
        created.map((d) => d.version).sort((x, y) => x - y),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      await a.activateDeployment(f.id, 7);
      await b.activateDeployment(f.id, 9);
      assert.deepEqual(
        (await a.listDeployments(f.id)).filter((d) => d.active).map((d) => d.version),
        [9],
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('no statement but dumpKeys scans the table', () => {
    // Record every SQL text the store prepares, then ask SQLite how it would run each one.
    const db = openDatabase(freshPath());
    try {
      migrate(db);
      const prepared: string[] = [];
      const spy = new Proxy(db, {
        get(target, prop) {
          if (prop === 'prepare') {
            return (sql: string) => {
              prepared.push(sql);
              return target.prepare(sql);
            };
          }
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      new SqliteMetadataStore(spy);
      const queries = prepared.filter((sql) => !sql.startsWith('INSERT') && !sql.includes('ORDER BY pk, sk'));
      assert.ok(queries.length >= 15, `saw ${queries.length} statements`);
      for (const sql of Object.values(DEPLOYMENT_SQL))
        assert.ok(queries.includes(sql), `not checked: ${sql}`);
      for (const sql of queries) {
        const plan = planOf(db, sql);
        assert.ok(!/\bSCAN items\b/.test(plan), `${sql}\n  plan: ${plan}`);
      }
    } finally {
      db.close();
    }
  });

  test('listings are one index range in the order they answer: deployments, logs (errors from their own indexes), tasks', () => {
    const db = openDatabase(freshPath());
    try {
      migrate(db);
      const primary = /^SEARCH items USING PRIMARY KEY \(pk=\? AND sk>\? AND sk<\?\)$/;
      const gsi = /^SEARCH items USING INDEX items_gsi1 \(gsi1pk=\? AND gsi1sk>\? AND gsi1sk<\?\)$/;
      const cases = [
        [DEPLOYMENT_SQL.allActive, /^SEARCH items USING INDEX items_gsi1 \(gsi1pk=\?\)$/],
        [DEPLOYMENT_SQL.activeOf, /^SEARCH items USING INDEX items_gsi1 \(gsi1pk=\? AND gsi1sk=\?\)$/],
        [DEPLOYMENT_SQL.latest, primary],
        [DEPLOYMENT_SQL.list, primary],
        [LOG_LIST_SQL.function.any, primary],
        [LOG_LIST_SQL.function.success, primary],
        [
          LOG_LIST_SQL.function.error,
          /^SEARCH items USING INDEX items_log_fn_errors \(pk=\? AND sk>\? AND sk<\?\)$/,
        ],
        [LOG_LIST_SQL.workspace.any, gsi],
        [LOG_LIST_SQL.workspace.success, gsi],
        [
          LOG_LIST_SQL.workspace.error,
          /^SEARCH items USING INDEX items_log_ws_errors \(gsi1pk=\? AND gsi1sk>\? AND gsi1sk<\?\)$/,
        ],
        [TASK_LIST_SQL.first, /^SEARCH items USING INDEX items_task_time \(pk=\?\)$/],
        [TASK_LIST_SQL.after, /^SEARCH items USING INDEX items_task_time \(pk=\? AND \(ts,sk\)<\(\?,\?\)\)$/],
      ] as const;
      for (const [sql, expected] of cases) {
        const detail = planOf(db, sql);
        // One step, no temp b-tree: the index order is the order the port promises.
        assert.match(detail, expected, `${sql}\n  plan: ${detail}`);
      }
    } finally {
      db.close();
    }
  });

  test('statistics read only the covering log indexes', () => {
    const db = openDatabase(freshPath());
    try {
      migrate(db);
      const cases = [
        [FUNCTION_RANGE_SQL, 'items_log_fn_stats'],
        [WORKSPACE_RANGE_SQL, 'items_log_ws_stats'],
        [FUNCTION_MINUTES_SQL, 'items_log_fn_stats'],
        [MINUTE_WS_SUM_SQL, 'items_minute_ws'],
      ] as const;
      for (const [sql, index] of cases) {
        const params = ['x', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'].slice(
          0,
          sql.split('?').length - 1,
        );
        const detail = planOf(db, sql, params);
        assert.match(detail, new RegExp(`^SEARCH items USING COVERING INDEX ${index}`), detail);
      }
    } finally {
      db.close();
    }
  });
});
