// A background pass that runs shortly after start and then on an interval, one at a time (a
// pass asked for while one runs shares it), and that close() stops: the timer goes, and a pass
// under way ends at its next check of `stopped`. Retention sweeps (execution logs, build tasks)
// run on it; each pass returns how many things it removed.

export interface PeriodicOptions {
  /** Time between passes (default 1 hour); the first runs `firstDelayMs` after start (default 1 min). */
  intervalMs?: number;
  firstDelayMs?: number;
  /** Hears of a failed pass; the next one runs on schedule all the same. */
  onError?: (err: unknown) => void;
}

export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(
    private readonly pass: (stopped: () => boolean) => Promise<number>,
    private readonly opts: PeriodicOptions = {},
  ) {}

  start(): void {
    const schedule = (ms: number): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.run()
          .catch((err: unknown) => this.opts.onError?.(err))
          .finally(() => schedule(this.opts.intervalMs ?? 3_600_000));
      }, ms);
      this.timer.unref();
    };
    schedule(this.opts.firstDelayMs ?? 60_000);
  }

  /** One pass now (or the one under way). */
  run(): Promise<number> {
    this.running ??= this.pass(() => this.stopped).finally(() => (this.running = null));
    return this.running;
  }

  /** Stops the timer; a pass under way ends at its next check. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
