// What an instance holds against the memory budgets (scheduler.ts) and the RSS watch: its
// function's memory limit, which the sandbox enforces on the wasm heap, plus the allowance for its
// thread's JS heap and Pyodide's glue. A reservation, not a measurement: wasm memory grows as the
// guest uses it and never shrinks, so a hostile guest can reach its limit at will, and admission
// must count the limit. Host processes' own memory (~110–175 MB each, one per up to
// `instancesPerProcess` instances) and the warm pool's are outside it.

import { totalmem } from 'node:os';
import type { FunctionVersion } from './types.js';
import { SANDBOX_OVERHEAD_BYTES } from './instance.js';

const MiB = 1024 * 1024;

export function reservedMb(version: Pick<FunctionVersion, 'memoryMb'>): number {
  return version.memoryMb + SANDBOX_OVERHEAD_BYTES / MiB;
}

export function reservedBytes(version: Pick<FunctionVersion, 'memoryMb'>): number {
  return reservedMb(version) * MiB;
}

/**
 * The default for all instances together: three quarters of the memory this process may use, the
 * machine's or its cgroup's limit if lower (a container's: `os.totalmem()` alone reports the host's).
 */
export function defaultMemoryBudgetMb(): number {
  // Node reports "no limit" as a huge number (2^64), and may report 0 or nothing.
  const limit = process.constrainedMemory?.() ?? 0;
  const memory = limit > 0 ? Math.min(limit, totalmem()) : totalmem();
  return Math.floor((memory / MiB) * 0.75);
}
