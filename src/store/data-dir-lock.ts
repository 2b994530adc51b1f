// One server per data directory. Two processes on one directory each restored every deployment,
// marked the other's running builds "interrupted", and served versions the other had replaced or
// deleted. The lock is an exclusive SQLite lock on `{dataDir}/eunha.lock`, held by an open
// connection for the life of the server: the kernel drops it when the process ends, however it
// ends, so a crash never leaves a stale lock (a pid file did: a server that ran as pid 1 in a
// container, or whose pid came back, was refused after a kill). The owner's pid is written beside
// it, only to say who holds it.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
  ) {
    super(
      `the data directory ${dataDir} is in use by ${pid ? `process ${pid}` : 'another process'} ` +
        `(it holds ${join(dataDir, LOCK_FILE)}); stop that server first, or give this one another EUNHA_DATA_DIR`,
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'eunha.lock';
const PID_FILE = 'eunha.lock.pid';

/** Takes the directory (which must exist) for this process; the returned function gives it back. */
export function lockDataDir(dataDir: string): () => void {
  const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    // EXCLUSIVE locking mode keeps the lock after the transaction, until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT;');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
    let pid: number | undefined;
    try {
      pid = Number.parseInt(readFileSync(join(dataDir, PID_FILE), 'utf8'), 10) || undefined;
    } catch {
      // No pid written yet: the message names no process.
    }
    throw new DataDirInUseError(dataDir, pid);
  }
  writeFileSync(join(dataDir, PID_FILE), `${process.pid}\n`);
  return () => {
    if (db.open) db.close();
  };
}
