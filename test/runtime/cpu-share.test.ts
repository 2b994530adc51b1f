// The nice values long requests run at: a workspace's long instances together weigh about one
// thread at the base value, whatever their number, and never take the boot marker.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { longRequestNice, stuckAbove } from '../../src/runtime/cpu-share.js';
import { BOOT_NICE } from '../../src/runtime/host-process.js';

/** The kernel's weight of a nice value (sched_prio_to_weight, to within its rounding). */
const weight = (nice: number): number => 1024 / 1.25 ** nice;

describe('long request nice values', () => {
  test('0 turns yielding off', () => {
    assert.equal(longRequestNice(0, 1), 0);
    assert.equal(longRequestNice(0, 16), 0);
  });

  test('one long instance runs at the base value; more instances, higher values', () => {
    assert.equal(longRequestNice(5, 1), 5);
    assert.equal(longRequestNice(5, 0), 5, 'a count of 0 (unloaded meanwhile) is taken as 1');
    assert.equal(longRequestNice(5, 2), 8);
    assert.equal(longRequestNice(5, 16), 17);
  });

  test("a workspace's long instances together weigh about one thread at the base value", () => {
    // Within a step and a half: rounding to whole values, and the step past the boot marker.
    for (const k of [1, 2, 3, 4, 6, 8, 12, 16]) {
      const total = k * weight(longRequestNice(5, k));
      const ratio = total / weight(5);
      assert.ok(ratio > 0.7 && ratio < 1.4, `${k} instances weigh ${ratio.toFixed(2)}× one thread at nice 5`);
    }
  });

  test('a sandbox is stuck once its workspace shrank a lot, never for one instance fewer', () => {
    for (let base = 1; base <= 19; base++) {
      for (let k = 2; k <= 200; k++) {
        assert.ok(
          !stuckAbove(longRequestNice(base, k), longRequestNice(base, k - 1)),
          `base ${base}: ${k} → ${k - 1} instances`,
        );
      }
    }
    // Base 5: 3 instances (nice 11) → 1 (5), 16 (17) → 4 (11), 8 (14) → 1.
    assert.ok(stuckAbove(longRequestNice(5, 3), longRequestNice(5, 1)));
    assert.ok(stuckAbove(longRequestNice(5, 16), longRequestNice(5, 4)));
    assert.ok(stuckAbove(longRequestNice(5, 8), longRequestNice(5, 1)));
    assert.ok(!stuckAbove(longRequestNice(5, 16), longRequestNice(5, 8)));
    assert.ok(!stuckAbove(0, 0), 'yielding off');
  });

  test('values stop at 19 and skip the boot marker', () => {
    assert.equal(longRequestNice(5, 1000), 19);
    assert.equal(longRequestNice(19, 1), 19);
    assert.equal(longRequestNice(BOOT_NICE, 1), BOOT_NICE + 1);
    for (let base = 1; base <= 19; base++) {
      for (let k = 1; k <= 64; k++) assert.notEqual(longRequestNice(base, k), BOOT_NICE);
    }
  });
});
