// The schema of the SQLite metadata store and its migrations, versioned with PRAGMA user_version.
// A migration is appended, never edited: version N of the file is what migrations[0..N-1] built.
//
// One table, `items`, mirrors the DynamoDB single-table design (see ../keys.ts): pk/sk is the main
// key, gsi1pk/gsi1sk the secondary one. Execution-log rows also carry their timestamp, workspace,
// error flag, duration and (since version 2) CPU time in plain columns with covering indexes, so
// every statistic is an index range aggregate over real invocation records instead of a counter.
//
// Deployments (kind 'deployment') came after version 1 and needed no migration: they use only
// pk/sk and the existing items_gsi1 index, so a version-1 file already serves them. API keys
// (kind 'apikey') likewise: WS#{ws}/KEY#{id} plus gsi1 APIKEY#{sha256}.
import type { Db } from './connection.js';

type Migration = (db: Db) => void;

const migrations: Migration[] = [
  // 1: the single table and its indexes.
  (db) => {
    db.exec(`
      CREATE TABLE items (
        pk          TEXT NOT NULL,
        sk          TEXT NOT NULL,
        -- 'workspace' | 'function' | 'task' | 'log' | 'kv'; lets partial indexes cover one kind.
        kind        TEXT NOT NULL,
        -- The record as JSON (NULL for kv entries, whose value is raw bytes in bin).
        data        TEXT,
        bin         BLOB,
        gsi1pk      TEXT,
        gsi1sk      TEXT,
        -- Execution logs only: canonical ISO timestamp, workspace, 1 when status = 'error', ms.
        ts          TEXT,
        ws_id       TEXT,
        is_error    INTEGER,
        duration_ms REAL,
        PRIMARY KEY (pk, sk)
      ) WITHOUT ROWID;

      CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk) WHERE gsi1pk IS NOT NULL;

      -- Covering indexes for statistics: the aggregate never touches the JSON of a row.
      CREATE INDEX items_log_fn_stats ON items (pk, ts, is_error, duration_ms) WHERE kind = 'log';
      CREATE INDEX items_log_ws_stats ON items (ws_id, ts, is_error, duration_ms) WHERE kind = 'log';
    `);
  },
  // 2: each log's CPU time in a column of its own and in the function's covering index, so the
  // per-minute series of GET /api/functions/{fn}/metrics is an index range aggregate too. It read
  // and parsed up to 100,000 log rows per call (~0.35 s of the event loop) and was partial beyond.
  (db) => {
    db.exec(`
      ALTER TABLE items ADD COLUMN cpu_ms REAL;
      UPDATE items SET cpu_ms = json_extract(data, '$.cpuMs') WHERE kind = 'log';
      DROP INDEX items_log_fn_stats;
      CREATE INDEX items_log_fn_stats ON items (pk, ts, is_error, duration_ms, cpu_ms) WHERE kind = 'log';
    `);
  },
  // 3: per-minute sums of each function's logs, kept up to date by every append (minutes.ts), so
  // that statistics over a day read at most 1,440 rows per function instead of every log: at
  // 100 invocations/s a function's 24-hour statistics read 8.6 million index entries (~1 s, from
  // 47 ms measured at 360,000).
  // Rows FN#{fn}/MIN#{minute}: calls, is_error (a count here), duration_ms and cpu_ms (sums).
  (db) => {
    db.exec(`
      ALTER TABLE items ADD COLUMN calls INTEGER;
      CREATE INDEX items_minute_ws ON items (ws_id, ts, calls, is_error, duration_ms) WHERE kind = 'minute';
      INSERT INTO items (pk, sk, kind, ts, ws_id, calls, is_error, duration_ms, cpu_ms)
        SELECT pk, 'MIN#' || substr(ts, 1, 16), 'minute', substr(ts, 1, 16) || ':00.000Z', min(ws_id),
               count(*), sum(is_error), sum(duration_ms), sum(cpu_ms)
        FROM items WHERE kind = 'log' GROUP BY pk, substr(ts, 1, 16);
    `);
  },
  // 4: each function's key-value quota total, FN#{fn}/KVUSAGE (kv.ts), needs no new column; the
  // version moves so that an older Eunha, which writes entries without keeping the total, refuses
  // the file instead of leaving a stale total behind. Totals are summed again from the entries.
  (db) => {
    db.exec(`DELETE FROM items WHERE sk = 'KVUSAGE' AND kind = 'kvusage';`);
  },
  // 5: each function's stored logs, counted and sized in one row, FN#{fn}/LOGUSAGE (logs.ts), for
  // the per-function log quota; the listing's `total` reads it too, as the minutes' sums no longer
  // match the logs once the quota has deleted some. Summed here once from the logs there are.
  // Written out, not imported: a migration must build what it built the day it was written. 256
  // is LOG_ENTRY_OVERHEAD (core/log-quota.ts); changing that takes a migration of its own.
  (db) => {
    db.exec(`
      INSERT INTO items (pk, sk, kind, data)
        SELECT pk, 'LOGUSAGE', 'logusage',
               json_object('count', count(*), 'bytes', sum(length(CAST(data AS BLOB)) + 256))
        FROM items WHERE kind = 'log' GROUP BY pk;
    `);
  },
  // 6: a write sequence number on each log (logs.ts), so that a live tail resumes exactly after
  // the last entry it sent (SSE Last-Event-ID): neither a log's timestamp (its start) nor its key
  // follows the order logs are written in, which is the order a tail sends them. The logs there
  // are get numbers in timestamp order; the last one given is kept in LOGSEQ/LOGSEQ.
  (db) => {
    db.exec(`
      ALTER TABLE items ADD COLUMN seq INTEGER;
      UPDATE items SET seq = r.n
        FROM (SELECT pk, sk, row_number() OVER (ORDER BY ts, pk, sk) AS n FROM items WHERE kind = 'log') AS r
        WHERE items.pk = r.pk AND items.sk = r.sk;
      CREATE INDEX items_log_seq ON items (pk, seq) WHERE kind = 'log';
      INSERT INTO items (pk, sk, kind, data)
        SELECT 'LOGSEQ', 'LOGSEQ', 'logseq', CAST(max(seq) AS TEXT) FROM items WHERE kind = 'log' HAVING count(*) > 0;
    `);
  },
  // 7: listing only a function's (or a workspace's) failed invocations. Partial indexes hold the
  // errors alone, so finding the last few among many successes reads only them, and a successful
  // call's insert, the hot path, pays for neither.
  (db) => {
    db.exec(`
      CREATE INDEX items_log_fn_errors ON items (pk, sk) WHERE kind = 'log' AND is_error = 1;
      CREATE INDEX items_log_ws_errors ON items (gsi1pk, gsi1sk) WHERE kind = 'log' AND is_error = 1;
    `);
  },
  // 8: build tasks listed newest first from an index, a page at a time (tasks.ts), instead of
  // every task of the workspace loaded and sorted. `ts` holds a task's createdAt.
  (db) => {
    db.exec(`
      UPDATE items SET ts = json_extract(data, '$.createdAt') WHERE kind = 'task';
      CREATE INDEX items_task_time ON items (pk, ts, sk) WHERE kind = 'task';
    `);
  },
];

export const SCHEMA_VERSION = migrations.length;

/**
 * A database written by a newer Eunha: this build cannot know its layout. A refusal to start (exit
 * 2, main.ts), not a crash: the remedy is a newer build or a backup of this version's, not a retry.
 */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

/** What a migration of an existing file says, before it starts and once it is done. */
export type MigrationLog = (fields: Record<string, number>, msg: string) => void;

/**
 * Brings the file up to SCHEMA_VERSION; refuses a file written by a newer Eunha. An existing file's
 * migration is said to `log` first: it holds the start (a review's 1.1-GB file took 37 s), and a
 * stop meanwhile undoes it, so a probe that kills a silent start made every start begin again.
 */
export function migrate(db: Db, log?: MigrationLog): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new SchemaTooNewError(
      `${db.name}: metadata database schema version ${current} is newer than this Eunha supports ` +
        `(${SCHEMA_VERSION}); run the newer Eunha that wrote it, or restore a backup made by this version`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  const t0 = performance.now();
  // A new file (version 0) has nothing to migrate: only an upgrade is worth a word.
  const said = current > 0 && log !== undefined;
  if (said) {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const mb = Math.round((pages * pageSize) / 1e6);
    log(
      { fromVersion: current, toVersion: SCHEMA_VERSION, databaseMb: mb },
      `migrating the metadata database (${mb} MB) from schema version ${current} to ${SCHEMA_VERSION}: ` +
        'the server starts once it is done, which may take minutes for a large database (about 35 s a GB); ' +
        'a stop meanwhile undoes it, and the next start begins it again',
    );
  }
  // All pending steps and the version bump commit together: a crash mid-way leaves the old version.
  // The version is read again under the write lock, in case another process migrated meanwhile.
  db.transaction(() => {
    const locked = db.pragma('user_version', { simple: true }) as number;
    for (let v = locked; v < SCHEMA_VERSION; v++) {
      const step = migrations[v];
      if (!step) throw new Error(`missing migration ${v + 1}`);
      step(db);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
  if (said) {
    const ms = Math.round(performance.now() - t0);
    log({ toVersion: SCHEMA_VERSION, ms }, `migrated the metadata database in ${ms} ms`);
  }
}
