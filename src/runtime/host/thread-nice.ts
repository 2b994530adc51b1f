// The nice value of the sandbox thread that imports this module (design note 008). The parent
// names, with each request, the value the request yields to once it has used YIELD_AFTER_MS of
// CPU; the thread applies it to itself, since Linux keeps nice values per thread and
// `setpriority(PRIO_PROCESS, 0)` means the calling thread. The jail has no /proc, so the parent
// could not name the thread to renice it. Deciding inside the request, on the CPU it has used,
// leaves short requests at 0 and catches a long one from its first millisecond past the line,
// whatever the version's history.

import os from 'node:os';

// Captured before the lockdown replaces os.setPriority for guest code.
const { getPriority, setPriority } = os;

/** CPU a request may use before its thread yields: the scheduler's line for a short request. */
export const YIELD_AFTER_MS = 5;
/**
 * The same line for a load (module code at an instance's start). Loading the most trivial module
 * costs the interpreter 6–10 ms of CPU of its own, and a yield is for life, so 5 ms would nice
 * every sandbox; this is still a fraction of the boot (0.1–0.3 s at nice 0) every load follows.
 */
export const LOAD_YIELD_AFTER_MS = 50;
/**
 * The same line for an instance's first request: it warms the interpreter's paths for the
 * handler (2–4× a later short request's CPU, ~2 ms here), so on a contended machine a short
 * function's first request crossed 5 ms and its sandbox ran every later request niced, for life.
 * Still far below a long request (tens of ms).
 */
export const FIRST_REQUEST_YIELD_AFTER_MS = 15;

let applied = 0;
let level = 0;
let line = YIELD_AFTER_MS;

function set(n: number): void {
  try {
    if (getPriority(0) !== n) setPriority(0, n);
    applied = getPriority(0);
  } catch {
    // Not allowed to lower it: the thread stays where it is.
  }
}

/**
 * At the start of a request: the value (0–19) it yields to. A thread that yielded in an earlier
 * request follows the new value at once (raising always works; lowering needs a privilege a
 * sandbox under a dropped uid never has, so such a thread keeps the highest value it was given).
 * Returns when the poll should first look at the request's CPU (Infinity: never).
 */
export function startRequest(desired: unknown, now: number, after = YIELD_AFTER_MS): number {
  level =
    typeof desired === 'number' && Number.isInteger(desired) && desired >= 0 && desired <= 19 ? desired : 0;
  line = after;
  if (applied > 0 && level !== applied) set(level);
  return level > applied ? now + after : Infinity;
}

/**
 * At the start of a load: the request's rule, at the load's line. Module code can otherwise hold
 * a core at nice 0 until the load's deadline (up to 60 s), at every deploy and scale-out.
 */
export function startLoad(desired: unknown, now: number): number {
  return startRequest(desired, now, LOAD_YIELD_AFTER_MS);
}

/** The nice value this thread gave itself, and keeps (reported with each answer). */
export function niceNow(): number {
  return applied;
}

/** From the interrupt poll, with the CPU the request (or load) has used: true once it has yielded. */
export function yieldIfLong(cpuMs: number): boolean {
  if (cpuMs < line) return false;
  set(level);
  return true;
}
