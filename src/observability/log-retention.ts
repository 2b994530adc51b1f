// Execution-log retention. Every invocation writes a log, so without it the store only grows (at
// 10,000 requests/s, ~10 MB a second). Shortly after start and then every hour, a sweep deletes
// the logs older than the retention period, function by function through the store's port, in
// small batches that yield to the event loop between them: a large backlog never holds the serving
// thread for long. Freed pages are reused by new logs; the database file does not shrink.

import type { Clock } from '../core/ids.js';
import { PeriodicSweep, type PeriodicOptions } from '../core/periodic.js';
import type { MetadataStore } from '../store/ports.js';

export interface LogRetentionOptions extends PeriodicOptions {
  retentionMs: number;
  /** Logs deleted per store call (default 500: a few ms of the event loop each). */
  batch?: number;
}

export class LogRetention extends PeriodicSweep {
  constructor(
    private readonly meta: Pick<
      MetadataStore,
      'listWorkspaces' | 'listFunctions' | 'deleteFunctionLogsBefore'
    >,
    private readonly clock: Clock,
    private readonly opts: LogRetentionOptions,
  ) {
    super(opts);
  }

  protected async pass(stopped: () => boolean): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - this.opts.retentionMs).toISOString();
    const batch = this.opts.batch ?? 500;
    let deleted = 0;
    for (const ws of await this.meta.listWorkspaces()) {
      for (const fn of await this.meta.listFunctions(ws.id)) {
        for (;;) {
          if (stopped()) return deleted;
          const n = await this.meta.deleteFunctionLogsBefore(fn.id, cutoff, batch);
          deleted += n;
          if (n < batch) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }
    return deleted;
  }
}
