// Entry point of the SQLite metadata adapter: open (or create) the file, migrate, hand back the port.
import type { MetadataStore } from '../ports.js';
import { openDatabase } from './connection.js';
import { migrate } from './schema.js';
import { SqliteMetadataStore } from './store.js';

export { SCHEMA_VERSION } from './schema.js';

export interface SqliteMetadataOptions {
  /** Clock; defaults to the system clock. */
  now?: () => Date;
}

/** Opens the store at `path` (parent directories are created; ':memory:' for a throwaway store). */
export async function openSqliteMetadataStore(
  path: string,
  opts: SqliteMetadataOptions = {},
): Promise<MetadataStore> {
  const db = openDatabase(path);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteMetadataStore(db, opts.now);
}
