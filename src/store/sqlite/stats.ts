// Invocation statistics computed from the execution-log rows themselves over [since, ∞): a real
// rolling window, with nothing to race on and nothing to expire (the seed kept read-modify-write
// counters). Each aggregate is a range over a covering index (see schema.ts), never a table scan.
import type { InvocationStats, MinuteStats } from '../../core/types.js';
import { fnPk } from '../keys.js';
import type { Items } from './items.js';
import { requireTimestamp } from './logs.js';

interface Aggregate {
  invocations: number;
  errors: number | null;
  avg: number | null;
}

// `kind = 'log'` selects the partial indexes items_log_fn_stats / items_log_ws_stats.
const SELECT = 'SELECT count(*) AS invocations, sum(is_error) AS errors, avg(duration_ms) AS avg FROM items';
export const FUNCTION_STATS_SQL = `${SELECT} WHERE kind = 'log' AND pk = ? AND ts >= ?`;
export const WORKSPACE_STATS_SQL = `${SELECT} WHERE kind = 'log' AND ws_id = ? AND ts >= ?`;
// Canonical timestamps share one layout, so their first 16 characters name the minute.
export const FUNCTION_MINUTES_SQL =
  'SELECT substr(ts, 1, 16) AS minute, count(*) AS invocations, sum(is_error) AS errors, ' +
  'sum(duration_ms) AS durationMs, sum(cpu_ms) AS cpuMs FROM items ' +
  "WHERE kind = 'log' AND pk = ? AND ts >= ? AND ts < ? GROUP BY minute ORDER BY minute";

const toStats = (a: Aggregate | undefined): InvocationStats => ({
  invocations: a?.invocations ?? 0,
  errors: a?.errors ?? 0,
  avgDuration: a?.avg ?? 0,
});

export class Stats {
  private readonly fnStmt;
  private readonly wsStmt;
  private readonly minutesStmt;

  constructor(items: Items) {
    this.fnStmt = items.db.prepare<[string, string], Aggregate>(FUNCTION_STATS_SQL);
    this.wsStmt = items.db.prepare<[string, string], Aggregate>(WORKSPACE_STATS_SQL);
    this.minutesStmt = items.db.prepare<[string, string, string], MinuteStats>(FUNCTION_MINUTES_SQL);
  }

  forFunction(functionId: string, since: string): InvocationStats {
    return toStats(this.fnStmt.get(fnPk(functionId), requireTimestamp(since, 'since')));
  }

  forWorkspace(workspaceId: string, since: string): InvocationStats {
    return toStats(this.wsStmt.get(workspaceId, requireTimestamp(since, 'since')));
  }

  minutesOfFunction(functionId: string, since: string, until: string): MinuteStats[] {
    return this.minutesStmt
      .all(fnPk(functionId), requireTimestamp(since, 'since'), requireTimestamp(until, 'until'))
      .map((m) => ({ ...m, durationMs: m.durationMs ?? 0, cpuMs: m.cpuMs ?? 0 }));
  }
}
