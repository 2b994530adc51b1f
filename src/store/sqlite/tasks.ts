// Build tasks: WS#{ws}/BUILD#{task}, found by id alone through gsi1 BUILD#{task}/METADATA (the
// seed scanned the whole table for this).
import { notFound } from '../../core/errors.js';
import type { BuildTask } from '../../core/types.js';
import type { TaskPatch } from '../ports.js';
import { METADATA_SK, TASK_SK_PREFIX, prefixEnd, taskGsiPk, taskSk, wsPk } from '../keys.js';
import { type Items, definedOnly, parseRecord } from './items.js';
import type { Workspaces } from './workspaces.js';

const newestFirst = (a: BuildTask, b: BuildTask): number =>
  a.createdAt > b.createdAt
    ? -1
    : a.createdAt < b.createdAt
      ? 1
      : a.taskId > b.taskId
        ? -1
        : a.taskId < b.taskId
          ? 1
          : 0;

export class Tasks {
  constructor(
    private readonly items: Items,
    private readonly workspaces: Workspaces,
  ) {}

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
    });
  }

  get(taskId: string): BuildTask | undefined {
    return parseRecord<BuildTask>(this.items.getByGsi(taskGsiPk(taskId), METADATA_SK)?.data);
  }

  list(workspaceId: string): BuildTask[] {
    return this.items
      .range(wsPk(workspaceId), TASK_SK_PREFIX, prefixEnd(TASK_SK_PREFIX))
      .map((r) => JSON.parse(r.data ?? 'null') as BuildTask)
      .sort(newestFirst);
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
