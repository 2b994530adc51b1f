// Opens the SQLite file with the settings every Eunha process relies on. Owns the pragmas only;
// the schema lives in schema.ts.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** How long a writer waits for another connection's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * The same wait for an append of execution logs (store.ts). Calls are synchronous: a wait holds the
 * event loop, and with an operator's `sqlite3` session or a backup holding the lock, each retry of
 * the log writer froze the server for the whole 5 s. 50 ms outlasts any other process's short
 * write; past it the append fails and the writer (which keeps the logs) backs off and retries.
 */
export const LOG_APPEND_BUSY_TIMEOUT_MS = 50;

/**
 * WAL size, in pages, at which the serving connection checkpoints by itself. With a background
 * checkpointer running this is only the safety net (64 MB at 4 KiB pages); SQLite's default is 1000.
 */
export const SAFETY_NET_CHECKPOINT_PAGES = 16_384;

/** What the WAL file keeps on disk between checkpoints' peaks. */
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

export function openDatabase(path: string, opts: { autocheckpointPages?: number } = {}): Db {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    // WAL: readers never block the writer and a crash never corrupts committed data.
    db.pragma('journal_mode = WAL');
    // NORMAL is durable against application crashes in WAL mode; only an OS crash or power loss can
    // lose the last commits, which is the usual trade for an order of magnitude fewer fsyncs.
    db.pragma('synchronous = NORMAL');
    // A second process (the CLI, a test) sharing the file waits instead of failing at once.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    // What is deleted or overwritten is zeroed, not left in the file: a review found a deleted
    // workspace's secrets (sealed, with their key beside them in a backup), logs and key-value
    // data still readable in the database and its backups, and values a key rotation had sealed
    // again still there under the old key. Deletes cost about twice the I/O (161 → 349 ms for
    // 13,827 rows in that review).
    db.pragma('secure_delete = ON');
    // After a checkpoint the WAL is cut back to this size, not kept at its high-water mark.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    if (opts.autocheckpointPages !== undefined) db.pragma(`wal_autocheckpoint = ${opts.autocheckpointPages}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
