// Invocation statistics computed from the execution-log rows themselves over [since, ∞): a real
// rolling window, with nothing to race on and nothing to expire (the seed kept read-modify-write
// counters). Each aggregate is a range over a covering index (see schema.ts), never a table scan.
import type { InvocationStats } from '../../core/types.js';
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

const toStats = (a: Aggregate | undefined): InvocationStats => ({
  invocations: a?.invocations ?? 0,
  errors: a?.errors ?? 0,
  avgDuration: a?.avg ?? 0,
});

export class Stats {
  private readonly fnStmt;
  private readonly wsStmt;

  constructor(items: Items) {
    this.fnStmt = items.db.prepare<[string, string], Aggregate>(FUNCTION_STATS_SQL);
    this.wsStmt = items.db.prepare<[string, string], Aggregate>(WORKSPACE_STATS_SQL);
  }

  forFunction(functionId: string, since: string): InvocationStats {
    return toStats(this.fnStmt.get(fnPk(functionId), requireTimestamp(since, 'since')));
  }

  forWorkspace(workspaceId: string, since: string): InvocationStats {
    return toStats(this.wsStmt.get(workspaceId, requireTimestamp(since, 'since')));
  }
}
