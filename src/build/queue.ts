// The build queue: runs jobs concurrently up to a cap and holds the rest in FIFO order. Builds
// load code in a sandbox, which costs CPU and memory, so their number is bounded no matter how
// many uploads arrive. Closing refuses new jobs, cancels the ones still waiting and waits for the
// running ones.

export class QueueClosedError extends Error {
  constructor() {
    super('the build queue is closed');
    this.name = 'QueueClosedError';
  }
}

interface Waiting {
  start: () => void;
  cancel: () => void;
}

export class BuildQueue {
  private active = 0;
  private readonly waiting: Waiting[] = [];
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`build concurrency must be a positive integer, got ${concurrency}`);
    }
  }

  /** Jobs waiting for a slot. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Jobs running now. */
  get running(): number {
    return this.active;
  }

  /** Runs `job` when a slot is free; rejects with QueueClosedError if closed before it started. */
  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new QueueClosedError());
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.active++;
        // A job that throws synchronously still releases its slot.
        Promise.resolve()
          .then(job)
          .then(resolve, reject)
          .finally(() => this.release());
      };
      if (this.active < this.concurrency) start();
      else this.waiting.push({ start, cancel: () => reject(new QueueClosedError()) });
    });
  }

  /** Refuses new jobs, cancels waiting ones, resolves when the running ones have finished. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.cancel();
    if (this.active === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private release(): void {
    this.active--;
    const next = this.waiting.shift();
    if (next) {
      next.start();
      return;
    }
    if (this.active === 0) for (const done of this.idleWaiters.splice(0)) done();
  }
}
