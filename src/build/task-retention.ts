// Build-task retention. Every build through the seed's endpoints (the console deploys with one)
// leaves a task record and its uploaded source (up to 10 MiB) for good, and the workspace's task
// listing answers all of them. Shortly after start and then every hour, finished tasks (completed
// or failed) last updated before the retention period go: the record first, then its source, as
// everywhere (a record must never name a missing blob), unless a task that stays names it (a push
// builds an earlier upload, which stays under that upload's task). Their artifacts are left alone: a
// deployment may run one, and one that nothing names any more is removed by the start-up sweep
// (services/orphan-blobs.ts), when no deploy can race the removal.

import type { Clock } from '../core/ids.js';
import type { BuildTask } from '../core/types.js';
import { PeriodicSweep, type PeriodicOptions } from '../core/periodic.js';
import { eachTask } from '../store/lookups.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { sourceDir, sourcePrefix } from './types.js';

export interface TaskRetentionOptions extends PeriodicOptions {
  retentionMs: number;
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
      const expired: Array<Pick<BuildTask, 'taskId' | 'sourcePath'>> = [];
      const stillNamed = new Set<string>();
      for await (const t of eachTask(this.meta, ws.id)) {
        if ((t.status === 'completed' || t.status === 'failed') && t.updatedAt < cutoff)
          expired.push({ taskId: t.taskId, sourcePath: t.sourcePath });
        else if (t.sourcePath) stillNamed.add(sourceDir(t.sourcePath));
      }
      for (const task of expired) {
        if (stopped()) return deleted;
        if (!(await this.meta.deleteTask(task.taskId))) continue;
        deleted++;
        // Its own uploads, and the earlier upload a push built, unless a task that stays names them.
        const prefixes = new Set([sourcePrefix(ws.id, task.taskId)]);
        if (task.sourcePath) prefixes.add(sourceDir(task.sourcePath));
        for (const prefix of prefixes) {
          if (stillNamed.has(prefix)) continue;
          // Left behind if this fails: the start-up sweep removes sources no task names.
          await this.blobs.deletePrefix(prefix).catch((err: unknown) => this.opts.onError?.(err));
        }
      }
    }
    return deleted;
  }
}
