// A start-up I/O failure that names the file it is about. SQLite's messages name none ("unable to
// open database file", "file is not a database"), so an operator could not tell which of the data
// directory's files, or which directory, the server had failed on.

import { lstatSync, mkdirSync, readlinkSync } from 'node:fs';

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
 * says so. (Node's recursive mkdir never returns under /proc, before and after this.)
 */
export function makeDirectory(path: string, mode?: number): void {
  try {
    mkdirSync(path, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  } catch (err) {
    const target = (err as { code?: unknown }).code === 'ENOENT' ? danglingTarget(path) : undefined;
    if (target === undefined) throw err;
    throw Object.assign(
      new Error(`${path}: cannot be created: it is a symbolic link to ${target}, which does not exist`, {
        cause: err,
      }),
      { code: 'ENOENT' },
    );
  }
}

function danglingTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}
