// Entry point of the SQLite metadata adapter: open (or create) the file, migrate, hand back the port.
import type { MetadataStore } from '../ports.js';
import { Checkpointer } from './checkpointer.js';
import { SAFETY_NET_CHECKPOINT_PAGES, openDatabase } from './connection.js';
import { migrate, type MigrationLog } from './schema.js';
import { namingPath, openingPath } from '../path-error.js';
import { SqliteMetadataStore } from './store.js';

export { SCHEMA_VERSION, SchemaTooNewError } from './schema.js';

export interface SqliteMetadataOptions {
  /** Clock; defaults to the system clock. */
  now?: () => Date;
  /**
   * Checkpoint the WAL from a worker thread every this many ms (default 500; 0 = let the serving
   * connection checkpoint as SQLite does by default). Ignored for ':memory:'.
   */
  checkpointIntervalMs?: number;
  /** Hears of background checkpoint failures (each is retried; the store keeps working). */
  onCheckpointError?: (message: string) => void;
  /** Bytes a function's key-value entries may count (core/kv.ts); default DEFAULT_KV_MAX_BYTES. */
  kvMaxBytesPerFunction?: number;
  /** Bytes a function's stored logs may count (core/log-quota.ts); default DEFAULT_LOG_MAX_BYTES. */
  logMaxBytesPerFunction?: number;
  /** Hears an existing file's migration, before and after (schema.ts). */
  onMigration?: MigrationLog;
}

/** Opens the store at `path` (parent directories are created; ':memory:' for a throwaway store). */
export async function openSqliteMetadataStore(
  path: string,
  opts: SqliteMetadataOptions = {},
): Promise<MetadataStore> {
  const interval = opts.checkpointIntervalMs ?? 500;
  const background = interval > 0 && path !== ':memory:' && path !== '';
  const db = openingPath(path, () =>
    openDatabase(path, background ? { autocheckpointPages: SAFETY_NET_CHECKPOINT_PAGES } : {}),
  );
  try {
    migrate(db, opts.onMigration);
  } catch (err) {
    db.close();
    throw namingPath(err, path);
  }
  return new SqliteMetadataStore(
    db,
    opts.now,
    background ? new Checkpointer(path, interval, opts.onCheckpointError) : null,
    opts.kvMaxBytesPerFunction,
    opts.logMaxBytesPerFunction,
  );
}
