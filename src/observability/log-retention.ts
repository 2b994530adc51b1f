// Execution-log retention. Every invocation writes a log, so without it the store only grows (at
// 10,000 requests/s, ~10 MB a second). Shortly after start and then every hour, a sweep deletes
// the logs older than the retention period, function by function through the store's port, in
// small batches that yield to the event loop between them: a large backlog never holds the serving
// thread for long. Freed pages are reused by new logs; the database file does not shrink.

import type { Clock } from '../core/ids.js';
import type { MetadataStore } from '../store/ports.js';

export interface LogRetentionOptions {
  retentionMs: number;
  /** Time between sweeps (default 1 hour); the first runs `firstDelayMs` after start (default 1 min). */
  intervalMs?: number;
  firstDelayMs?: number;
  /** Logs deleted per store call (default 500: a few ms of the event loop each). */
  batch?: number;
  onError?: (err: unknown) => void;
}

export class LogRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(
    private readonly meta: Pick<
      MetadataStore,
      'listWorkspaces' | 'listFunctions' | 'deleteFunctionLogsBefore'
    >,
    private readonly clock: Clock,
    private readonly opts: LogRetentionOptions,
  ) {}

  start(): void {
    const schedule = (ms: number): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.sweep()
          .catch((err: unknown) => this.opts.onError?.(err))
          .finally(() => schedule(this.opts.intervalMs ?? 3_600_000));
      }, ms);
      this.timer.unref();
    };
    schedule(this.opts.firstDelayMs ?? 60_000);
  }

  /** One pass over every function; resolves to how many logs it deleted. */
  sweep(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - this.opts.retentionMs).toISOString();
    const batch = this.opts.batch ?? 500;
    let deleted = 0;
    for (const ws of await this.meta.listWorkspaces()) {
      for (const fn of await this.meta.listFunctions(ws.id)) {
        for (;;) {
          if (this.stopped) return deleted;
          const n = await this.meta.deleteFunctionLogsBefore(fn.id, cutoff, batch);
          deleted += n;
          if (n < batch) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }
    return deleted;
  }

  /** Stops the timer; a sweep under way ends after its current batch. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
