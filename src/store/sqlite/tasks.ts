// Build tasks: WS#{ws}/BUILD#{task}, found by id alone through gsi1 BUILD#{task}/METADATA (the
// seed scanned the whole table for this).
import { notFound } from '../../core/errors.js';
import type { BuildTask } from '../../core/types.js';
import type { TaskPage, TaskPatch } from '../ports.js';
import { METADATA_SK, taskGsiPk, taskSk, wsPk } from '../keys.js';
import { requireTimestamp } from './logs.js';
import { type Items, definedOnly, parseRecord } from './items.js';
import type { Workspaces } from './workspaces.js';

// Newest first straight from an index (schema 8): the `ts` column holds the task's createdAt, and
// ties go by task id, descending. Loading every task to sort them took a workspace of 9,000 failed
// builds (each error up to 64 KiB) to a 500 and a 7-s stall of the server.
export const TASK_LIST_SQL = {
  first:
    "SELECT data FROM items INDEXED BY items_task_time WHERE pk = ? AND kind = 'task' ORDER BY ts DESC, sk DESC LIMIT ?",
  after:
    "SELECT data FROM items INDEXED BY items_task_time WHERE pk = ? AND kind = 'task' AND (ts, sk) < (?, ?) ORDER BY ts DESC, sk DESC LIMIT ?",
} as const;

export class Tasks {
  private readonly firstStmt;
  private readonly afterStmt;

  constructor(
    private readonly items: Items,
    private readonly workspaces: Workspaces,
  ) {
    this.firstStmt = items.db.prepare<[string, number], { data: string }>(TASK_LIST_SQL.first);
    this.afterStmt = items.db.prepare<[string, string, string, number], { data: string }>(
      TASK_LIST_SQL.after,
    );
  }

  /**
   * Call inside a transaction. Insert or replace; a task id lives in one workspace only, which
   * must exist: an upload that raced its workspace's delete left a task no delete would remove.
   */
  put(task: BuildTask): void {
    if (!this.workspaces.exists(task.workspaceId)) throw notFound('Workspace', task.workspaceId);
    const previous = this.items.getByGsi(taskGsiPk(task.taskId), METADATA_SK);
    const pk = wsPk(task.workspaceId);
    const sk = taskSk(task.taskId);
    if (previous && (previous.pk !== pk || previous.sk !== sk)) this.items.delete(previous.pk, previous.sk);
    this.items.upsert({
      pk,
      sk,
      kind: 'task',
      data: JSON.stringify(task),
      gsi1pk: taskGsiPk(task.taskId),
      gsi1sk: METADATA_SK,
      ts: requireTimestamp(task.createdAt, 'createdAt'),
    });
  }

  get(taskId: string): BuildTask | undefined {
    return parseRecord<BuildTask>(this.items.getByGsi(taskGsiPk(taskId), METADATA_SK)?.data);
  }

  list(workspaceId: string, page: TaskPage = {}): BuildTask[] {
    const pk = wsPk(workspaceId);
    const limit = page.limit ?? -1; // SQLite: no limit
    const rows = page.before
      ? this.afterStmt.iterate(
          pk,
          requireTimestamp(page.before.createdAt, 'before'),
          taskSk(page.before.taskId),
          limit,
        )
      : this.firstStmt.iterate(pk, limit);
    const out: BuildTask[] = [];
    let size = 0;
    for (const { data } of rows) {
      size += data.length;
      if (out.length > 0 && size > (page.maxBytes ?? Infinity)) break;
      out.push(JSON.parse(data) as BuildTask);
    }
    return out;
  }

  /** The task as it was, or undefined when there is none. */
  delete(taskId: string): BuildTask | undefined {
    const row = this.items.getByGsi(taskGsiPk(taskId), METADATA_SK);
    if (!row) return undefined;
    this.items.delete(row.pk, row.sk);
    return parseRecord<BuildTask>(row.data);
  }

  /** Call inside a transaction: read-merge-write. */
  update(taskId: string, patch: TaskPatch): BuildTask | undefined {
    const current = this.get(taskId);
    if (!current) return undefined;
    const next: BuildTask = {
      ...current,
      ...definedOnly(patch),
      taskId: current.taskId,
      workspaceId: current.workspaceId,
      createdAt: current.createdAt,
    };
    this.put(next);
    return next;
  }
}
