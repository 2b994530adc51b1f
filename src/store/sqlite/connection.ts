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
    if (opts.autocheckpointPages !== undefined) db.pragma(`wal_autocheckpoint = ${opts.autocheckpointPages}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
