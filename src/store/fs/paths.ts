// Where a blob key lives on disk, and the checks that keep every path inside the store's root.
// Keys are validated first (../blob-keys.ts), so these checks are the second line: they also catch
// a symlink planted inside the root that points out of it.
import { realpath } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { EunhaError } from '../../core/errors.js';

/**
 * Temp files carry '~', which no key segment may contain, so a temp file can never be mistaken for
 * a blob (or collide with one) and listings skip it by name alone.
 */
export const TEMP_MARK = '~';

export function isTempName(name: string): boolean {
  return name.includes(TEMP_MARK);
}

function outside(path: string): EunhaError {
  return new EunhaError('VALIDATION_ERROR', 'blob key resolves outside the store root', {
    field: 'key',
    path,
  });
}

export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/** The absolute path of a validated key; throws if it would leave the root. */
export function pathOfSegments(root: string, segments: string[]): string {
  const path = resolve(root, ...segments);
  if (!isInside(root, path) || path === root) throw outside(path);
  return path;
}

/**
 * Resolves symlinks of an existing directory and checks it is still inside the root.
 * Returns false when the directory does not exist.
 */
export async function realDirInside(root: string, dir: string): Promise<boolean> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
  if (!isInside(root, real)) throw outside(dir);
  return true;
}

/**
 * Checks the deepest existing ancestor of `dir` (or `dir` itself) resolves inside the root, so that
 * a `mkdir -p` of `dir` cannot create folders through a symlink that points outside it.
 */
export async function nearestExistingInside(root: string, dir: string): Promise<void> {
  for (let current = dir; isInside(root, current); current = dirname(current)) {
    if (await realDirInside(root, current)) return;
    if (current === root) return;
  }
  throw outside(dir);
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** The path (or one of its parents) does not exist, or a parent is a file: either way, no blob. */
export function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
