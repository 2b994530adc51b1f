// One server per data directory. Two processes on one directory each restored every deployment,
// marked the other's running builds "interrupted", and served versions the other had replaced or
// deleted. The lock is an exclusive SQLite lock on `{dataDir}/eunha.lock`, held by an open
// connection for the life of the server: the kernel drops it when the process ends, however it
// ends, so a crash never leaves a stale lock (a pid file did: a server that ran as pid 1 in a
// container, or whose pid came back, was refused after a kill). The owner's pid is written beside
// it, only to say who holds it. Builds before this wrote the pid itself at `eunha.lock`, which a
// crash left behind: such a file is replaced when its process has gone (an upgrade refused to
// start on it, saying only SQLITE_NOTADB), and names that process when it is still running.

import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { processAlive } from '../core/process-alive.js';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
    why = '',
  ) {
    super(
      `the data directory ${dataDir} is in use by ${pid ? `process ${pid}` : 'another process'} ` +
        `(it holds ${join(dataDir, LOCK_FILE)})${why}; stop that server first, or give this one another EUNHA_DATA_DIR`,
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'eunha.lock';
const PID_FILE = 'eunha.lock.pid';

/** Takes the directory (which must exist) for this process; the returned function gives it back. */
export function lockDataDir(dataDir: string): () => void {
  try {
    return lock(dataDir);
  } catch (e) {
    if ((e as { code?: string }).code !== 'SQLITE_NOTADB') throw e;
    const pid = oldPidLock(join(dataDir, LOCK_FILE));
    if (pid === undefined) throw e;
    if (pid !== process.pid && processAlive(pid)) {
      throw new DataDirInUseError(
        dataDir,
        pid,
        ` (an older Eunha's lock file; if that process is no Eunha server, delete ${join(dataDir, LOCK_FILE)})`,
      );
    }
    unlinkSync(join(dataDir, LOCK_FILE));
    return lock(dataDir);
  }
}

function lock(dataDir: string): () => void {
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

/** The pid an older build's lock file holds (a short file of digits), else undefined. */
function oldPidLock(path: string): number | undefined {
  try {
    if (statSync(path).size > 32) return undefined;
    const m = /^\s*(\d{1,10})\s*$/.exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
