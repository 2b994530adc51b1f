// One server per data directory. Two processes on one directory each restored every deployment,
// marked the other's running builds "interrupted", and served versions the other had replaced or
// deleted. `{dataDir}/eunha.lock` holds the owner's pid, created with O_EXCL; a lock whose
// process is gone (a crash, SIGKILL) is taken over.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the data directory ${dataDir} is in use by process ${pid} (${join(dataDir, LOCK_FILE)}); ` +
        'stop that server first, or give this one another EUNHA_DATA_DIR',
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'eunha.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory (which must exist) for this process; the returned function gives it back. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (Number(readFileSync(path, 'utf8').trim()) === process.pid) unlinkSync(path);
        } catch {
          // Already gone: nothing to give back.
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      // Vanished or unreadable between the two calls: treated as stale.
    }
    // Our own pid is held too: a second platform in this process would be the same mistake.
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) throw new DataDirInUseError(dataDir, owner);
    try {
      unlinkSync(path);
    } catch {
      // Someone else cleared it first; the retry decides.
    }
  }
}
