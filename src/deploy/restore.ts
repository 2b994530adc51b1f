// Start-up restore: every active deployment is loaded again, so functions answer without a
// redeploy. It runs after the server listens, a few loads at a time: one by one before the
// listen, a tenant's slow imports (9 of 5 s) kept the socket closed for a minute, failing the
// liveness probe, and a SIGTERM waited for them all. A caller of a function not yet loaded waits
// for it (local-target.ts); a shutdown skips what has not started. A deployment that fails to load for a reason that can pass (the blob store briefly
// unreachable, a sandbox that timed out while the cores were busy with every other restore) is
// tried again in the background with back-off until it loads, is replaced by a deploy or an
// activation, or its function is deleted; until then its callers get 503 saying so. Only what
// cannot change by waiting is given up at once: an artifact that is gone or damaged, a function
// that no longer fits the memory budget.

import { WRONG_KEY } from '../auth/secrets.js';
import { EunhaError } from '../core/errors.js';
import type { Deployment, FunctionRecord } from '../core/types.js';
import type { MetadataStore } from '../store/ports.js';
import type { LocalTarget } from './local-target.js';

/** First wait before a failed restore is tried again; it doubles up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;

/** Failures that waiting does not mend: an owner's deploy or an operator must. */
const FINAL = new Set(['NOT_FOUND', 'VALIDATION_ERROR', 'INTERNAL_ERROR']);

/** Secrets sealed with another key: waiting never mends it (a restart with that key does). */
const wrongKey = (err: unknown): boolean => err instanceof EunhaError && err.details.reason === WRONG_KEY;

const retryable = (err: unknown): boolean =>
  !(wrongKey(err) || (err instanceof EunhaError && FINAL.has(err.code)));

export interface RestoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RestoreSummary {
  restored: number;
  failed: number;
  retrying: number;
  /** Not loaded by the restore: deployed, activated or deleted meanwhile, or a shutdown came first. */
  skipped: number;
}

export class DeploymentRestorer {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly attempts = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly deps: {
      meta: MetadataStore;
      target: LocalTarget;
      /** Writes what a deploy would have, for a version that runs but whose record lacks it. */
      repairRecord: (fn: FunctionRecord, d: Deployment) => Promise<void>;
      /** Loads under way at once (restoreConcurrency below). */
      concurrency: number;
      log?: RestoreLog;
    },
  ) {}

  /**
   * Marks every active deployment restoring on the target, then loads them, `concurrency` at a
   * time, in the background (`done`); those that failed for a passing reason are retried. Resolves
   * once they are marked: the server may answer from then on, as a caller of a function not yet
   * loaded waits for it (and moves it to the front) rather than hears it was never deployed.
   * A store that cannot list them fails the start, as before.
   */
  async restore(): Promise<{ done: Promise<RestoreSummary> }> {
    const queue = await this.deps.meta.listActiveDeployments();
    for (const d of queue) {
      this.deps.target.markRestoring(d.functionId, d.config.timeout * 1000, () => {
        // Its turn has not come: a caller waits for it, so it is next.
        const i = queue.indexOf(d);
        if (i > 0) queue.unshift(...queue.splice(i, 1));
      });
    }
    const done = this.restoreAll(queue);
    this.attempts.add(done);
    void done.finally(() => this.attempts.delete(done));
    return { done };
  }

  private async restoreAll(queue: Deployment[]): Promise<RestoreSummary> {
    const { target } = this.deps;
    const sum: RestoreSummary = { restored: 0, failed: 0, retrying: 0, skipped: 0 };
    // Not eachBounded: the order changes while it runs (a wanted function goes first), and one
    // function's failure must not stop the others.
    const lane = async (): Promise<void> => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        const { functionId, workspaceId } = d;
        const outcome = await this.restoreOne(d).catch((err: unknown) => {
          // The store failed to answer: tried again like a load that failed for that reason.
          if (this.closed) return 'skipped' as const;
          target.markUnrestored(functionId, true);
          this.retryLater({ id: functionId, workspaceId }, 1, { err });
          return 'retrying' as const;
        });
        target.restoreSettled(functionId);
        sum[outcome === 'loaded' ? 'restored' : outcome]++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.deps.concurrency) }, lane));
    return sum;
  }

  private async restoreOne(listed: Deployment): Promise<'loaded' | 'retrying' | 'failed' | 'skipped'> {
    const { target, meta } = this.deps;
    if (this.closed) return 'skipped';
    return target.exclusive(listed.functionId, async () => {
      // Deployed, activated or deleted while it waited its turn: what serves now is not ours to
      // replace. A shutdown skips what has not started.
      if (this.closed || !target.isRestoring(listed.functionId)) return 'skipped';
      const fn = await meta.getFunction(listed.workspaceId, listed.functionId);
      // The active version as it is now: a deploy that failed meanwhile leaves the listed one.
      const d = fn && (await meta.listDeployments(fn.id)).find((x) => x.active);
      if (!fn || !d) return 'skipped';
      return this.load(fn, d, 1);
    });
  }

  /**
   * Stops: restores and retries not yet started never start, and callers waiting for one are
   * answered at once. Loads under way are not waited for here; the runtime's close ends them
   * (`settled` then waits for them to be over).
   */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.deps.target.abandonRestores();
  }

  /** Every restore and retry under way is over (call after the runtime has closed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.attempts]);
  }

  /** Call inside the function's exclusive line. */
  private async load(
    fn: FunctionRecord,
    d: Deployment,
    attempt: number,
  ): Promise<'loaded' | 'retrying' | 'failed'> {
    const { target, log } = this.deps;
    try {
      await target.activate(fn, d);
    } catch (err) {
      const again = retryable(err) && !this.closed;
      target.markUnrestored(fn.id, again, wrongKey(err));
      // A shutdown refuses every load: nothing to tell.
      if (this.closed) return 'failed';
      if (!again) {
        log?.error({ err, functionId: fn.id, version: d.version, attempt }, 'could not restore deployment');
        return 'failed';
      }
      this.retryLater(fn, attempt, { err, version: d.version });
      return 'retrying';
    }
    if (attempt > 1) log?.info({ functionId: fn.id, version: d.version, attempt }, 'restored deployment');
    // Loaded just as a shutdown began: the repair waits for the next start (the store is closing).
    if (this.closed) return 'loaded';
    await this.deps
      .repairRecord(fn, d)
      .catch((err: unknown) =>
        log?.error({ err, functionId: fn.id }, 'could not repair the record of a restored function'),
      );
    return 'loaded';
  }

  /** Says why attempt `attempt` failed and runs the next one after the back-off. */
  private retryLater(fn: Pick<FunctionRecord, 'id' | 'workspaceId'>, attempt: number, why: object): void {
    const retryInMs = Math.min(RETRY_FIRST_MS * 2 ** Math.min(attempt - 1, 30), RETRY_MAX_MS);
    this.deps.log?.warn(
      { ...why, functionId: fn.id, attempt, retryInMs },
      'could not restore deployment; retrying',
    );
    const timer = setTimeout(() => {
      this.timers.delete(fn.id);
      const run = this.retry(fn, attempt + 1).finally(() => this.attempts.delete(run));
      this.attempts.add(run);
    }, retryInMs);
    // A pending retry must not keep a stopping process alive.
    timer.unref();
    this.timers.set(fn.id, timer);
  }

  private async retry(was: Pick<FunctionRecord, 'id' | 'workspaceId'>, attempt: number): Promise<void> {
    const { target, meta } = this.deps;
    try {
      await target.exclusive(was.id, async () => {
        // Deployed, activated or deleted since: what serves now is not ours to replace.
        if (this.closed || !target.unrestoredState(was.id)) return;
        // The function and its active version as they are now: a failed deploy leaves the old one.
        const fn = await meta.getFunction(was.workspaceId, was.id);
        const d = fn && (await meta.listDeployments(fn.id)).find((x) => x.active);
        if (!fn || !d) return;
        await this.load(fn, d, attempt);
      });
    } catch (err) {
      // The metadata store failed to answer: that passes too.
      if (!this.closed) this.retryLater(was, attempt, { err });
    }
  }
}
