// eachBounded: every item once, never more than the limit at once, and after a failure no more
// start while the ones running are waited for.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eachBounded } from '../../src/core/each-bounded.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('eachBounded', () => {
  test('runs every item once, at most `limit` at a time', async () => {
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    await eachBounded(
      Array.from({ length: 25 }, (_, i) => i),
      4,
      async (i) => {
        most = Math.max(most, ++running);
        await pause(i % 3);
        seen.push(i);
        running--;
      },
    );
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      Array.from({ length: 25 }, (_, i) => i),
    );
    assert.equal(most, 4);
    await eachBounded([], 4, async () => assert.fail('no items, no work'));
  });

  test('a failure starts no more work and is thrown once the running work has ended', async () => {
    const started: number[] = [];
    let ended = 0;
    await assert.rejects(
      eachBounded([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3, async (i) => {
        started.push(i);
        if (i === 1) throw new Error('first');
        if (i === 2) {
          await pause(5);
          throw new Error('second');
        }
        await pause(20);
        ended++;
      }),
      /first/,
    );
    assert.deepEqual(started, [0, 1, 2]);
    assert.equal(ended, 1, 'the one running had ended');
  });
});
