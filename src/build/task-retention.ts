// Build-task retention. Every build through the seed's endpoints (the console deploys with one)
// leaves a task record and its uploaded source (up to 10 MiB) for good, and the workspace's task
// listing answers all of them. Shortly after start and then every hour, finished tasks (completed
// or failed) last updated before the retention period go: the record first, then its source, as
// everywhere (a record must never name a missing blob), unless a task that stays names it (a push
// builds an earlier upload, which stays under that upload's task). Their artifacts go too, unless a
// deployment or a task that stays names them (build/artifact-collector.ts, safe against a build
// or deploy racing the removal).

import type { Clock } from '../core/ids.js';
import type { BuildTask } from '../core/types.js';
import { PeriodicSweep, type PeriodicOptions } from '../core/periodic.js';
import { eachTask } from '../store/lookups.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { digestOfTask } from './artifact-collector.js';
import { sourceDir, sourcePrefix } from './types.js';

export interface TaskRetentionOptions extends PeriodicOptions {
  retentionMs: number;
  /** Removes the artifacts the deleted tasks built, those nothing else names (the build service). */
  collectArtifacts?: (workspaceId: string, digests: Iterable<string>) => Promise<unknown>;
}

export class TaskRetention extends PeriodicSweep {
  constructor(
    private readonly meta: Pick<MetadataStore, 'listWorkspaces' | 'listTasks' | 'deleteTask'>,
    private readonly blobs: Pick<BlobStore, 'deletePrefix'>,
    private readonly clock: Clock,
    private readonly opts: TaskRetentionOptions,
  ) {
    super(opts);
  }

  protected async pass(stopped: () => boolean): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - this.opts.retentionMs).toISOString();
    let deleted = 0;
    for (const ws of await this.meta.listWorkspaces()) {
      // Which tasks go, and which uploads the others name, before anything is deleted.
      const expired: Array<Pick<BuildTask, 'taskId' | 'sourcePath' | 'workspaceId' | 'result'>> = [];
      const stillNamed = new Set<string>();
      for await (const t of eachTask(this.meta, ws.id)) {
        if ((t.status === 'completed' || t.status === 'failed') && t.updatedAt < cutoff)
          expired.push({
            taskId: t.taskId,
            sourcePath: t.sourcePath,
            workspaceId: t.workspaceId,
            result: t.result,
          });
        else if (t.sourcePath) stillNamed.add(sourceDir(t.sourcePath));
      }
      const built: string[] = [];
      for (const task of expired) {
        if (stopped()) break;
        if (!(await this.meta.deleteTask(task.taskId))) continue;
        deleted++;
        const digest = digestOfTask(task);
        if (digest !== undefined) built.push(digest);
        // Its own uploads, and the earlier upload a push built, unless a task that stays names them.
        const prefixes = new Set([sourcePrefix(ws.id, task.taskId)]);
        if (task.sourcePath) prefixes.add(sourceDir(task.sourcePath));
        for (const prefix of prefixes) {
          if (stillNamed.has(prefix)) continue;
          // Left behind if this fails: the start-up sweep removes sources no task names.
          await this.blobs.deletePrefix(prefix).catch((err: unknown) => this.opts.onError?.(err));
        }
      }
      // Left behind if this fails: the start-up sweep removes artifacts nothing names.
      await this.opts.collectArtifacts?.(ws.id, built).catch((err: unknown) => this.opts.onError?.(err));
      if (stopped()) return deleted;
    }
    return deleted;
  }
}
