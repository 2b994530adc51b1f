// The `next` of a page of execution logs, and the `before` that asks for the page after it. Opaque
// to clients (base64url), so that what it holds can change; it holds the last log's timestamp and
// id, the listing's order, so a page resumes exactly where the last ended however many logs
// arrived meanwhile.

import { invalid } from '../core/errors.js';
import type { ExecutionLog, LogCursor } from '../core/types.js';
import { canonicalTimestamp } from '../store/keys.js';

const MAX_ID = 200;

export function encodeLogCursor(log: Pick<ExecutionLog, 'timestamp' | 'id'>): string {
  const timestamp = canonicalTimestamp(log.timestamp) ?? log.timestamp;
  return Buffer.from(`${timestamp}#${log.id}`, 'utf8').toString('base64url');
}

/** VALIDATION_ERROR on `before` for anything a page's `next` could not have been. */
export function decodeLogCursor(value: string): LogCursor {
  const refuse = () => invalid('before', "before must be a page's `next`, as answered");
  if (!/^[A-Za-z0-9_-]+$/.test(value)) throw refuse();
  const text = Buffer.from(value, 'base64url').toString('utf8');
  const hash = text.indexOf('#');
  if (hash < 0) throw refuse();
  const timestamp = text.slice(0, hash);
  const id = text.slice(hash + 1);
  if (canonicalTimestamp(timestamp) !== timestamp || id.length === 0 || id.length > MAX_ID) throw refuse();
  return { timestamp, id };
}
