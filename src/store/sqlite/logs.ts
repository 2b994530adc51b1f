// Execution logs, one row per invocation: FN#{fn}/LOG#{ts}#{id}, also indexed under the workspace
// (gsi1 WS#{ws}#LOGS/{ts}#{id}). Their ts / ws_id / is_error / duration_ms / cpu_ms columns feed
// stats.ts, and each append adds its logs to their minutes' sums (minutes.ts) in the same transaction.
import { invalid } from '../../core/errors.js';
import type { ExecutionLog } from '../../core/types.js';
import {
  LOG_SK_PREFIX,
  canonicalTimestamp,
  fnPk,
  logGsiSk,
  logSk,
  minuteOf,
  prefixEnd,
  wsLogsGsiPk,
} from '../keys.js';
import { isPrimaryKeyConflict, type Items } from './items.js';
import type { MinuteDelta, Minutes } from './minutes.js';

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
  private readonly afterStmt;
  private readonly listWsStmt;
  private readonly deleteBeforeStmt;
  private readonly oldSumsStmt;

  constructor(
    private readonly items: Items,
    private readonly minutes: Minutes,
  ) {
    const db = items.db;
    this.listFnStmt = db.prepare<[string, string, string, number], { data: string }>(
      'SELECT data FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk DESC LIMIT ?',
    );
    this.afterStmt = db.prepare<[string, string, string, number], { data: string }>(
      'SELECT data FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk ASC LIMIT ?',
    );
    this.listWsStmt = db.prepare<[string, number], { data: string }>(
      'SELECT data FROM items WHERE gsi1pk = ? ORDER BY gsi1sk DESC LIMIT ?',
    );
    // The oldest first, by primary key: `LOG#{ts}#{id}` sorts by time within the partition. What
    // each deleted row counted in its minute comes back, to be taken off.
    this.deleteBeforeStmt = db.prepare<
      [string, string, string, string, number],
      { ts: string; ws_id: string; is_error: number; duration_ms: number; cpu_ms: number | null }
    >(
      'DELETE FROM items WHERE pk = ? AND sk IN (SELECT sk FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk LIMIT ?) ' +
        'RETURNING ts, ws_id, is_error, duration_ms, cpu_ms',
    );
    this.oldSumsStmt = db.prepare<
      [string, string],
      { is_error: number | null; duration_ms: number | null; cpu_ms: number | null }
    >('SELECT is_error, duration_ms, cpu_ms FROM items WHERE pk = ? AND sk = ?');
  }

  /**
   * Call inside a transaction: all logs land or none. Appending the same (ts, id) twice replaces.
   * Logs of a function that no longer exists are dropped: an invocation that finishes (or a batch
   * that is flushed) after its function was deleted must not leave rows behind.
   */
  append(logs: ExecutionLog[]): void {
    const exists = new Map<string, boolean>();
    const deltas: MinuteDelta[] = [];
    for (const log of logs) {
      const ts = requireTimestamp(log.timestamp, 'timestamp');
      let live = exists.get(log.functionId);
      if (live === undefined) {
        live = this.items.functionExists(log.functionId);
        exists.set(log.functionId, live);
      }
      if (!live) continue;
      const row = {
        pk: fnPk(log.functionId),
        sk: logSk(ts, log.id),
        kind: 'log' as const,
        data: JSON.stringify(log),
        gsi1pk: wsLogsGsiPk(log.workspaceId),
        gsi1sk: logGsiSk(ts, log.id),
        ts,
        ws_id: log.workspaceId,
        is_error: log.status === 'error' ? 1 : 0,
        duration_ms: log.duration,
        cpu_ms: log.cpuMs,
      };
      const d = {
        functionId: log.functionId,
        workspaceId: log.workspaceId,
        minute: minuteOf(ts),
        calls: 1,
        errors: row.is_error,
        durationMs: log.duration,
        cpuMs: log.cpuMs,
      };
      try {
        this.items.insert(row);
      } catch (err) {
        if (!isPrimaryKeyConflict(err)) throw err;
        // The same (ts, id) again replaces the row; its minute takes the difference.
        const old = this.oldSumsStmt.get(row.pk, row.sk);
        this.items.upsert(row);
        d.calls = 0;
        d.errors -= old?.is_error ?? 0;
        d.durationMs -= old?.duration_ms ?? 0;
        d.cpuMs -= old?.cpu_ms ?? 0;
      }
      deltas.push(d);
    }
    this.minutes.apply(deltas);
  }

  listForFunction(functionId: string, limit: number, maxBytes = Infinity): ExecutionLog[] {
    return page(
      this.listFnStmt.iterate(fnPk(functionId), LOG_SK_PREFIX, LOGS_END, sqlLimit(limit)),
      maxBytes,
    );
  }

  /** From the minutes' sums: counting the rows read every log of the function (~0.5 µs each). */
  countForFunction(functionId: string): number {
    return this.minutes.countOfFunction(functionId);
  }

  /** Strictly after: the range starts past every sort key `LOG#{after}#…`. */
  listForFunctionAfter(functionId: string, afterTimestamp: string, limit: number): ExecutionLog[] {
    const from = prefixEnd(`${LOG_SK_PREFIX}${requireTimestamp(afterTimestamp, 'afterTimestamp')}#`);
    return this.afterStmt
      .all(fnPk(functionId), from, LOGS_END, sqlLimit(limit))
      .map((r) => JSON.parse(r.data) as ExecutionLog);
  }

  /** Call inside a transaction: the deleted logs come off their minutes' sums. */
  deleteForFunctionBefore(functionId: string, before: string, limit: number): number {
    const cutoff = requireTimestamp(before, 'before');
    const pk = fnPk(functionId);
    const gone = this.deleteBeforeStmt.all(
      pk,
      pk,
      LOG_SK_PREFIX,
      `${LOG_SK_PREFIX}${cutoff}`,
      sqlLimit(limit),
    );
    this.minutes.apply(
      gone.map((row) => ({
        functionId,
        workspaceId: row.ws_id,
        minute: minuteOf(row.ts),
        calls: -1,
        errors: -row.is_error,
        durationMs: -row.duration_ms,
        cpuMs: -(row.cpu_ms ?? 0),
      })),
    );
    return gone.length;
  }

  listForWorkspace(workspaceId: string, limit: number, maxBytes = Infinity): ExecutionLog[] {
    return page(this.listWsStmt.iterate(wsLogsGsiPk(workspaceId), sqlLimit(limit)), maxBytes);
  }
}

/**
 * Parses rows until their JSON passes `maxBytes` (the first always counts): the rows past it are
 * never read, let alone parsed. The JSON's length in characters stands for its size.
 */
function page(rows: IterableIterator<{ data: string }>, maxBytes: number): ExecutionLog[] {
  const out: ExecutionLog[] = [];
  let size = 0;
  for (const { data } of rows) {
    size += data.length;
    if (out.length > 0 && size > maxBytes) break;
    out.push(JSON.parse(data) as ExecutionLog);
  }
  return out;
}
