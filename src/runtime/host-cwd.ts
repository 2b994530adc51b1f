// The empty, read-only directory sandbox hosts start in (their cwd must exist and hold nothing).
// One per server process, named after its pid: it is removed when the process exits, and a start
// removes those of processes that died without exiting (SIGKILL, a crash). Before, every start
// left one behind in the temp directory (a review counted 2,765 on this machine).

import { chmodSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../core/process-alive.js';

const PREFIX = 'eunha-sandbox-';

export function hostWorkingDir(): string {
  sweepStale();
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  chmodSync(dir, 0o555);
  process.once('exit', () => removeEmpty(dir));
  return dir;
}

/** Removes the directories of server processes that are gone. */
function sweepStale(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid))) {
      removeEmpty(join(tmpdir(), name));
    }
  }
}

/** rmdir, not rm -r: a directory someone put something in is not ours to empty. */
function removeEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Gone already, not empty, or not ours.
  }
}
