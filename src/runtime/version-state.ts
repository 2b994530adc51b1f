// Book-keeping for one loaded function version: its instances (idle or busy), the ones being
// started, and the bounded queue of requests waiting for an instance, each with a deadline.

import type { FunctionVersion, VersionStats } from './types.js';
import type { Instance } from './instance.js';

export interface Lease {
  instance: Instance;
  cold: boolean;
}

export interface Waiter {
  resolve: (lease: Lease | null) => void;
  timer: NodeJS.Timeout;
}

export class VersionState {
  readonly instances = new Set<Instance>();
  idle: Instance[] = [];
  starting = 0;
  /** Of `starting`, those a request started for itself: they will not take anyone from the line. */
  startingForCaller = 0;
  queue: Waiter[] = [];
  coldStarts = 0;
  invocations = 0;
  unloaded = false;
  /** Moving average of how long a request holds an instance; NaN until the first one is measured. */
  serviceMs = NaN;
  /**
   * A request ran past the line for short ones before any answer came (Scheduler.watchLength):
   * the version scales as a long one although its average is not known yet.
   */
  ranLong = false;
  /** Armed while requests wait and the version has had no answer yet (Scheduler.watchLength). */
  lengthTimer: NodeJS.Timeout | undefined;
  pipelined = 0;

  constructor(
    readonly version: FunctionVersion,
    readonly cap: number,
  ) {}

  get total(): number {
    return this.instances.size + this.starting;
  }

  get canGrow(): boolean {
    return !this.unloaded && this.total < this.cap;
  }

  /** Idle instances past their time, beyond the version's minWarm. */
  expired(isExpired: (i: Instance) => boolean): Instance[] {
    const keep = this.version.minWarm ?? 0;
    const spare = Math.max(0, this.instances.size - keep);
    return this.idle.filter(isExpired).slice(0, spare);
  }

  noteService(ms: number): void {
    this.serviceMs = Number.isNaN(this.serviceMs) ? ms : this.serviceMs * 0.9 + ms * 0.1;
  }

  /** Every waiting request leaves the queue with no instance (null); its deadline is dropped. */
  /** Callers waiting for an instance their own request is starting (Scheduler.acquire). */
  private readonly starters = new Set<() => void>();

  dismissQueue(): void {
    clearTimeout(this.lengthTimer);
    this.lengthTimer = undefined;
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(null);
    }
    for (const leave of [...this.starters]) leave();
  }

  /**
   * The instance `starting` gives, or null as soon as the version is unloaded: a caller waiting for
   * a sandbox to boot and load (seconds on a busy machine) is let go at once by a delete or
   * redeploy, as the queue is.
   */
  unlessUnloaded(starting: Promise<Instance>): Promise<Instance | null> {
    if (this.unloaded) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const leave = (): void => {
        this.starters.delete(leave);
        resolve(null);
      };
      this.starters.add(leave);
      starting.then(
        (inst) => {
          this.starters.delete(leave);
          resolve(inst);
        },
        (err: unknown) => {
          this.starters.delete(leave);
          reject(err);
        },
      );
    });
  }

  removeIdle(inst: Instance): void {
    const i = this.idle.indexOf(inst);
    if (i >= 0) this.idle.splice(i, 1);
  }

  stats(): VersionStats {
    const busy = [...this.instances].filter((i) => i.state === 'busy').length;
    return {
      functionId: this.version.functionId,
      workspaceId: this.version.workspaceId,
      instances: this.instances.size,
      busy,
      idle: this.idle.length,
      starting: this.starting,
      queued: this.queue.length,
      coldStarts: this.coldStarts,
      invocations: this.invocations,
      pipelined: this.pipelined,
      serviceMs: Number.isNaN(this.serviceMs) ? null : Math.round(this.serviceMs * 1000) / 1000,
      pids: [...this.instances].map((i) => i.pid),
      ids: [...this.instances].map((i) => i.sandbox.id),
    };
  }
}
