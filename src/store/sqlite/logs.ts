// Execution logs, one row per invocation: FN#{fn}/LOG#{ts}#{id}, also indexed under the workspace
// (gsi1 WS#{ws}#LOGS/{ts}#{id}). Their ts / ws_id / is_error / duration_ms / cpu_ms columns feed
// stats.ts.
import { invalid } from '../../core/errors.js';
import type { ExecutionLog } from '../../core/types.js';
import {
  LOG_SK_PREFIX,
  METADATA_SK,
  canonicalTimestamp,
  fnGsiPk,
  fnPk,
  logGsiSk,
  logSk,
  prefixEnd,
  wsLogsGsiPk,
} from '../keys.js';
import type { Items } from './items.js';

/** SQLite reads LIMIT -1 as "no limit"; a negative or NaN limit asks for nothing. */
function sqlLimit(limit: number): number {
  if (limit === Number.POSITIVE_INFINITY) return -1;
  if (!Number.isFinite(limit) || limit <= 0) return 0;
  return Math.floor(limit);
}

export function requireTimestamp(value: string, field: string): string {
  const ts = canonicalTimestamp(value);
  if (ts === undefined) throw invalid(field, `'${value}' is not a valid timestamp`);
  return ts;
}

const LOGS_END = prefixEnd(LOG_SK_PREFIX);

export class Logs {
  private readonly listFnStmt;
  private readonly countFnStmt;
  private readonly afterStmt;
  private readonly listWsStmt;
  private readonly fnExistsStmt;
  private readonly deleteBeforeStmt;

  constructor(private readonly items: Items) {
    const db = items.db;
    this.listFnStmt = db.prepare<[string, string, string, number], { data: string }>(
      'SELECT data FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk DESC LIMIT ?',
    );
    this.countFnStmt = db.prepare<[string, string, string], { n: number }>(
      'SELECT count(*) AS n FROM items WHERE pk = ? AND sk >= ? AND sk < ?',
    );
    this.afterStmt = db.prepare<[string, string, string, number], { data: string }>(
      'SELECT data FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk ASC LIMIT ?',
    );
    this.listWsStmt = db.prepare<[string, number], { data: string }>(
      'SELECT data FROM items WHERE gsi1pk = ? ORDER BY gsi1sk DESC LIMIT ?',
    );
    // The oldest first, by primary key: `LOG#{ts}#{id}` sorts by time within the partition.
    this.deleteBeforeStmt = db.prepare<[string, string, string, string, number]>(
      'DELETE FROM items WHERE pk = ? AND sk IN (SELECT sk FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk LIMIT ?)',
    );
    this.fnExistsStmt = db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM items WHERE gsi1pk = ? AND gsi1sk = ? LIMIT 1',
    );
  }

  /**
   * Call inside a transaction: all logs land or none. Appending the same (ts, id) twice replaces.
   * Logs of a function that no longer exists are dropped: an invocation that finishes (or a batch
   * that is flushed) after its function was deleted must not leave rows behind.
   */
  append(logs: ExecutionLog[]): void {
    const exists = new Map<string, boolean>();
    for (const log of logs) {
      const ts = requireTimestamp(log.timestamp, 'timestamp');
      let live = exists.get(log.functionId);
      if (live === undefined) {
        live = this.fnExistsStmt.get(fnGsiPk(log.functionId), METADATA_SK) !== undefined;
        exists.set(log.functionId, live);
      }
      if (!live) continue;
      this.items.upsert({
        pk: fnPk(log.functionId),
        sk: logSk(ts, log.id),
        kind: 'log',
        data: JSON.stringify(log),
        gsi1pk: wsLogsGsiPk(log.workspaceId),
        gsi1sk: logGsiSk(ts, log.id),
        ts,
        ws_id: log.workspaceId,
        is_error: log.status === 'error' ? 1 : 0,
        duration_ms: log.duration,
        cpu_ms: log.cpuMs,
      });
    }
  }

  listForFunction(functionId: string, limit: number): ExecutionLog[] {
    return this.listFnStmt
      .all(fnPk(functionId), LOG_SK_PREFIX, LOGS_END, sqlLimit(limit))
      .map((r) => JSON.parse(r.data) as ExecutionLog);
  }

  countForFunction(functionId: string): number {
    return this.countFnStmt.get(fnPk(functionId), LOG_SK_PREFIX, LOGS_END)?.n ?? 0;
  }

  /** Strictly after: the range starts past every sort key `LOG#{after}#…`. */
  listForFunctionAfter(functionId: string, afterTimestamp: string, limit: number): ExecutionLog[] {
    const from = prefixEnd(`${LOG_SK_PREFIX}${requireTimestamp(afterTimestamp, 'afterTimestamp')}#`);
    return this.afterStmt
      .all(fnPk(functionId), from, LOGS_END, sqlLimit(limit))
      .map((r) => JSON.parse(r.data) as ExecutionLog);
  }

  deleteForFunctionBefore(functionId: string, before: string, limit: number): number {
    const end = `${LOG_SK_PREFIX}${requireTimestamp(before, 'before')}`;
    const pk = fnPk(functionId);
    return this.deleteBeforeStmt.run(pk, pk, LOG_SK_PREFIX, end, sqlLimit(limit)).changes;
  }

  listForWorkspace(workspaceId: string, limit: number): ExecutionLog[] {
    return this.listWsStmt
      .all(wsLogsGsiPk(workspaceId), sqlLimit(limit))
      .map((r) => JSON.parse(r.data) as ExecutionLog);
  }
}
