// How much CPU a request may claim when the cores are contended: the nice value it yields to
// (design note 008). A request that has used the CPU of a short one (5 ms) yields: its thread runs
// at `base` plus enough that all of one workspace's instances together weigh about as much as one
// thread at `base`, whatever their number, so a tenant cannot buy CPU with instances. Short
// requests never get there and run at 0.

import { BOOT_NICE } from './host-process.js';

/** The kernel's weight grows by ~1.25× per nice step (sched_prio_to_weight). */
const STEP = Math.log(1.25);

/**
 * The nice value a long request yields to when its workspace has `instances` instances (this
 * one's included). 0 turns yielding off.
 */
export function longRequestNice(base: number, instances: number): number {
  if (base <= 0) return 0;
  const n = Math.min(19, base + Math.round(Math.log(Math.max(1, instances)) / STEP));
  // BOOT_NICE marks a booting sandbox for promote(): one step more instead.
  return n === BOOT_NICE ? n + 1 : n;
}

/**
 * Whether a sandbox that yielded to `nice` (it cannot come back down) is worth replacing now that
 * its workspace's long requests get `share`: when it is more than 4 steps above it (a third of the
 * weight it should have, or less). One instance fewer moves `share` by at most 4 steps (3, and
 * the one past the boot marker), so a single recycled or reaped instance never gets its
 * neighbours replaced; a workspace that shrank to a third or less does.
 */
export function stuckAbove(nice: number, share: number): boolean {
  return nice > share + 4;
}
