// Answers a guest's key-value calls (relayed by its host) through the KeyValuePort. The scope
// comes from the instance, never from the guest: a function only ever names a store label, and
// the functionId is fixed here, so one function cannot reach another's data.

import type { KeyValuePort, KeyValueScope } from '../core/kv.js';
import type { CallHandler } from './sandbox.js';

const LABEL = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_KEY_BYTES = 1024;
export const MAX_VALUE_BYTES = 1024 * 1024;

export function kvHandlerFor(kv: KeyValuePort, functionId: string): CallHandler {
  return async (header, body) => {
    const store = header.store;
    if (typeof store !== 'string' || !LABEL.test(store)) {
      return { header: { t: 'reply', ok: false, error: 'no-such-store' } };
    }
    const scope: KeyValueScope = { functionId, store };
    const op = header.op;
    if (op === 'open') return { header: { t: 'reply', ok: true } };
    if (op === 'keys') return { header: { t: 'reply', ok: true, keys: await kv.keys(scope) } };
    const key = header.key;
    if (typeof key !== 'string' || Buffer.byteLength(key) > MAX_KEY_BYTES) {
      return {
        header: {
          t: 'reply',
          ok: false,
          error: 'other',
          message: `key must be a string of at most ${MAX_KEY_BYTES} bytes`,
        },
      };
    }
    switch (op) {
      case 'get': {
        const v = await kv.get(scope, key);
        return v === undefined
          ? { header: { t: 'reply', ok: true, found: false } }
          : { header: { t: 'reply', ok: true, found: true }, body: v };
      }
      case 'set':
        if (body.length > MAX_VALUE_BYTES) {
          return {
            header: {
              t: 'reply',
              ok: false,
              error: 'other',
              message: `value exceeds ${MAX_VALUE_BYTES} bytes`,
            },
          };
        }
        await kv.set(scope, key, new Uint8Array(body));
        return { header: { t: 'reply', ok: true } };
      case 'delete':
        await kv.delete(scope, key);
        return { header: { t: 'reply', ok: true } };
      case 'exists':
        return { header: { t: 'reply', ok: true, exists: await kv.exists(scope, key) } };
      default:
        return {
          header: { t: 'reply', ok: false, error: 'other', message: `unknown operation ${String(op)}` },
        };
    }
  };
}
