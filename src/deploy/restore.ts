// Start-up restore: every active deployment is loaded again, so functions answer without a
// redeploy. A deployment that fails to load for a reason that can pass (the blob store briefly
// unreachable, a sandbox that timed out while the cores were busy with every other restore) is
// tried again in the background with back-off until it loads, is replaced by a deploy or an
// activation, or its function is deleted; until then its callers get 503 saying so. Only what
// cannot change by waiting is given up at once: an artifact that is gone or damaged, a function
// that no longer fits the memory budget.

import { EunhaError } from '../core/errors.js';
import type { Deployment, FunctionRecord } from '../core/types.js';
import type { MetadataStore } from '../store/ports.js';
import type { LocalTarget } from './local-target.js';

/** First wait before a failed restore is tried again; it doubles up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;

/** Failures that waiting does not mend: an owner's deploy or an operator must. */
const FINAL = new Set(['NOT_FOUND', 'VALIDATION_ERROR', 'INTERNAL_ERROR']);

const retryable = (err: unknown): boolean => !(err instanceof EunhaError && FINAL.has(err.code));

export interface RestoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class DeploymentRestorer {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly attempts = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly deps: {
      meta: MetadataStore;
      target: LocalTarget;
      /** Writes what a deploy would have, for a version that runs but whose record lacks it. */
      repairRecord: (fn: FunctionRecord, d: Deployment) => Promise<void>;
      log?: RestoreLog;
    },
  ) {}

  /** Loads every active deployment once; those that failed for a passing reason are retried. */
  async restore(): Promise<{ restored: number; failed: number; retrying: number }> {
    let restored = 0;
    let failed = 0;
    let retrying = 0;
    for (const d of await this.deps.meta.listActiveDeployments()) {
      const fn = await this.deps.meta.getFunction(d.workspaceId, d.functionId);
      if (!fn) continue;
      const outcome = await this.deps.target.exclusive(fn.id, () => this.load(fn, d, 1));
      if (outcome === 'loaded') restored++;
      else if (outcome === 'retrying') retrying++;
      else failed++;
    }
    return { restored, failed, retrying };
  }

  /** Stops retrying and waits for an attempt under way (before the runtime closes). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
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
      target.markUnrestored(fn.id, again);
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
    await this.deps
      .repairRecord(fn, d)
      .catch((err: unknown) =>
        log?.error({ err, functionId: fn.id }, 'could not repair the record of a restored function'),
      );
    return 'loaded';
  }

  /** Says why attempt `attempt` failed and runs the next one after the back-off. */
  private retryLater(fn: FunctionRecord, attempt: number, why: object): void {
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

  private async retry(was: FunctionRecord, attempt: number): Promise<void> {
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
