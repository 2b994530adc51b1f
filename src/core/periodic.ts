// A background sweep that runs shortly after start and then on an interval, one pass at a time
// (a pass asked for while one runs shares it), and that close() stops: the timer goes, and a pass
// under way ends at its next check of `stopped`. The retention sweeps (execution logs, build
// tasks) are such sweeps; each pass returns how many things it removed.

export interface PeriodicOptions {
  /** Time between passes (default 1 hour); the first runs `firstDelayMs` after start (default 1 min). */
  intervalMs?: number;
  firstDelayMs?: number;
  /** Hears of a failed pass; the next one runs on schedule all the same. */
  onError?: (err: unknown) => void;
  /** Hears how many things a scheduled pass removed, when it removed any. */
  onRemoved?: (count: number) => void;
}

export abstract class PeriodicSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;
  private closed = false;

  constructor(private readonly schedule: PeriodicOptions) {}

  /** One pass; `stopped()` turns true once close() is called. */
  protected abstract pass(stopped: () => boolean): Promise<number>;

  /** Once; a second call changes nothing. */
  start(): void {
    if (this.timer !== undefined) return;
    const after = (ms: number): void => {
      if (this.closed) return;
      this.timer = setTimeout(() => {
        this.sweep()
          .then(
            (n) => n > 0 && quietly(() => this.schedule.onRemoved?.(n)),
            (err: unknown) => quietly(() => this.schedule.onError?.(err)),
          )
          .finally(() => after(this.schedule.intervalMs ?? 3_600_000));
      }, ms);
      this.timer.unref();
    };
    after(this.schedule.firstDelayMs ?? 60_000);
  }

  /** One pass now (or the one under way); resolves to how many things it removed. */
  sweep(): Promise<number> {
    this.running ??= this.pass(() => this.closed).finally(() => (this.running = null));
    return this.running;
  }

  /** Stops the timer; a pass under way ends at its next check. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}

/** A listener that throws must not stop the schedule. */
function quietly(listener: () => void): void {
  try {
    listener();
  } catch {
    // Nothing to tell it with.
  }
}
