// Removing finished build tasks, for DELETE /api/v1/tasks/{id} (BuildService.deleteTask) and for
// retention (task-retention.ts). The record goes first and the blobs after it, as everywhere (a
// record must never name a missing blob): the task's upload folder, and the earlier upload a push
// built, unless a task that stays names them; then the artifact it built, unless a deployment or
// a task that stays names it (artifact-collector.ts, safe against a build or deploy racing it).
// Both paths ask the same question of the same records, so the answer lives here once.

import { EunhaError, notFound } from '../core/errors.js';
import type { BuildTask } from '../core/types.js';
import { eachTask } from '../store/lookups.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { digestOfTask } from './artifact-collector.js';
import { sourceDir, sourcePrefix } from './types.js';

/** What removing a task needs of it: retention keeps no more of each task it picks. */
export type RemovableTask = Pick<BuildTask, 'taskId' | 'workspaceId' | 'sourcePath' | 'result'>;

/** Builds queued or running in this process, which the records alone may not show yet. */
export interface BuildsUnderWay {
  has(taskId: string): boolean;
  /** Whether one of them will read this upload folder (a push names it before its record is written). */
  reads(folder: string): boolean;
}

export interface TaskRemovalOptions {
  /** Removes the artifacts the deleted tasks built, those nothing else names (the build service). */
  collectArtifacts?: (workspaceId: string, digests: Iterable<string>) => Promise<unknown>;
  /** The build service's builds queued or running (retention is given them too). */
  underWay?: BuildsUnderWay;
}

const NONE_UNDER_WAY: BuildsUnderWay = { has: () => false, reads: () => false };

export class TaskRemoval {
  private readonly underWay: BuildsUnderWay;

  constructor(
    private readonly meta: Pick<MetadataStore, 'listTasks' | 'deleteTask'>,
    private readonly blobs: Pick<BlobStore, 'deletePrefix'>,
    private readonly opts: TaskRemovalOptions = {},
  ) {
    this.underWay = opts.underWay ?? NONE_UNDER_WAY;
  }

  /**
   * Deletes a finished task: its record, its upload unless another task builds it too, and the
   * artifact it built unless a deployment or another task names it. CONFLICT while it is pending
   * or running; NOT_FOUND when its record is gone already. A failed blob delete is thrown.
   */
  async removeFinished(task: BuildTask): Promise<void> {
    if (task.status === 'pending' || task.status === 'running' || this.underWay.has(task.taskId)) {
      throw new EunhaError(
        'CONFLICT',
        `task '${task.taskId}' is ${task.status}; delete it once it has finished`,
        { status: task.status },
      );
    }
    if (!(await this.meta.deleteTask(task.taskId))) throw notFound('Task', task.taskId);
    // Read after the record went: every task left is one that stays.
    const { named } = await this.survey(task.workspaceId, () => false);
    await this.removeUploads(task, (folder) => named.has(folder) || this.underWay.reads(folder));
    const digest = digestOfTask(task);
    if (digest !== undefined) await this.opts.collectArtifacts?.(task.workspaceId, [digest]);
  }

  /** The workspace's tasks, read once: those `goes` picks, and the upload folders the others name. */
  async survey(
    workspaceId: string,
    goes: (task: BuildTask) => boolean,
  ): Promise<{ going: RemovableTask[]; named: Set<string> }> {
    const going: RemovableTask[] = [];
    const named = new Set<string>();
    for await (const t of eachTask(this.meta, workspaceId)) {
      if (goes(t)) {
        going.push({
          taskId: t.taskId,
          workspaceId: t.workspaceId,
          sourcePath: t.sourcePath,
          result: t.result,
        });
      } else if (t.sourcePath) named.add(sourceDir(t.sourcePath));
    }
    return { going, named };
  }

  /**
   * Deletes the tasks survey() picked of one workspace, each record then its uploads the tasks
   * that stay do not name (`named`, from the same survey), then their artifacts together, until
   * `stopped`. A failed blob delete goes to `failed` and is left: the start-up sweep removes blobs
   * no record names. Answers how many records it deleted (one deleted meanwhile is not counted).
   */
  async removeMany(
    workspaceId: string,
    going: RemovableTask[],
    named: Set<string>,
    stopped: () => boolean,
    failed: (err: unknown) => void,
  ): Promise<number> {
    let deleted = 0;
    const built: string[] = [];
    for (const task of going) {
      if (stopped()) break;
      if (!(await this.meta.deleteTask(task.taskId))) continue;
      deleted++;
      const digest = digestOfTask(task);
      if (digest !== undefined) built.push(digest);
      // A push queued since the survey names its upload before its record is written.
      await this.removeUploads(task, (folder) => named.has(folder) || this.underWay.reads(folder), failed);
    }
    await this.opts.collectArtifacts?.(workspaceId, built).catch(failed);
    return deleted;
  }

  /**
   * Deletes the task's own upload folder and the earlier one a push built, those `kept` does not
   * hold; a failure goes to `failed` when given, else it is thrown.
   */
  private async removeUploads(
    task: RemovableTask,
    kept: (folder: string) => boolean,
    failed?: (err: unknown) => void,
  ): Promise<void> {
    const folders = new Set([sourcePrefix(task.workspaceId, task.taskId)]);
    if (task.sourcePath) folders.add(sourceDir(task.sourcePath));
    for (const folder of folders) {
      if (kept(folder)) continue;
      const deleting = this.blobs.deletePrefix(folder);
      await (failed ? deleting.catch(failed) : deleting);
    }
  }
}
