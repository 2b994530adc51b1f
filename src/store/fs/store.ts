// The filesystem BlobStore: one file per key under a root directory, key segments as directories.
// Writes are atomic (atomic-write.ts); keys are validated (../blob-keys.ts) and resolved paths are
// checked to stay inside the root (paths.ts). Directories emptied by a delete are removed, so a
// deleted workspace leaves no empty folders behind.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EunhaError } from '../../core/errors.js';
import { validateBlobKey, validateBlobPrefix } from '../blob-keys.js';
import type { BlobStore, BlobUsage } from '../ports.js';
import { writeFileAtomic } from './atomic-write.js';
import {
  TEMP_MARK,
  errnoCode,
  isMissing,
  isTempName,
  nearestExistingInside,
  pathOfSegments,
  realDirInside,
} from './paths.js';

/** A put races a delete that prunes the directory it just created; it retries this many times. */
const PUT_ATTEMPTS = 3;

// The disk, not the request: a full or read-only disk answers 503, as the database's does
// (a full disk here was a 500 INTERNAL_ERROR).
const STORAGE_FAULTS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EMFILE', 'ENFILE']);

export function unavailable(err: unknown, key: string, what: 'read' | 'write' = 'write'): unknown {
  const code = errnoCode(err);
  if (code === undefined || !STORAGE_FAULTS.has(code)) return err;
  return new EunhaError('DEPENDENCY_UNAVAILABLE', `blob store: cannot ${what} '${key}' (${code})`, { code });
}

/** A file removed by a concurrent delete between readdir and lstat counts 0. */
async function sizeOf(path: string): Promise<number> {
  try {
    return (await lstat(path)).size;
  } catch (err) {
    if (isMissing(err)) return 0;
    throw err;
  }
}

function conflict(key: string, why: string): EunhaError {
  return new EunhaError('CONFLICT', `blob key '${key}' ${why}`, { field: 'key', key });
}

export class FsBlobStore implements BlobStore {
  private closed = false;

  /** `root` must be an existing directory given as its real path (see openFsBlobStore). */
  constructor(private readonly root: string) {}

  private check(): void {
    if (this.closed) throw new EunhaError('DEPENDENCY_UNAVAILABLE', 'the blob store is closed');
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    this.check();
    const path = pathOfSegments(this.root, validateBlobKey(key));
    const dir = dirname(path);
    for (let attempt = 1; ; attempt++) {
      await nearestExistingInside(this.root, dir);
      try {
        await mkdir(dir, { recursive: true });
      } catch (err) {
        const code = errnoCode(err);
        // A parent segment is an existing blob: on a filesystem a name cannot be file and folder.
        if (code === 'ENOTDIR' || code === 'EEXIST') throw conflict(key, 'is below an existing blob');
        throw unavailable(err, key);
      }
      try {
        // Missing right after mkdir means a concurrent delete pruned it: go round again.
        if (await realDirInside(this.root, dir)) {
          await writeFileAtomic(path, data);
          return;
        }
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EISDIR' || code === 'ENOTEMPTY') throw conflict(key, 'is a prefix of other blobs');
        if (code !== 'ENOENT' || attempt >= PUT_ATTEMPTS) throw unavailable(err, key);
      }
      if (attempt >= PUT_ATTEMPTS) {
        throw new EunhaError('DEPENDENCY_UNAVAILABLE', `blob store: could not create the folder of '${key}'`);
      }
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.check();
    const path = pathOfSegments(this.root, validateBlobKey(key));
    try {
      if (!(await realDirInside(this.root, dirname(path)))) return undefined;
      // O_NOFOLLOW: a symlink at the key itself is not followed out of the root.
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const buf = await fh.readFile();
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } finally {
        await fh.close();
      }
    } catch (err) {
      const code = errnoCode(err);
      if (isMissing(err) || code === 'EISDIR' || code === 'ELOOP') return undefined;
      throw unavailable(err, key, 'read');
    }
  }

  async size(key: string): Promise<number | undefined> {
    this.check();
    const path = pathOfSegments(this.root, validateBlobKey(key));
    try {
      if (!(await realDirInside(this.root, dirname(path)))) return undefined;
      const info = await lstat(path);
      // A folder (a prefix of other blobs) or a symlink is no blob, as in get.
      return info.isFile() ? info.size : undefined;
    } catch (err) {
      if (isMissing(err) || errnoCode(err) === 'ELOOP') return undefined;
      throw unavailable(err, key, 'read');
    }
  }

  async delete(key: string): Promise<void> {
    this.check();
    const path = pathOfSegments(this.root, validateBlobKey(key));
    try {
      if (!(await realDirInside(this.root, dirname(path)))) return;
      await unlink(path);
    } catch (err) {
      const code = errnoCode(err);
      // EISDIR/EPERM: the key names a folder of other blobs, so there is no blob at the key itself.
      if (isMissing(err) || code === 'EISDIR' || code === 'EPERM') return;
      throw err;
    }
    await this.pruneEmptyParents(dirname(path));
  }

  async deletePrefix(prefix: string): Promise<void> {
    this.check();
    const path = pathOfSegments(this.root, validateBlobKey(prefix));
    if (!(await realDirInside(this.root, dirname(path)))) return;
    // rm does not follow symlinks inside the tree, so nothing outside the root can be reached.
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
    await this.pruneEmptyParents(dirname(path));
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    await this.visit(prefix, false, (key) => void keys.push(key));
    // Code-unit order equals byte order here: the key alphabet is ASCII.
    return keys.sort();
  }

  async usage(prefix: string): Promise<BlobUsage> {
    const usage = { bytes: 0, blobs: 0 };
    await this.visit(prefix, true, (_key, size) => {
      usage.bytes += size;
      usage.blobs++;
    });
    return usage;
  }

  /** Calls `found` with the key of every blob `list(prefix)` names, and its size if `sizes` (else 0). */
  private async visit(
    prefix: string,
    sizes: boolean,
    found: (key: string, size: number) => void,
  ): Promise<void> {
    this.check();
    const segments = validateBlobPrefix(prefix);
    const base = segments.length === 0 ? this.root : pathOfSegments(this.root, segments);
    let info;
    try {
      if (segments.length > 0 && !(await realDirInside(this.root, dirname(base)))) return;
      info = await lstat(base);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    if (info.isFile()) found(segments.join('/'), info.size);
    else if (info.isDirectory()) await this.walk(base, segments, sizes, found);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Removes the temp files of writes another process left unfinished (a crash mid-put: up to an
   * upload's 10 MiB each, which listings skip and so no sweep saw). Run at open: the data-dir
   * lock leaves no other process writing here, and this one has written nothing yet. Answers
   * how many it removed.
   */
  async removeStrayTemps(): Promise<number> {
    const mine = `${TEMP_MARK}${process.pid}-`;
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await visit(path);
        else if (entry.isFile() && isTempName(entry.name) && !entry.name.includes(mine)) {
          // One another remove took first, or that cannot go, is not counted.
          if (
            await unlink(path).then(
              () => true,
              () => false,
            )
          )
            removed++;
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  private async walk(
    dir: string,
    segments: string[],
    sizes: boolean,
    found: (key: string, size: number) => void,
  ): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return; // removed by a concurrent delete
      throw err;
    }
    for (const entry of entries) {
      if (isTempName(entry.name)) continue;
      const next = [...segments, entry.name];
      const path = join(dir, entry.name);
      // Symlinks and other special files are never created by this store: they are not blobs.
      if (entry.isDirectory()) await this.walk(path, next, sizes, found);
      else if (entry.isFile()) found(next.join('/'), sizes ? await sizeOf(path) : 0);
    }
  }

  /** Removes empty directories from `dir` up to (not including) the root; stops at the first non-empty one. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    let current = dir;
    while (current !== this.root && current.startsWith(this.root)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or already gone, or raced by a put): leave it
      }
      current = dirname(current);
    }
  }
}
