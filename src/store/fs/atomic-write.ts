// Atomic replacement of one file: write a temp file beside it, fsync, rename over the target, fsync
// the directory. rename(2) within one directory is atomic, so a reader opens either the old file or
// the new one, never a torn write; a crash leaves at worst a stray temp file, which listings ignore.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TEMP_MARK } from './paths.js';

export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      // Without this, a power loss after the rename could leave the new name with no data.
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

/** Makes the rename itself durable. Best effort: some platforms cannot fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Durability of the directory entry is an optimisation here, not a correctness condition.
  }
}
