// Per-minute sums of each function's execution logs: FN#{fn}/MIN#{minute} rows holding calls,
// errors (in is_error), and the sums of duration_ms and cpu_ms. Every append adds its logs'
// deltas in the same transaction (logs.ts), so the sums are exact; statistics read these rows for
// whole minutes and the logs themselves only for a partial first or last minute (stats.ts).
import type { MinuteStats } from '../../core/types.js';
import { MINUTE_SK_PREFIX, fnPk, minuteSk, prefixEnd } from '../keys.js';
import type { Items } from './items.js';

export interface MinuteDelta {
  functionId: string;
  workspaceId: string;
  minute: string;
  calls: number;
  errors: number;
  durationMs: number;
  cpuMs: number;
}

export interface Sums {
  invocations: number;
  errors: number | null;
  duration: number | null;
}

const MINUTES_END = prefixEnd(MINUTE_SK_PREFIX);

export const MINUTE_ADD_SQL =
  'INSERT INTO items (pk, sk, kind, ts, ws_id, calls, is_error, duration_ms, cpu_ms) ' +
  "VALUES (?, ?, 'minute', ?, ?, ?, ?, ?, ?) ON CONFLICT (pk, sk) DO UPDATE SET " +
  'calls = calls + excluded.calls, is_error = is_error + excluded.is_error, ' +
  'duration_ms = duration_ms + excluded.duration_ms, cpu_ms = cpu_ms + excluded.cpu_ms';
export const MINUTE_RANGE_SQL =
  'SELECT substr(sk, 5) AS minute, calls AS invocations, is_error AS errors, ' +
  'duration_ms AS durationMs, cpu_ms AS cpuMs FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk';
export const MINUTE_FN_SUM_SQL =
  'SELECT coalesce(sum(calls), 0) AS invocations, sum(is_error) AS errors, sum(duration_ms) AS duration ' +
  'FROM items WHERE pk = ? AND sk >= ? AND sk < ?';
// `kind = 'minute'` selects the partial index items_minute_ws.
export const MINUTE_WS_SUM_SQL =
  'SELECT coalesce(sum(calls), 0) AS invocations, sum(is_error) AS errors, sum(duration_ms) AS duration ' +
  "FROM items WHERE kind = 'minute' AND ws_id = ? AND ts >= ?";

export class Minutes {
  private readonly addStmt;
  private readonly rangeStmt;
  private readonly fnSumStmt;
  private readonly wsSumStmt;
  private readonly dropEmptyStmt;

  constructor(items: Items) {
    const db = items.db;
    this.addStmt =
      db.prepare<[string, string, string, string, number, number, number, number]>(MINUTE_ADD_SQL);
    this.rangeStmt = db.prepare<[string, string, string], MinuteStats>(MINUTE_RANGE_SQL);
    this.fnSumStmt = db.prepare<[string, string, string], Sums>(MINUTE_FN_SUM_SQL);
    this.wsSumStmt = db.prepare<[string, string], Sums>(MINUTE_WS_SUM_SQL);
    this.dropEmptyStmt = db.prepare<[string, string]>(
      'DELETE FROM items WHERE pk = ? AND sk = ? AND calls <= 0',
    );
  }

  /**
   * Call inside the transaction that wrote (or deleted: negative deltas) the logs, one delta per
   * log; they are summed per function and minute first. A minute left with no calls goes.
   */
  apply(deltas: Iterable<MinuteDelta>): void {
    const sums = new Map<string, MinuteDelta>();
    for (const d of deltas) {
      const key = `${d.functionId}#${d.minute}`;
      const acc = sums.get(key);
      if (!acc) sums.set(key, { ...d });
      else {
        acc.calls += d.calls;
        acc.errors += d.errors;
        acc.durationMs += d.durationMs;
        acc.cpuMs += d.cpuMs;
      }
    }
    for (const d of sums.values()) this.add(d);
  }

  private add(d: MinuteDelta): void {
    this.addStmt.run(
      fnPk(d.functionId),
      minuteSk(d.minute),
      `${d.minute}:00.000Z`,
      d.workspaceId,
      d.calls,
      d.errors,
      d.durationMs,
      d.cpuMs,
    );
    if (d.calls < 0) this.dropEmptyStmt.run(fnPk(d.functionId), minuteSk(d.minute));
  }

  /** The rows of the whole minutes in [from, to) (minutes as `YYYY-MM-DDTHH:MM`). */
  ofFunction(functionId: string, from: string, to: string): MinuteStats[] {
    return this.rangeStmt.all(fnPk(functionId), minuteSk(from), minuteSk(to));
  }

  /** Sums over the function's minutes from `from` on. */
  functionSince(functionId: string, from: string): Sums | undefined {
    return this.fnSumStmt.get(fnPk(functionId), minuteSk(from), MINUTES_END);
  }

  /** Sums over the minutes of every function of the workspace from `from` on. */
  workspaceSince(workspaceId: string, from: string): Sums | undefined {
    return this.wsSumStmt.get(workspaceId, `${from}:00.000Z`);
  }
}
