// Invocation statistics over [since, ∞) or [since, until): a real rolling window, with nothing to
// race on and nothing to expire (the seed kept read-modify-write counters). Whole minutes come from
// the per-minute sums (minutes.ts); a partial first or last minute from the logs themselves,
// through a covering index (see schema.ts). Never a table scan, and a day is at most 1,440 rows
// per function however busy it was.
import type { InvocationStats, MinuteStats } from '../../core/types.js';
import { fnPk, minuteOf } from '../keys.js';
import type { Items } from './items.js';
import { requireTimestamp } from './logs.js';
import type { Minutes, Sums } from './minutes.js';

// `kind = 'log'` selects the partial indexes items_log_fn_stats / items_log_ws_stats.
const SUMS =
  'SELECT count(*) AS invocations, sum(is_error) AS errors, sum(duration_ms) AS duration FROM items';
export const FUNCTION_RANGE_SQL = `${SUMS} WHERE kind = 'log' AND pk = ? AND ts >= ? AND ts < ?`;
export const WORKSPACE_RANGE_SQL = `${SUMS} WHERE kind = 'log' AND ws_id = ? AND ts >= ? AND ts < ?`;
// Canonical timestamps share one layout, so their first 16 characters name the minute.
export const FUNCTION_MINUTES_SQL =
  'SELECT substr(ts, 1, 16) AS minute, count(*) AS invocations, sum(is_error) AS errors, ' +
  'sum(duration_ms) AS durationMs, sum(cpu_ms) AS cpuMs FROM items ' +
  "WHERE kind = 'log' AND pk = ? AND ts >= ? AND ts < ? GROUP BY minute ORDER BY minute";

const MINUTE_MS = 60_000;

/** The first whole minute at or after `ts`. */
function ceilMinute(ts: string): string {
  return minuteOf(new Date(Math.ceil(Date.parse(ts) / MINUTE_MS) * MINUTE_MS).toISOString());
}

const startOf = (minute: string): string => `${minute}:00.000Z`;

function combine(...parts: Array<Sums | undefined>): InvocationStats {
  let invocations = 0;
  let errors = 0;
  let duration = 0;
  for (const p of parts) {
    invocations += p?.invocations ?? 0;
    errors += p?.errors ?? 0;
    duration += p?.duration ?? 0;
  }
  return { invocations, errors, avgDuration: invocations > 0 ? duration / invocations : 0 };
}

export class Stats {
  private readonly fnRangeStmt;
  private readonly wsRangeStmt;
  private readonly fnMinutesStmt;

  constructor(
    items: Items,
    private readonly minutes: Minutes,
  ) {
    this.fnRangeStmt = items.db.prepare<[string, string, string], Sums>(FUNCTION_RANGE_SQL);
    this.wsRangeStmt = items.db.prepare<[string, string, string], Sums>(WORKSPACE_RANGE_SQL);
    this.fnMinutesStmt = items.db.prepare<[string, string, string], MinuteStats>(FUNCTION_MINUTES_SQL);
  }

  forFunction(functionId: string, since: string): InvocationStats {
    const from = requireTimestamp(since, 'since');
    const whole = ceilMinute(from);
    return combine(
      this.fnRangeStmt.get(fnPk(functionId), from, startOf(whole)),
      this.minutes.functionSince(functionId, whole),
    );
  }

  forWorkspace(workspaceId: string, since: string): InvocationStats {
    const from = requireTimestamp(since, 'since');
    const whole = ceilMinute(from);
    return combine(
      this.wsRangeStmt.get(workspaceId, from, startOf(whole)),
      this.minutes.workspaceSince(workspaceId, whole),
    );
  }

  minutesOfFunction(functionId: string, since: string, until: string): MinuteStats[] {
    const from = requireTimestamp(since, 'since');
    const to = requireTimestamp(until, 'until');
    const raw = (a: string, b: string): MinuteStats[] =>
      this.fnMinutesStmt
        .all(fnPk(functionId), a, b)
        .map((m) => ({ ...m, errors: m.errors ?? 0, durationMs: m.durationMs ?? 0, cpuMs: m.cpuMs ?? 0 }));
    const first = ceilMinute(from);
    const last = minuteOf(to);
    if (first >= last) return raw(from, to);
    return [
      ...raw(from, startOf(first)),
      ...this.minutes.ofFunction(functionId, first, last),
      ...raw(startOf(last), to),
    ];
  }
}
