// The build queue: runs jobs concurrently up to a cap and holds the rest. Builds load code in a
// sandbox, which costs CPU and memory, so their number is bounded no matter how many uploads
// arrive. Waiting jobs are taken in turn from each owner (a workspace), each owner's in the order
// they came: one tenant's 68 queued builds used to make another's one-call deploy wait 36 s behind
// them. Closing refuses new jobs, cancels the ones still waiting and waits for the running ones.

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
  /** Waiting jobs by owner; the map's order is the turn order (an owner served goes to the end). */
  private readonly waiting = new Map<string, Waiting[]>();
  private waitingCount = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`build concurrency must be a positive integer, got ${concurrency}`);
    }
  }

  /** Jobs waiting for a slot. */
  get depth(): number {
    return this.waitingCount;
  }

  /** Jobs of one owner waiting for a slot. */
  waitingFor(owner: string): number {
    return this.waiting.get(owner)?.length ?? 0;
  }

  /** Jobs running now. */
  get running(): number {
    return this.active;
  }

  /**
   * Runs `job` when a slot is free and it is `owner`'s turn; rejects with QueueClosedError if
   * closed before it started.
   */
  run<T>(owner: string, job: () => Promise<T>): Promise<T> {
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
      if (this.active < this.concurrency) {
        start();
        return;
      }
      const line = this.waiting.get(owner) ?? [];
      line.push({ start, cancel: () => reject(new QueueClosedError()) });
      this.waiting.set(owner, line);
      this.waitingCount++;
    });
  }

  /** Refuses new jobs, cancels waiting ones, resolves when the running ones have finished. */
  async close(): Promise<void> {
    this.closed = true;
    const lines = [...this.waiting.values()];
    this.waiting.clear();
    this.waitingCount = 0;
    for (const w of lines.flat()) w.cancel();
    if (this.active === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private release(): void {
    this.active--;
    const turn = this.waiting.entries().next();
    if (!turn.done) {
      const [owner, line] = turn.value;
      const next = line.shift()!;
      this.waitingCount--;
      // To the back of the turn order, or out of it.
      this.waiting.delete(owner);
      if (line.length > 0) this.waiting.set(owner, line);
      next.start();
      return;
    }
    if (this.active === 0) for (const done of this.idleWaiters.splice(0)) done();
  }
}
