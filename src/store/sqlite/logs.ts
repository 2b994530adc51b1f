// Execution logs, one row per invocation: FN#{fn}/LOG#{ts}#{id}, also indexed under the workspace
// (gsi1 WS#{ws}#LOGS/{ts}#{id}). Their ts / ws_id / is_error / duration_ms / cpu_ms columns feed
// stats.ts, and each append adds its logs to their minutes' sums (minutes.ts) in the same transaction.
//
// Each append numbers its logs after the store's last sequence number (LOGSEQ/LOGSEQ, in the same
// transaction), kept in the `seq` column and indexed per function: a live tail's resume point.
//
// Each function's stored logs have a byte quota (core/log-quota.ts). How many it has and what they
// count is one row, FN#{fn}/LOGUSAGE, kept in the same transactions; an append that takes the
// function past its quota deletes its oldest logs before it commits. Those stay in their minutes'
// sums: the quota bounds what is kept to read, not what the statistics saw.
import { invalid } from '../../core/errors.js';
import { LOG_ENTRY_OVERHEAD, logEntryBytes } from '../../core/log-quota.js';
import type { ExecutionLog, LogFilter, LogTailPage, SequencedLog } from '../../core/types.js';
import {
  LOG_DELETED_SK,
  LOG_SEQ_PK,
  LOG_SEQ_SK,
  LOG_SK_PREFIX,
  LOG_USAGE_SK,
  MINUTE_SK_PREFIX,
  canonicalTimestamp,
  fnPk,
  logGsiSk,
  logSk,
  minuteOf,
  minuteSk,
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
// What a stored row counts, in SQL: the same as logEntryBytes of its JSON.
const ROW_BYTES = `length(CAST(data AS BLOB)) + ${LOG_ENTRY_OVERHEAD}`;

// Listings, newest first, in a range of keys (partition, lower, upper, limit). Errors come from
// partial indexes that hold only them (schema 7): among a million successes, the last fifty
// errors are fifty index entries away, not a million rows.
const ERRORS = " AND kind = 'log' AND is_error = 1";
const SUCCESSES = ' AND is_error = 0';
const fnList = (where: string, index = '') =>
  `SELECT data FROM items ${index}WHERE pk = ? AND sk >= ? AND sk < ?${where} ORDER BY sk DESC LIMIT ?`;
const wsList = (where: string, index = '') =>
  `SELECT data FROM items ${index}WHERE gsi1pk = ? AND gsi1sk >= ? AND gsi1sk < ?${where} ORDER BY gsi1sk DESC LIMIT ?`;
export const LOG_LIST_SQL = {
  function: {
    any: fnList(''),
    success: fnList(SUCCESSES),
    error: fnList(ERRORS, 'INDEXED BY items_log_fn_errors '),
  },
  workspace: {
    any: wsList(''),
    success: wsList(SUCCESSES),
    error: wsList(ERRORS, 'INDEXED BY items_log_ws_errors '),
  },
} as const;

/** Logs one append deletes at most per function to bring it back within its quota. */
export const MAX_TRIMMED_ROWS = 2000;

/** How many logs a function has stored and the bytes they count (logEntryBytes). */
interface Usage {
  count: number;
  bytes: number;
}

export class Logs {
  private readonly listFnStmts;
  private readonly tailStmt;
  private readonly listWsStmts;
  private readonly deleteBeforeStmt;
  private readonly oldSumsStmt;
  private readonly oldestStmt;
  private readonly deleteThroughStmt;
  private readonly deleteMinutesBeforeStmt;

  /** `maxBytesPerFunction`: the quota, in logEntryBytes, of each function's stored logs. */
  constructor(
    private readonly items: Items,
    private readonly minutes: Minutes,
    private readonly maxBytesPerFunction: number,
  ) {
    const db = items.db;
    const list = (sql: string) => db.prepare<[string, string, string, number], { data: string }>(sql);
    this.listFnStmts = {
      any: list(LOG_LIST_SQL.function.any),
      success: list(LOG_LIST_SQL.function.success),
      error: list(LOG_LIST_SQL.function.error),
    };
    this.listWsStmts = {
      any: list(LOG_LIST_SQL.workspace.any),
      success: list(LOG_LIST_SQL.workspace.success),
      error: list(LOG_LIST_SQL.workspace.error),
    };
    this.tailStmt = db.prepare<[string, number, number], { seq: number; data: string }>(
      "SELECT seq, data FROM items WHERE pk = ? AND kind = 'log' AND seq > ? ORDER BY seq DESC LIMIT ?",
    );
    // The oldest first, by primary key: `LOG#{ts}#{id}` sorts by time within the partition. What
    // each deleted row counted in its minute comes back, to be taken off.
    this.deleteBeforeStmt = db.prepare<
      [string, string, string, string, number],
      {
        ts: string;
        ws_id: string;
        is_error: number;
        duration_ms: number;
        cpu_ms: number | null;
        seq: number | null;
        n: number;
      }
    >(
      'DELETE FROM items WHERE pk = ? AND sk IN (SELECT sk FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk LIMIT ?) ' +
        `RETURNING ts, ws_id, is_error, duration_ms, cpu_ms, seq, ${ROW_BYTES} AS n`,
    );
    this.oldSumsStmt = db.prepare<
      [string, string],
      { is_error: number | null; duration_ms: number | null; cpu_ms: number | null; n: number }
    >(`SELECT is_error, duration_ms, cpu_ms, ${ROW_BYTES} AS n FROM items WHERE pk = ? AND sk = ?`);
    this.oldestStmt = db.prepare<[string, string, string], { sk: string; seq: number | null; n: number }>(
      `SELECT sk, seq, ${ROW_BYTES} AS n FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk`,
    );
    this.deleteThroughStmt = db.prepare<[string, string, string]>(
      'DELETE FROM items WHERE pk = ? AND sk >= ? AND sk <= ?',
    );
    this.deleteMinutesBeforeStmt = db.prepare<[string, string, string]>(
      'DELETE FROM items WHERE pk = ? AND sk >= ? AND sk < ?',
    );
  }

  /** Keeps the highest sequence number the function's deleted logs had. In a transaction. */
  private noteDeleted(pk: string, seq: number): void {
    if (seq > this.deletedSeq(pk))
      this.items.upsert({ pk, sk: LOG_DELETED_SK, kind: 'logdeleted', data: String(seq) });
  }

  private deletedSeq(pk: string): number {
    return Number(this.items.getData(pk, LOG_DELETED_SK) ?? 0);
  }

  /** The last sequence number given to a log (0 before the first). */
  private lastSeq(): number {
    return Number(this.items.getData(LOG_SEQ_PK, LOG_SEQ_SK) ?? 0);
  }

  /** The function's row, or zeros when it has stored no log yet. Call inside a transaction. */
  private usage(pk: string): Usage {
    const raw = this.items.getData(pk, LOG_USAGE_SK);
    return raw === undefined ? { count: 0, bytes: 0 } : (JSON.parse(raw) as Usage);
  }

  /** A function left with no log keeps no row, as it had none before its first. */
  private setUsage(pk: string, u: Usage): void {
    if (u.count <= 0) this.items.delete(pk, LOG_USAGE_SK);
    else this.items.upsert({ pk, sk: LOG_USAGE_SK, kind: 'logusage', data: JSON.stringify(u) });
  }

  /**
   * Adds `delta` to the function's usage and, past the quota, deletes its oldest logs until what is
   * left fits, at most MAX_TRIMMED_ROWS of them: after an upgrade or a lowered quota a function can
   * be gigabytes over, and deleting that in one transaction held the serving thread for seconds
   * (~0.6 s a GiB). Its next appends go on with the rest; every batch of appends is far smaller.
   * The deleted logs stay in their minutes' sums. Call inside the appending transaction.
   */
  private account(pk: string, delta: Usage): void {
    const u = this.usage(pk);
    u.count += delta.count;
    u.bytes += delta.bytes;
    let over = u.bytes - this.maxBytesPerFunction;
    if (over > 0) {
      let last: string | undefined;
      let gone = 0;
      let deletedSeq = 0;
      // The cursor is closed (by the break) before the delete: one statement at a time.
      for (const row of this.oldestStmt.iterate(pk, LOG_SK_PREFIX, LOGS_END)) {
        last = row.sk;
        gone++;
        deletedSeq = Math.max(deletedSeq, row.seq ?? 0);
        over -= row.n;
        u.bytes -= row.n;
        if (over <= 0 || gone >= MAX_TRIMMED_ROWS) break;
      }
      if (last !== undefined) this.deleteThroughStmt.run(pk, LOG_SK_PREFIX, last);
      u.count -= gone;
      this.noteDeleted(pk, deletedSeq);
    }
    this.setUsage(pk, u);
  }

  /**
   * Call inside a transaction: all logs land or none. Appending the same (ts, id) twice replaces.
   * Logs of a function that no longer exists are dropped: an invocation that finishes (or a batch
   * that is flushed) after its function was deleted must not leave rows behind.
   */
  append(logs: ExecutionLog[]): SequencedLog[] {
    const stored: SequencedLog[] = [];
    let seq = this.lastSeq();
    const exists = new Map<string, boolean>();
    const deltas: MinuteDelta[] = [];
    const usage = new Map<string, Usage>();
    for (const log of logs) {
      const ts = requireTimestamp(log.timestamp, 'timestamp');
      let live = exists.get(log.functionId);
      if (live === undefined) {
        live = this.items.functionExists(log.functionId);
        exists.set(log.functionId, live);
      }
      if (!live) continue;
      const data = JSON.stringify(log);
      const row = {
        pk: fnPk(log.functionId),
        sk: logSk(ts, log.id),
        kind: 'log' as const,
        data,
        gsi1pk: wsLogsGsiPk(log.workspaceId),
        gsi1sk: logGsiSk(ts, log.id),
        ts,
        ws_id: log.workspaceId,
        is_error: log.status === 'error' ? 1 : 0,
        duration_ms: log.duration,
        cpu_ms: log.cpuMs,
        seq: ++seq,
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
      const u = usage.get(row.pk) ?? { count: 0, bytes: 0 };
      usage.set(row.pk, u);
      u.count++;
      u.bytes += logEntryBytes(data);
      try {
        this.items.insert(row);
      } catch (err) {
        if (!isPrimaryKeyConflict(err)) throw err;
        // The same (ts, id) again replaces the row; its minute and usage take the difference.
        const old = this.oldSumsStmt.get(row.pk, row.sk);
        this.items.upsert(row);
        d.calls = 0;
        d.errors -= old?.is_error ?? 0;
        d.durationMs -= old?.duration_ms ?? 0;
        d.cpuMs -= old?.cpu_ms ?? 0;
        u.count--;
        u.bytes -= old?.n ?? 0;
      }
      deltas.push(d);
      stored.push({ seq, log });
    }
    this.minutes.apply(deltas);
    for (const [pk, delta] of usage) this.account(pk, delta);
    if (stored.length > 0) {
      this.items.upsert({ pk: LOG_SEQ_PK, sk: LOG_SEQ_SK, kind: 'logseq', data: String(seq) });
    }
    return stored;
  }

  listForFunction(functionId: string, limit: number, filter: LogFilter = {}): ExecutionLog[] {
    const { since, upTo } = bounds(filter);
    const upper = upTo === undefined ? LOGS_END : LOG_SK_PREFIX + upTo;
    return page(
      this.listFnStmts[filter.status ?? 'any'].iterate(
        fnPk(functionId),
        LOG_SK_PREFIX + since,
        upper,
        sqlLimit(limit),
      ),
      filter.maxBytes ?? Infinity,
    );
  }

  /** From the usage row: counting the rows read every log of the function (~0.5 µs each). */
  countForFunction(functionId: string): number {
    return this.usage(fnPk(functionId)).count;
  }

  /** The function's logs' bytes, as its log quota counts them. */
  bytesForFunction(functionId: string): number {
    return this.usage(fnPk(functionId)).bytes;
  }

  /**
   * The newest `limit` logs numbered after `afterSeq`, oldest first, fewer once their JSON passes
   * `maxBytes` (the newest always comes back); `more` when some after `afterSeq` were left out,
   * or had been deleted (quota, retention).
   */
  tailForFunction(functionId: string, afterSeq: number, limit: number, maxBytes = Infinity): LogTailPage {
    const last = this.lastSeq();
    const max = sqlLimit(limit);
    if (max === 0) return { logs: [], more: false, last };
    const logs: SequencedLog[] = [];
    let size = 0;
    let more = false;
    for (const { seq, data } of this.tailStmt.iterate(
      fnPk(functionId),
      afterSeq,
      max === -1 ? -1 : max + 1,
    )) {
      size += data.length;
      if (logs.length === max || (logs.length > 0 && size > maxBytes)) {
        more = true;
        break;
      }
      logs.push({ seq, log: JSON.parse(data) as ExecutionLog });
    }
    // Logs after `afterSeq` that the quota or retention deleted are missed too.
    more ||= this.deletedSeq(fnPk(functionId)) > afterSeq;
    return { logs: logs.reverse(), more, last };
  }

  /**
   * Call inside a transaction: the deleted logs come off their minutes' sums and the usage row.
   * Once none older is left, so do the minutes wholly before the cutoff: the quota's deletions left
   * their sums behind, and nothing reads a minute older than the retention period.
   */
  deleteForFunctionBefore(functionId: string, before: string, limit: number): number {
    const cutoff = requireTimestamp(before, 'before');
    const pk = fnPk(functionId);
    const max = sqlLimit(limit);
    const gone = this.deleteBeforeStmt.all(pk, pk, LOG_SK_PREFIX, `${LOG_SK_PREFIX}${cutoff}`, max);
    if (gone.length > 0) {
      const u = this.usage(pk);
      u.count -= gone.length;
      for (const row of gone) u.bytes -= row.n;
      this.noteDeleted(
        pk,
        gone.reduce((m, row) => Math.max(m, row.seq ?? 0), 0),
      );
      this.setUsage(pk, u);
    }
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
    if (max === -1 || gone.length < max) {
      this.deleteMinutesBeforeStmt.run(pk, MINUTE_SK_PREFIX, minuteSk(minuteOf(cutoff)));
    }
    return gone.length;
  }

  listForWorkspace(workspaceId: string, limit: number, filter: LogFilter = {}): ExecutionLog[] {
    const { since, upTo } = bounds(filter);
    return page(
      this.listWsStmts[filter.status ?? 'any'].iterate(
        wsLogsGsiPk(workspaceId),
        since,
        upTo ?? GSI_LOGS_END,
        sqlLimit(limit),
      ),
      filter.maxBytes ?? Infinity,
    );
  }
}

// Above every `{ts}#{id}`: SQLite compares text as UTF-8 bytes, and U+FFFF's are above ASCII's.
const GSI_LOGS_END = '\uffff';

/**
 * A filter's range of `{ts}#{id}` keys: from `since` (inclusive) up to the lower of `until` and
 * the cursor (exclusive; a key `{until}#{id}` sorts after `{until}`, so `until` itself is out).
 */
function bounds(filter: LogFilter): { since: string; upTo: string | undefined } {
  const since = filter.since === undefined ? '' : boundTimestamp(filter.since, 'since');
  const until = filter.until === undefined ? undefined : boundTimestamp(filter.until, 'until');
  const cursor =
    filter.before === undefined
      ? undefined
      : logGsiSk(requireTimestamp(filter.before.timestamp, 'before'), filter.before.id);
  const upTo = until === undefined ? cursor : cursor === undefined || until < cursor ? until : cursor;
  return { since, upTo };
}

/**
 * A bound given finer than the millisecond logs are stamped with, rounded up to the next one: both
 * bounds are of the form "at or after", so `since=…59.3575Z` must leave out a log of `…59.357Z`
 * and `until=…59.3575Z` keep it. Cut to the millisecond (Date.parse's way), the first came back
 * and the second did not, where /loki-logs, in nanoseconds, said the opposite (a review).
 */
function boundTimestamp(value: string, field: string): string {
  const ts = requireTimestamp(value, field);
  const digits = /\.(\d+)(?:[Zz]|[+-]\d{2}:?\d{2})$/.exec(value)?.[1] ?? '';
  if (!/[1-9]/.test(digits.slice(3))) return ts;
  return new Date(Date.parse(ts) + 1).toISOString();
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
