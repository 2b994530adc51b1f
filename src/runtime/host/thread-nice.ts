// The nice value of the sandbox thread that imports this module: the parent names the value each
// request should run at (design note 008), and the thread applies it to itself, since Linux keeps
// nice values per thread and `setpriority(PRIO_PROCESS, 0)` means the calling thread. The jail has
// no /proc, so the parent could not name the thread to renice it.

import os from 'node:os';

// Captured before the lockdown replaces os.setPriority for guest code.
const { getPriority, setPriority } = os;

let applied = 0;

/**
 * Run from now on at `desired` (0–19). Raising always works; lowering needs a privilege a sandbox
 * has only when it runs under the parent's own user id and that user may lower nice values, so a
 * long version's sandbox usually keeps the highest value it was given. A value above 0 is read
 * back each time: `HostProcess.promote()` may have reset it.
 */
export function applyNice(desired: unknown): void {
  const n =
    typeof desired === 'number' && Number.isInteger(desired) && desired >= 0 && desired <= 19 ? desired : 0;
  if (n === applied && n === 0) return;
  try {
    if (getPriority(0) !== n) setPriority(0, n);
  } catch {
    // Not allowed to lower it: the thread stays where it is.
  }
  applied = n;
}
