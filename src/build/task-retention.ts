// Build-task retention. Every build through the seed's endpoints (the console deploys with one)
// leaves a task record and its uploaded source (up to 10 MiB) for good, and the workspace's task
// listing answers all of them. Shortly after start and then every hour, finished tasks (completed
// or failed) last updated before the retention period go: the record first, then its source, as
// everywhere (a record must never name a missing blob), unless a task that stays names it (a push
// builds an earlier upload, which stays under that upload's task). Their artifacts go too, unless a
// deployment or a task that stays names them. What removing a task takes is task-removal.ts's,
// shared with DELETE /api/v1/tasks/{id}; what is old enough to go is this file's.

import type { Clock } from '../core/ids.js';
import { PeriodicSweep, type PeriodicOptions } from '../core/periodic.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { TaskRemoval, type BuildsUnderWay } from './task-removal.js';

export interface TaskRetentionOptions extends PeriodicOptions {
  retentionMs: number;
  /** Removes the artifacts the deleted tasks built, those nothing else names (the build service). */
  collectArtifacts?: (workspaceId: string, digests: Iterable<string>) => Promise<unknown>;
  /** The build service's builds queued or running: an upload one of them will read stays. */
  underWay?: BuildsUnderWay;
}

export class TaskRetention extends PeriodicSweep {
  private readonly removal: TaskRemoval;

  constructor(
    private readonly meta: Pick<MetadataStore, 'listWorkspaces' | 'listTasks' | 'deleteTask'>,
    blobs: Pick<BlobStore, 'deletePrefix'>,
    private readonly clock: Clock,
    private readonly opts: TaskRetentionOptions,
  ) {
    super(opts);
    this.removal = new TaskRemoval(meta, blobs, {
      ...(opts.collectArtifacts ? { collectArtifacts: opts.collectArtifacts } : {}),
      ...(opts.underWay ? { underWay: opts.underWay } : {}),
    });
  }

  protected async pass(stopped: () => boolean): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - this.opts.retentionMs).toISOString();
    let deleted = 0;
    for (const ws of await this.meta.listWorkspaces()) {
      // Which tasks go, and which uploads the others name, before anything is deleted.
      const { going, named } = await this.removal.survey(
        ws.id,
        (t) => (t.status === 'completed' || t.status === 'failed') && t.updatedAt < cutoff,
      );
      // What fails to go is left for the start-up sweep, which removes blobs no record names.
      deleted += await this.removal.removeMany(ws.id, going, named, stopped, (err) =>
        this.opts.onError?.(err),
      );
      if (stopped()) return deleted;
    }
    return deleted;
  }
}
