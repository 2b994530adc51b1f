// Ids and time come in through these small injectable functions so tests can be deterministic.
// Seed format: workspaces `ws-` + 8 chars, functions `fn-` + 8 chars (lower-case base36).

import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 8 random base36 characters (≈41 bits); rejection sampling keeps the distribution uniform. */
export function randomSuffix(length = 8): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 252 && out.length < length) out += ALPHABET[byte % 36];
    }
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
