// What a file path inside a build may be. Every path of an upload (zip entry or the app.py of a
// single-file upload) ends up as part of a blob key (`artifacts/{ws}/{digest}/files/{path}`) and
// as a file in the sandbox's filesystem, so the rules are the blob-key alphabet plus the
// zip-slip rules, each with a message that says which rule a path broke.

import { invalid, type EunhaError } from '../core/errors.js';
import { MAX_BLOB_KEY_SEGMENT_LENGTH } from '../store/blob-keys.js';

/** Leaves room in a 1024-character blob key for `artifacts/{ws}/{digest}/files/`. */
export const MAX_PATH_LENGTH = 512;
export const MAX_PATH_DEPTH = 32;

const SEGMENT = /^[A-Za-z0-9._@=+-]+$/;

const reject = (path: string, why: string): EunhaError =>
  invalid('file', `zip entry ${JSON.stringify(path)} is rejected: ${why}`, { path });

/**
 * Throws VALIDATION_ERROR (details.field 'file') unless `path` is a relative '/'-separated path of
 * safe segments. Checked in order of how dangerous the mistake is, so a zip-slip attempt is named
 * as such rather than as "bad character".
 */
export function checkFilePath(path: string): void {
  if (path.length === 0) throw reject(path, 'empty name');
  if (path.includes('\0')) throw reject(path, 'contains a NUL character');
  if (path.includes('\\')) throw reject(path, 'contains a backslash (paths must use /)');
  if (path.startsWith('/')) throw reject(path, 'absolute path');
  if (/^[A-Za-z]:/.test(path)) throw reject(path, 'starts with a drive letter');
  if (path.length > MAX_PATH_LENGTH) throw reject(path, `longer than ${MAX_PATH_LENGTH} characters`);
  const segments = path.split('/');
  if (segments.includes('..')) throw reject(path, "contains a '..' segment (path traversal)");
  if (segments.length > MAX_PATH_DEPTH) throw reject(path, `nested deeper than ${MAX_PATH_DEPTH} folders`);
  for (const segment of segments) {
    if (segment === '') throw reject(path, 'contains an empty segment');
    if (segment === '.') throw reject(path, "contains a '.' segment");
    if (segment.length > MAX_BLOB_KEY_SEGMENT_LENGTH) {
      throw reject(path, `a name is longer than ${MAX_BLOB_KEY_SEGMENT_LENGTH} characters`);
    }
    if (!SEGMENT.test(segment)) {
      throw reject(path, 'names may only contain A-Z a-z 0-9 . _ @ = + -');
    }
  }
}

/**
 * Throws unless the set of paths can exist together as files: a path may not also be a folder of
 * another path ("lib" and "lib/x.py"), which no filesystem or blob store can hold.
 */
export function checkNoFileFolderClash(paths: Iterable<string>): void {
  const all = new Set(paths);
  for (const path of all) {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      if (all.has(folder)) {
        throw reject(path, `'${folder}' is both a file and a folder`);
      }
    }
  }
}
