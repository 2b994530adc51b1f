// A start-up I/O failure that names the file it is about. SQLite's messages name none ("unable to
// open database file", "file is not a database"), so an operator could not tell which of the data
// directory's files, or which directory, the server had failed on.

import { existsSync, lstatSync, mkdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** `err` with `path` in front of its message, unless it names it already; its code is kept. */
export function namingPath(err: unknown, path: string): unknown {
  if (!(err instanceof Error) || err.message.includes(path)) return err;
  const named = new Error(`${path}: ${err.message}`, { cause: err });
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) Object.assign(named, { code });
  return named;
}

/** Runs `open`; what it throws names `path`. */
export function openingPath<T>(path: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    throw namingPath(err, path);
  }
}

/**
 * `mkdir -p` of a directory the server needs. Its ENOENT ("no such file or directory, mkdir
 * '…/blobs'") is misleading when the thing is there, as a symbolic link to nothing: the error then
 * says so. Each missing level is made on its own: Node's recursive mkdir never returned for a path
 * under /proc (mkdir answers ENOENT there though the parent exists, and it retried the parent for
 * ever, at 100% CPU, deaf to SIGTERM), which `EUNHA_CACHE_DIR=/proc/x` did to the start.
 */
export function makeDirectory(path: string, mode?: number): void {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, mode === undefined ? {} : { mode });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EEXIST' && isDirectory(dir)) continue;
      const target = (err as { code?: unknown }).code === 'EEXIST' ? danglingTarget(dir) : undefined;
      if (target === undefined) throw err;
      throw Object.assign(
        new Error(`${dir}: cannot be created: it is a symbolic link to ${target}, which does not exist`, {
          cause: err,
        }),
        { code: 'ENOENT' },
      );
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function danglingTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}
