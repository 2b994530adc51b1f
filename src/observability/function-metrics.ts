// The seed's GET /api/functions/{fn}/metrics and /loki-logs, answered from the embedded execution
// logs instead of Prometheus and Loki. CPU figures come from the CPU time each invocation really
// used (measured by the runtime per invocation), bucketed per minute over the last hour.

import type { Clock } from '../core/ids.js';
import type { ExecutionLog } from '../core/types.js';
import type { MetadataStore } from '../store/ports.js';

export const WINDOW_SECONDS = 3600;
const BUCKET_SECONDS = 60;

export interface SeriesPoint {
  /**
   * Unix seconds, as Prometheus answers a range query and the seed passed it on: its console
   * draws `new Date(point.timestamp * 1000)` (an ISO string there was "Invalid Date").
   */
  timestamp: number;
  value: number;
}

export interface FunctionMetrics {
  status: 'success';
  function_id: string;
  data: {
    window_seconds: number;
    /** CPU seconds used by the function in the window. */
    cpu_total: number;
    /** Per minute: average CPU cores used (CPU seconds / 60). */
    cpu_series: SeriesPoint[];
    invocations_total: number;
    errors_total: number;
    invocation_series: SeriesPoint[];
    error_series: SeriesPoint[];
    /** Per minute: mean duration in ms (0 when there were no invocations). */
    duration_series: SeriesPoint[];
    instant_query: string;
    range_query: string;
  };
}

export async function functionMetrics(
  meta: MetadataStore,
  clock: Clock,
  functionId: string,
): Promise<FunctionMetrics> {
  const now = clock().getTime();
  const end = Math.floor(now / (BUCKET_SECONDS * 1000)) * BUCKET_SECONDS * 1000 + BUCKET_SECONDS * 1000;
  const start = end - WINDOW_SECONDS * 1000;
  // Per-minute sums from the store (an index range aggregate), not the logs themselves.
  const minutes = await meta.functionMinutes(
    functionId,
    new Date(start).toISOString(),
    new Date(end).toISOString(),
  );
  const buckets = WINDOW_SECONDS / BUCKET_SECONDS;
  const cpu = new Array<number>(buckets).fill(0);
  const calls = new Array<number>(buckets).fill(0);
  const errs = new Array<number>(buckets).fill(0);
  const dur = new Array<number>(buckets).fill(0);
  for (const m of minutes) {
    const i = Math.floor((Date.parse(`${m.minute}:00.000Z`) - start) / (BUCKET_SECONDS * 1000));
    if (i < 0 || i >= buckets) continue;
    cpu[i] = m.cpuMs / 1000;
    calls[i] = m.invocations;
    errs[i] = m.errors;
    dur[i] = m.durationMs;
  }
  const at = (i: number) => start / 1000 + i * BUCKET_SECONDS;
  const round = (n: number) => Math.round(n * 1e6) / 1e6;
  const series = (values: number[], f: (v: number, i: number) => number = (v) => v) =>
    values.map((v, i) => ({ timestamp: at(i), value: round(f(v, i)) }));
  return {
    status: 'success',
    function_id: functionId,
    data: {
      window_seconds: WINDOW_SECONDS,
      cpu_total: round(cpu.reduce((a, b) => a + b, 0)),
      cpu_series: series(cpu, (v) => v / BUCKET_SECONDS),
      invocations_total: calls.reduce((a, b) => a + b, 0),
      errors_total: errs.reduce((a, b) => a + b, 0),
      invocation_series: series(calls),
      error_series: series(errs),
      duration_series: series(dur, (v, i) => (calls[i]! > 0 ? v / calls[i]! : 0)),
      instant_query: `sum(cpu_seconds{function_id="${functionId}"}[${WINDOW_SECONDS}s]) from execution logs`,
      range_query: `sum(cpu_seconds{function_id="${functionId}"}[${BUCKET_SECONDS}s]) / ${BUCKET_SECONDS} step ${BUCKET_SECONDS}s from execution logs`,
    },
  };
}

export interface LokiEntry {
  /** Nanoseconds since the epoch, as a string (Loki's format). */
  timestamp: string;
  line: string;
}

/** Which line timestamps a query selects, in ns since the epoch: Loki's half-open [start, end). */
export interface LokiRange {
  start?: bigint | undefined;
  end?: bigint | undefined;
}

/**
 * The lines functions printed, in the shape the seed read from Loki, from `logs` as the store
 * lists them (newest first), that fall in `range`: the newest `limit` of them, newest first, or
 * with `oldest` (Loki's direction=forward) the oldest `limit` of them, oldest first. Each
 * line's timestamp is its invocation's (ms) plus its index in nanoseconds, lowered where needed
 * so that every one is below the one before: two invocations stamped in the same millisecond
 * gave equal timestamps (a Loki client folds equal entries into one) out of order.
 *
 * The range applies to each line's timestamp as answered, to the nanosecond: a client that pages
 * back with `end` set to the oldest timestamp it got gets the lines below it, and a line lowered
 * below `start` is not in the range. `reachedStart` says a line below `start` was met: no older
 * line of `logs` can be in the range.
 */
export function lokiEntries(
  logs: ExecutionLog[],
  limit: number,
  range: LokiRange = {},
  oldest = false,
): { entries: LokiEntry[]; reachedStart: boolean } {
  let out: LokiEntry[] = [];
  let previous: bigint | undefined;
  let reachedStart = false;
  walk: for (const log of logs) {
    const ns = BigInt(Date.parse(log.timestamp)) * 1_000_000n;
    for (let i = log.logs.length - 1; i >= 0; i--) {
      let at = ns + BigInt(i);
      if (previous !== undefined && at >= previous) at = previous - 1n;
      previous = at;
      // Timestamps only go down from here: every line after one below `start` is below it too.
      if (range.start !== undefined && at < range.start) {
        reachedStart = true;
        break walk;
      }
      if (range.end !== undefined && at >= range.end) continue;
      out.push({ timestamp: at.toString(), line: log.logs[i]! });
      if (!oldest && out.length >= limit) break walk;
      // The oldest `limit` are the last ones: those before them go, a batch at a time.
      if (oldest && out.length >= 2 * limit) out = out.slice(-limit);
    }
  }
  return { entries: oldest ? out.slice(-limit).reverse() : out, reachedStart };
}
