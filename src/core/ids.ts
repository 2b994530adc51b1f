// Ids and time come in through these small injectable functions so tests can be deterministic.
// Seed format: workspaces `ws-` + 8 chars, functions `fn-` + 8 chars (lower-case base36).

import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

// Random bytes are drawn 4 KiB at a time: an execution log id is made on every invocation, and
// one randomBytes() call per id showed up in the gateway's profile.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function nextByte(): number {
  if (offset === POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  return pool[offset++]!;
}

/** `length` random base36 characters (8 ≈ 41 bits); rejection sampling keeps them uniform. */
export function randomSuffix(length = 8): string {
  let out = '';
  while (out.length < length) {
    const byte = nextByte();
    if (byte < 252) out += ALPHABET[byte % 36];
  }
  return out;
}

export interface IdSource {
  workspace(): string;
  function(): string;
  /** Opaque ids for tasks, logs, keys. */
  opaque(): string;
}

export const randomIds: IdSource = {
  workspace: () => `ws-${randomSuffix()}`,
  function: () => `fn-${randomSuffix()}`,
  opaque: () => `${Date.now().toString(36)}-${randomSuffix(12)}`,
};

export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
