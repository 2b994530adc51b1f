// Build-task retention. Every build through the seed's endpoints (the console deploys with one)
// leaves a task record and its uploaded source (up to 10 MiB) for good, and the workspace's task
// listing answers all of them. Shortly after start and then every hour, finished tasks (completed
// or failed) last updated before the retention period go: the record first, then its source, as
// everywhere (a record must never name a missing blob). Their artifacts are left alone: a
// deployment may run one, and one that nothing names any more is removed by the start-up sweep
// (services/orphan-blobs.ts), when no deploy can race the removal.

import type { Clock } from '../core/ids.js';
import { Periodic, type PeriodicOptions } from '../core/periodic.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { sourcePrefix } from './types.js';

export interface TaskRetentionOptions extends PeriodicOptions {
  retentionMs: number;
}

export class TaskRetention {
  private readonly periodic: Periodic;

  constructor(
    private readonly meta: Pick<MetadataStore, 'listWorkspaces' | 'listTasks' | 'deleteTask'>,
    private readonly blobs: Pick<BlobStore, 'deletePrefix'>,
    private readonly clock: Clock,
    private readonly opts: TaskRetentionOptions,
  ) {
    this.periodic = new Periodic((stopped) => this.pass(stopped), opts);
  }

  start(): void {
    this.periodic.start();
  }

  /** One pass over every workspace; resolves to how many tasks it deleted. */
  sweep(): Promise<number> {
    return this.periodic.run();
  }

  private async pass(stopped: () => boolean): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - this.opts.retentionMs).toISOString();
    let deleted = 0;
    for (const ws of await this.meta.listWorkspaces()) {
      for (const task of await this.meta.listTasks(ws.id)) {
        if (stopped()) return deleted;
        const finished = task.status === 'completed' || task.status === 'failed';
        if (!finished || task.updatedAt >= cutoff) continue;
        if (!(await this.meta.deleteTask(task.taskId))) continue;
        deleted++;
        // Left behind if this fails: the start-up sweep removes sources no task names.
        await this.blobs.deletePrefix(sourcePrefix(ws.id, task.taskId)).catch(this.opts.onError);
      }
    }
    return deleted;
  }

  close(): Promise<void> {
    return this.periodic.close();
  }
}
