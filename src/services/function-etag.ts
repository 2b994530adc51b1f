// A function's entity tag (RFC 9110 §8.8.3): a digest of its stored record, so that every change
// to its code or settings (its status included) gives a new one. A client sends it back in
// If-Match to change, delete or deploy the function only as it last saw it: two console tabs, or
// `eunha deploy` putting back what it changed, overwrote each other's edits without a word.
// Not part of it: the answer's counters (invocations24h, errors24h, avgDuration), which move with
// every call, and what a deploy records (lastDeployed, invocationUrl). With those in, two
// `eunha deploy`s of the same file at once refused each other: each one's deploy moved the tag
// the other had just been given, though neither changed anything the other had seen.

import { createHash } from 'node:crypto';
import { EunhaError } from '../core/errors.js';
import type { FunctionRecord } from '../core/types.js';

/** Keys sorted at every level: the tag must not depend on the order a record's fields were set in. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
  return out;
}

export function functionEtag(fn: FunctionRecord): string {
  const { lastDeployed: _deployed, invocationUrl: _url, ...tagged } = fn;
  const digest = createHash('sha256')
    .update(JSON.stringify(canonical(tagged)))
    .digest('base64url');
  return `"${digest.slice(0, 22)}"`;
}

/**
 * Throws PRECONDITION_FAILED unless an If-Match value admits the function as it is: absent, `*`,
 * or a list naming its tag. The comparison is strong (a weak `W/` tag never matches, RFC 9110
 * §13.1.1), and the answer says the current tag so that a client can read again and retry.
 */
export function checkIfMatch(ifMatch: string | undefined, fn: FunctionRecord): void {
  if (ifMatch === undefined) return;
  const given = ifMatch.trim();
  if (given === '*') return;
  const etag = functionEtag(fn);
  const tags = given.split(',').map((t) => t.trim());
  if (tags.includes(etag)) return;
  throw new EunhaError(
    'PRECONDITION_FAILED',
    `function '${fn.id}' has changed since the version the request names (If-Match); read it again`,
    { etag, ifMatch: given.slice(0, 200) },
  );
}
