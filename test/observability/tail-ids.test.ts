// Live-tail event ids on their own: each names one sequence number of one function's tail, reads
// back only there, under the key that made it, spelled as it was sent; and none shows its number.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { TailIdKey } from '../../src/observability/tail-ids.js';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('tail ids', () => {
  const key = new TailIdKey(randomBytes(32));
  const ids = key.forFunction('ws-a', 'fn-a');

  test('an id reads back as its sequence number, for its function, under its key', () => {
    for (const seq of [1, 2, 41, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const id = ids.id(seq);
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(ids.seqOf(id), seq);
      assert.equal(key.forFunction('ws-a', 'fn-a').seqOf(id), seq);
      for (const [ws, fn] of [
        ['ws-a', 'fn-b'],
        ['ws-b', 'fn-a'],
      ] as const)
        assert.equal(key.forFunction(ws, fn).seqOf(id), undefined, `${ws} ${fn}`);
      assert.equal(new TailIdKey(randomBytes(32)).forFunction('ws-a', 'fn-a').seqOf(id), undefined);
    }
  });

  test('a key made again from the same secret reads the same ids (a restart)', () => {
    const keyBytes = randomBytes(32);
    const before = new TailIdKey(keyBytes).forFunction('ws-a', 'fn-a').id(7);
    assert.equal(new TailIdKey(Buffer.from(keyBytes)).forFunction('ws-a', 'fn-a').seqOf(before), 7);
  });

  test('consecutive numbers give unrelated ids', () => {
    const seen = new Set<string>();
    const prefixes = new Set<string>();
    for (let seq = 1; seq <= 2000; seq++) {
      const id = ids.id(seq);
      assert.ok(Number.isNaN(Number(id)), id);
      seen.add(id);
      prefixes.add(id.slice(0, 2));
    }
    assert.equal(seen.size, 2000);
    // A counter in the clear would share its leading characters across neighbours; 2000 random
    // ids have ~1,600 distinct two-character prefixes of 4,096.
    assert.ok(prefixes.size > 1000, String(prefixes.size));
  });

  test('any altered character, other spelling, length or junk reads as nothing', () => {
    const id = ids.id(12345);
    for (let i = 0; i < id.length; i++) {
      for (const c of B64URL) {
        if (c === id[i]) continue;
        const altered = id.slice(0, i) + c + id.slice(i + 1);
        assert.equal(ids.seqOf(altered), undefined, altered);
      }
    }
    for (const junk of [
      undefined,
      '',
      '12345',
      [id],
      id.slice(0, -1),
      `${id}=`,
      `${id}==`,
      `${id}A`,
      ` ${id}`,
      Buffer.from(id, 'base64url').toString('base64'),
    ])
      assert.equal(ids.seqOf(junk as string | undefined), undefined, String(junk));
  });
});
