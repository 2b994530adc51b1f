// The one definition of a valid blob key, shared by every BlobStore adapter so that a key accepted
// by the filesystem store is accepted by S3 and vice versa. The alphabet is small on purpose: a key
// maps to a path on disk, so nothing in it may mean "parent", "root", "drive" or "end of string".
import { EunhaError } from '../core/errors.js';

/** S3's own limit on a key, in bytes; our alphabet is ASCII so characters = bytes. */
export const MAX_BLOB_KEY_LENGTH = 1024;
/** Below the usual 255-byte file-name limit, leaving room for the temp-file suffix of fs/. */
export const MAX_BLOB_KEY_SEGMENT_LENGTH = 200;

const SEGMENT = /^[A-Za-z0-9._@=+-]+$/;

function reject(key: string, why: string): never {
  // The key is echoed through JSON.stringify so control characters show as escapes, not raw bytes.
  throw new EunhaError('VALIDATION_ERROR', `invalid blob key ${JSON.stringify(key)}: ${why}`, {
    field: 'key',
  });
}

/**
 * Throws VALIDATION_ERROR (details.field = 'key') unless `key` is '/'-separated segments of
 * [A-Za-z0-9._@=+-], none empty, none '.' or '..', at most MAX_BLOB_KEY_LENGTH characters.
 * Returns the segments.
 */
export function validateBlobKey(key: unknown): string[] {
  if (typeof key !== 'string') reject(String(key), 'not a string');
  if (key.length === 0) reject(key, 'empty');
  if (key.length > MAX_BLOB_KEY_LENGTH) reject(key, `longer than ${MAX_BLOB_KEY_LENGTH} characters`);
  if (key.includes('\0')) reject(key, 'contains NUL');
  if (key.includes('\\')) reject(key, 'contains a backslash');
  if (key.startsWith('/')) reject(key, 'absolute');
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '') reject(key, 'empty segment');
    if (segment === '.' || segment === '..') reject(key, `'${segment}' segment`);
    if (segment.length > MAX_BLOB_KEY_SEGMENT_LENGTH) {
      reject(key, `segment longer than ${MAX_BLOB_KEY_SEGMENT_LENGTH} characters`);
    }
    if (!SEGMENT.test(segment)) reject(key, 'segments may only contain A-Z a-z 0-9 . _ @ = + -');
  }
  return segments;
}

/**
 * A listing prefix: '' (everything) or a valid key, with one trailing '/' tolerated ('a/' = 'a').
 * Returns the segments ([] for everything).
 */
export function validateBlobPrefix(prefix: unknown): string[] {
  if (prefix === '') return [];
  if (typeof prefix === 'string' && prefix.length > 1 && prefix.endsWith('/')) {
    return validateBlobKey(prefix.slice(0, -1));
  }
  return validateBlobKey(prefix);
}
