// How much CPU a request may claim when the cores are contended: the nice value it runs at
// (design note 008). Short requests run at 0. A long version's requests yield: they run at
// `base` plus enough that all of one workspace's long instances together weigh about as much as
// one thread at `base`, whatever their number, so a tenant cannot buy CPU with instances.

import { BOOT_NICE } from './host-process.js';

/** The kernel's weight grows by ~1.25× per nice step (sched_prio_to_weight). */
const STEP = Math.log(1.25);

/**
 * The nice value for a request of a long version whose workspace has `longInstances` instances of
 * long versions (this one's included). 0 turns yielding off.
 */
export function longRequestNice(base: number, longInstances: number): number {
  if (base <= 0) return 0;
  const n = Math.min(19, base + Math.round(Math.log(Math.max(1, longInstances)) / STEP));
  // BOOT_NICE marks a booting sandbox for promote(): one step more instead.
  return n === BOOT_NICE ? n + 1 : n;
}
