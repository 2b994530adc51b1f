// What an instance holds against the memory budgets (scheduler.ts): its function's memory limit,
// which the sandbox enforces on the wasm heap and the RSS watch backs up, plus the allowance for
// its thread's JS heap and Pyodide's glue. A reservation, not a measurement: wasm memory grows as
// the guest uses it and never shrinks, so a hostile guest can reach its limit at will, and
// admission must count the limit. Host processes' own memory (~110–175 MB each, one per up to
// `instancesPerProcess` instances) and the warm pool's are outside it.

import { totalmem } from 'node:os';
import type { FunctionVersion } from './types.js';
import { SANDBOX_OVERHEAD_BYTES } from './instance.js';

const MiB = 1024 * 1024;

export function reservedMb(version: Pick<FunctionVersion, 'memoryMb'>): number {
  return version.memoryMb + SANDBOX_OVERHEAD_BYTES / MiB;
}

/** The default for all instances together: three quarters of the machine's memory. */
export function defaultMemoryBudgetMb(): number {
  return Math.floor((totalmem() / MiB) * 0.75);
}
