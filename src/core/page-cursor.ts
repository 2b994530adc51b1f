// Pages of a listing ordered newest first by (timestamp, id): execution logs, build tasks. A page's
// `next` is opaque to clients (base64url, so what it holds can change) and holds the last item's
// timestamp and id, so the page after it resumes exactly where it ended however many items
// arrived meanwhile; `before` sends it back.

import { invalid } from './errors.js';
import { canonicalTimestamp } from './validate.js';

export interface PageKey {
  timestamp: string;
  id: string;
}

const MAX_ID = 200;

/**
 * Stored bytes one page may hold: fewer than `limit` items come back when they are large (a log
 * keeps up to 64 KiB of printed lines and two bodies; a failed task, a 64 KiB traceback).
 */
export const PAGE_MAX_BYTES = 4 * 1024 * 1024;

export function encodeCursor(key: PageKey): string {
  const timestamp = canonicalTimestamp(key.timestamp) ?? key.timestamp;
  return Buffer.from(`${timestamp}#${key.id}`, 'utf8').toString('base64url');
}

/** VALIDATION_ERROR on `field` for anything a page's `next` could not have been. */
export function decodeCursor(value: string, field = 'before'): PageKey {
  const refuse = () => invalid(field, `${field} must be a page's \`next\`, as answered`);
  if (!/^[A-Za-z0-9_-]+$/.test(value)) throw refuse();
  const text = Buffer.from(value, 'base64url').toString('utf8');
  const hash = text.indexOf('#');
  if (hash < 0) throw refuse();
  const timestamp = text.slice(0, hash);
  const id = text.slice(hash + 1);
  if (canonicalTimestamp(timestamp) !== timestamp || id.length === 0 || id.length > MAX_ID) throw refuse();
  return { timestamp, id };
}

/**
 * Up to `limit` items and the `next` of the page after them (null on the last). Reads one more
 * than asked to learn whether the page is the last; a page that the reader ended early (a byte
 * cap) says nothing either way, so a short page asks for the one item after it.
 */
export async function paged<T>(
  list: (limit: number, before: PageKey | undefined) => Promise<T[]>,
  limit: number,
  before: PageKey | undefined,
  keyOf: (item: T) => PageKey,
): Promise<{ items: T[]; next: string | null }> {
  const got = await list(limit + 1, before);
  const items = got.slice(0, limit);
  const last = items.at(-1);
  if (last === undefined) return { items, next: null };
  const more = got.length > limit || (await list(1, keyOf(last))).length > 0;
  return { items, next: more ? encodeCursor(keyOf(last)) : null };
}
