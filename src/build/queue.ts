// The build queue: runs jobs concurrently up to a cap and holds the rest. Builds load code in a
// sandbox, which costs CPU and memory, so their number is bounded no matter how many uploads
// arrive. Waiting jobs are taken in turn from each owner (a workspace), each owner's in the order
// they came: one tenant's 68 queued builds used to make another's one-call deploy wait 36 s behind
// them. Closing refuses new jobs, cancels the ones still waiting and waits for the running ones.
//
// One owner runs at most max(1, concurrency − 1) jobs at once, so with two slots or more one is
// always left to the other owners. Turns alone were not enough: a running job cannot be pre-empted,
// and a build's load check may give module code up to 60 s, so a tenant whose builds sleep in
// module code held both default slots, one such build after another, and another tenant's trivial
// deploy waited 52 s instead of 0.13 s. The slot must be kept free in advance (when another
// owner's build arrives it is too late to make room), so the share applies even when no one else
// is waiting: a single tenant with the default two slots builds one at a time. With concurrency 1
// the one slot is shared by turns alone, as before.

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
  /** Running jobs by owner (owners with none are not in it). */
  private readonly activeBy = new Map<string, number>();
  /** The most jobs one owner may run at once. */
  readonly perOwner: number;
  /** Waiting jobs by owner; the map's order is the turn order (an owner served goes to the end). */
  private readonly waiting = new Map<string, Waiting[]>();
  private waitingCount = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`build concurrency must be a positive integer, got ${concurrency}`);
    }
    this.perOwner = Math.max(1, concurrency - 1);
  }

  /** Jobs waiting for a slot (or, past their owner's share, for one of their owner's to end). */
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

  /** Jobs of one owner running now. */
  runningFor(owner: string): number {
    return this.activeBy.get(owner) ?? 0;
  }

  /**
   * Runs `job` when a slot is free, `owner` runs fewer than its share and it is `owner`'s turn;
   * rejects with QueueClosedError if closed before it started.
   */
  run<T>(owner: string, job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new QueueClosedError());
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.active++;
        this.activeBy.set(owner, this.runningFor(owner) + 1);
        // A job that throws synchronously still releases its slot.
        Promise.resolve()
          .then(job)
          .then(resolve, reject)
          .finally(() => this.release(owner));
      };
      // Not ahead of the owner's own waiting jobs.
      if (!this.waiting.has(owner) && this.mayStart(owner)) {
        start();
        return;
      }
      const line = this.waiting.get(owner) ?? [];
      line.push({ start, cancel: () => reject(new QueueClosedError()) });
      this.waiting.set(owner, line);
      this.waitingCount++;
    });
  }

  /** Refuses new jobs and cancels the waiting ones: none starts from now on. */
  stop(): void {
    this.closed = true;
    const lines = [...this.waiting.values()];
    this.waiting.clear();
    this.waitingCount = 0;
    for (const w of lines.flat()) w.cancel();
  }

  /** Stops (above), then resolves when the running jobs have finished. */
  async close(): Promise<void> {
    this.stop();
    if (this.active === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private mayStart(owner: string): boolean {
    return this.active < this.concurrency && this.runningFor(owner) < this.perOwner;
  }

  private release(owner: string): void {
    this.active--;
    const left = this.runningFor(owner) - 1;
    if (left > 0) this.activeBy.set(owner, left);
    else this.activeBy.delete(owner);
    this.startWaiting();
    if (this.active === 0) for (const done of this.idleWaiters.splice(0)) done();
  }

  /**
   * Fills the free slots: each goes to the first owner in the turn order below its share (an owner
   * at its share keeps its place and is served first once one of its jobs ends).
   */
  private startWaiting(): void {
    while (this.active < this.concurrency) {
      let turn: [string, Waiting[]] | undefined;
      for (const entry of this.waiting) {
        if (this.runningFor(entry[0]) < this.perOwner) {
          turn = entry;
          break;
        }
      }
      if (!turn) return;
      const [owner, line] = turn;
      const next = line.shift()!;
      this.waitingCount--;
      // To the back of the turn order, or out of it.
      this.waiting.delete(owner);
      if (line.length > 0) this.waiting.set(owner, line);
      next.start();
    }
  }
}
