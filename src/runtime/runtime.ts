// The runtime: the public face of the module. Starts the snapshot and the warm pool, loads
// function versions (validating them and specialising a first instance), turns invocations into
// results (429 + Retry-After when overloaded, 502 when no instance can start), and drains on
// close. The scheduling rules themselves live in scheduler.ts.

import { mkdirSync } from 'node:fs';
import { EunhaError, invalid, shuttingDown } from '../core/errors.js';
import { ensureSnapshot, sweepSnapshotCache } from './snapshot.js';
import { detectIsolation, type Isolation } from './isolation.js';
import { WarmPool } from './warm-pool.js';
import { defaultMemoryBudgetMb, reservedMb } from './memory-budget.js';
import { Instance } from './instance.js';
import type { Sandbox } from './sandbox.js';
import { VersionState, type Lease } from './version-state.js';
import { Scheduler } from './scheduler.js';
import { longRequestNice } from './cpu-share.js';
import { validateVersion } from './validate.js';
import type {
  FunctionVersion,
  InvokeRequest,
  InvokeResult,
  Logger,
  RuntimeOptions,
  RuntimeStats,
} from './types.js';

const MiB = 1024 * 1024;
/** Times a pipelined request that never started is sent to another instance. */
const MAX_REDISPATCH = 3;

export class Runtime {
  private readonly opts: Required<Omit<RuntimeOptions, 'logger' | 'outbound'>> &
    Pick<RuntimeOptions, 'outbound'> & { logger: Logger };
  private readonly sched: Scheduler;
  private iso: Isolation | null = null;
  private pool: WarmPool | null = null;
  private started = false;
  private invocations = 0;
  /**
   * Sandboxes of the build checks loading now: together they count as one workspace's instances
   * (CPU shares), and a shutdown's cut ends them (cutRunning).
   */
  private readonly checks = new Set<Sandbox>();
  /** Build checks still waiting for a sandbox's boot; a shutdown's cut ends each (cutRunning). */
  private readonly checksWaiting = new Set<() => void>();
  private timers: NodeJS.Timeout[] = [];
  private get closing(): boolean {
    return this.sched.closing;
  }

  constructor(opts: RuntimeOptions) {
    const maxInstances = opts.maxInstances ?? 32;
    const memoryBudgetMb = opts.memoryBudgetMb ?? defaultMemoryBudgetMb();
    this.opts = {
      poolSize: 2,
      bootConcurrency: 2,
      maxInstancesPerFunction: 8,
      maxInstancesPerWorkspace: Math.max(1, Math.floor(maxInstances / 2)),
      queueLimit: 64,
      queueTimeoutMs: 5000,
      idleTtlMs: 300_000,
      largeHeapBytes: 256 * MiB,
      largeIdleTtlMs: 10_000,
      killGraceMs: 500,
      minLoadTimeoutMs: 10_000,
      pipelineDepth: 1,
      pipelineMaxServiceMs: 5,
      longRequestNice: 5,
      instancesPerProcess: 8,
      bootTimeoutMs: 60_000,
      maxRequestBytes: 6 * MiB,
      useSnapshot: true,
      ownsCache: false,
      logger: () => undefined,
      ...opts,
      maxInstances,
      memoryBudgetMb,
      workspaceMemoryBudgetMb: opts.workspaceMemoryBudgetMb ?? Math.floor(memoryBudgetMb / 2),
    };
    this.sched = new Scheduler(this.opts, () => this.warm);
  }

  /** Make (or find) the snapshot and start filling the warm pool; resolves once the snapshot exists. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const iso = detectIsolation();
    this.iso = iso;
    for (const w of iso.warnings) this.opts.logger({ level: 'warn', msg: w });
    mkdirSync(this.opts.cacheDir, { recursive: true });
    const { cacheDir } = this.opts;
    for (const name of sweepSnapshotCache(cacheDir, this.opts.ownsCache))
      this.opts.logger({ level: 'info', msg: 'removed from the snapshot cache', name });
    const snapshot = this.opts.useSnapshot ? () => ensureSnapshot(cacheDir) : null;
    this.pool = new WarmPool(
      iso,
      snapshot,
      this.opts.poolSize,
      this.opts.bootConcurrency,
      this.opts.instancesPerProcess,
      this.opts.bootTimeoutMs,
      this.opts.logger,
    );
    await snapshot?.();
    this.pool.fill();
    const sweep = Math.max(50, Math.min(1000, this.opts.idleTtlMs / 2, this.opts.largeIdleTtlMs / 2));
    this.timers.push(setInterval(() => this.sched.reapIdle(), sweep).unref());
    this.timers.push(setInterval(() => this.sched.watchMemory(), 100).unref());
  }

  private get warm(): WarmPool {
    if (!this.pool) throw new EunhaError('INTERNAL_ERROR', 'runtime not started: call start() first');
    return this.pool;
  }

  /**
   * For builds: does this code load (syntax, imports, IncomingHandler)? Uses a throw-away sandbox.
   * Module code gets the deadline an instance of a function with `timeoutMs` would (at least
   * minLoadTimeoutMs, at most 60 s): with 10 s always, code whose import takes 10–60 s loaded once
   * deployed but could not be deployed.
   */
  async check(
    files: Record<string, Uint8Array>,
    env: Record<string, string> = {},
    timeoutMs = 10_000,
    /** Values in `env` that its error must not quote (FunctionVersion.secrets). */
    secrets: readonly string[] = [],
  ): Promise<{ ok: true } | { ok: false; error: string }> {
    const version: FunctionVersion = {
      key: `check@${Date.now()}`,
      functionId: '__check__',
      workspaceId: '__check__',
      engine: 'python',
      files,
      env,
      secrets,
      memoryMb: 256,
      timeoutMs,
    };
    try {
      validateVersion(version);
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    if (this.closing) throw shuttingDown();
    const sandbox = await this.sandboxForCheck();
    this.checks.add(sandbox);
    try {
      // Cut as its sandbox came.
      if (this.closing) throw shuttingDown();
      // Module code in a check is held to the requests' yield rule too: checks of every workspace
      // weigh together as one workspace's instances, so building many at once buys no more CPU.
      const nice = longRequestNice(this.opts.longRequestNice, this.checks.size);
      await Instance.specialise(sandbox, version, this.opts.minLoadTimeoutMs, nice);
      return { ok: true };
    } catch (e) {
      // Ended by a shutdown's cut: the code's fault is unknown, and the task was interrupted.
      if (this.closing) throw shuttingDown();
      if (e instanceof EunhaError) return { ok: false, error: String(e.details.traceback ?? e.message) };
      throw e;
    } finally {
      this.warm.settle(sandbox);
      this.checks.delete(sandbox);
      sandbox.host.kill();
    }
  }

  /**
   * A throw-away sandbox for a build check. A shutdown's cut ends the wait for its boot: on a busy
   * machine the boot outlasted the grace period, the stop waited for it to the end and exited 1,
   * and the task was marked interrupted only at the next start. A sandbox that comes after the
   * cut is put away.
   */
  private sandboxForCheck(): Promise<Sandbox> {
    const taking = this.warm.take(null);
    return new Promise<Sandbox>((resolve, reject) => {
      let cut = false;
      const onCut = (): void => {
        cut = true;
        this.checksWaiting.delete(onCut);
        reject(shuttingDown());
      };
      this.checksWaiting.add(onCut);
      taking.then(
        (sandbox) => {
          this.checksWaiting.delete(onCut);
          if (!cut) return resolve(sandbox);
          this.warm.settle(sandbox);
          sandbox.host.kill();
        },
        (err: unknown) => {
          this.checksWaiting.delete(onCut);
          reject(err);
        },
      );
    });
  }

  /** VALIDATION_ERROR if one instance of a function with this memory limit exceeds a memory budget. */
  checkFits(memoryMb: number): void {
    const need = reservedMb({ memoryMb });
    const budget = Math.min(this.opts.memoryBudgetMb, this.opts.workspaceMemoryBudgetMb);
    if (need > budget) {
      const which = budget === this.opts.memoryBudgetMb ? 'in all' : 'per workspace';
      throw invalid(
        'memory',
        `an instance of ${memoryMb} MB (${need} MB with its sandbox) does not fit this server's memory budget of ${budget} MB ${which}`,
        { memoryMb, budgetMb: budget },
      );
    }
  }

  /** Register a version and specialise its first instance(s) now, so a bad version fails here. */
  async load(version: FunctionVersion): Promise<void> {
    if (this.closing) throw shuttingDown();
    validateVersion(version);
    if (this.sched.versions.has(version.key)) return;
    this.checkFits(version.memoryMb);
    const cap = Math.max(
      1,
      Math.min(version.maxInstances ?? this.opts.maxInstancesPerFunction, this.opts.maxInstancesPerFunction),
    );
    const vs = new VersionState(version, cap);
    if (!this.sched.capacity.makeRoom(vs)) {
      // Every instance everywhere is busy: prove the code loads in a throw-away sandbox and let
      // the first invoke start the instance, so the global cap still bounds serving instances.
      const verdict = await this.check(version.files, version.env, version.timeoutMs, version.secrets);
      if (!verdict.ok)
        throw new EunhaError('FUNCTION_LOAD_ERROR', 'the function could not be loaded', {
          traceback: verdict.error,
        });
      this.sched.versions.set(version.key, vs);
      return;
    }
    this.sched.versions.set(version.key, vs);
    try {
      const first = await this.sched.startInstance(vs);
      this.sched.release(vs, first, false);
    } catch (e) {
      this.sched.versions.delete(version.key);
      // Ended by a shutdown's cut: the code's fault is unknown.
      if (this.closing) throw shuttingDown();
      throw e;
    }
    this.sched.topUp(vs);
  }

  async invoke(versionKey: string, req: InvokeRequest): Promise<InvokeResult> {
    const vs = this.sched.versions.get(versionKey);
    if (!vs) throw unloaded(versionKey);
    if (this.closing) throw shuttingDown();
    if (req.body.length > this.opts.maxRequestBytes) {
      throw new EunhaError('PAYLOAD_TOO_LARGE', `request body exceeds ${this.opts.maxRequestBytes} bytes`);
    }
    const t0 = performance.now();
    // A request pipelined behind one that ended its instance never ran; it gets another instance.
    // Bounded, so that a host that keeps dying cannot keep a request going round.
    for (let attempt = 0; ; attempt++) {
      let lease: Lease | null;
      try {
        lease = await this.sched.acquire(vs, req.signal);
      } catch (e) {
        if (vs.unloaded) throw unloaded(versionKey);
        // Its instance's load was ended by a shutdown's cut: the request never ran.
        if (this.closing || (e instanceof EunhaError && e.code === 'SHUTTING_DOWN')) throw shuttingDown();
        return this.failure(
          502,
          'FUNCTION_CRASHED',
          `no instance could be started: ${e instanceof Error ? e.message : String(e)}`,
          t0,
          true,
        );
      }
      // A redeploy or a delete unloaded the version while this request waited: it never ran, and
      // the caller may run it on the version that replaced it.
      if (lease === null && vs.unloaded) throw unloaded(versionKey);
      // Stopping (cutRunning): a request that had not started does not start now.
      if (lease === null && this.closing) throw shuttingDown();
      if (lease === null && req.signal?.aborted) {
        return this.failure(
          499,
          'CLIENT_CLOSED',
          'the caller closed the connection before an instance was free; the request was not run',
          t0,
          false,
        );
      }
      if (lease === null) {
        const retry = Math.max(1, Math.ceil(this.opts.queueTimeoutMs / 1000));
        const r = this.failure(
          429,
          'TOO_MANY_REQUESTS',
          'every instance of the function is busy, and the request could not wait longer (the line was full, or it had waited its longest)',
          t0,
          false,
        );
        r.headers['retry-after'] = String(retry);
        return r;
      }
      const { instance, cold } = lease;
      const leasedAt = performance.now();
      if (attempt === 0) {
        this.invocations++;
        vs.invocations++;
      }
      let recycle = true;
      try {
        const out = await instance.invoke(req, this.opts.killGraceMs, this.sched.niceFor(vs));
        recycle = out.recycle;
        if (out.notRun === true && attempt < MAX_REDISPATCH) continue;
        vs.noteService(out.serviceMs);
        if (out.recycle && out.notRun !== true) {
          this.opts.logger({
            level: 'warn',
            msg: 'instance recycled',
            key: versionKey,
            requestId: req.requestId,
            pid: instance.pid,
            code: out.result.error?.code,
            reason: out.result.error?.message,
          });
        }
        return { ...out.result, durationMs: performance.now() - t0, waitMs: leasedAt - t0, coldStart: cold };
      } finally {
        this.sched.release(vs, instance, recycle);
      }
    }
  }

  private failure(
    status: number,
    code: 'FUNCTION_CRASHED' | 'TOO_MANY_REQUESTS' | 'CLIENT_CLOSED',
    message: string,
    t0: number,
    cold: boolean,
  ): InvokeResult {
    const durationMs = performance.now() - t0;
    return {
      status,
      headers: {},
      body: new Uint8Array(0),
      lines: [],
      linesTruncated: false,
      durationMs,
      waitMs: durationMs,
      cpuMs: 0,
      coldStart: cold,
      error: { code, message },
    };
  }

  async unload(versionKey: string): Promise<void> {
    const vs = this.sched.versions.get(versionKey);
    if (!vs) return;
    vs.unloaded = true;
    this.sched.versions.delete(versionKey);
    vs.dismissQueue();
    const idle = vs.idle.splice(0);
    for (const i of idle) {
      vs.instances.delete(i);
      this.sched.capacity.count(vs, -1);
    }
    this.sched.serveWaiting();
    await Promise.all(idle.map((i) => i.stop()));
  }

  stats(): RuntimeStats {
    const versions: RuntimeStats['versions'] = {};
    let queueDepth = 0;
    for (const [key, vs] of this.sched.versions) {
      versions[key] = vs.stats();
      queueDepth += vs.queue.length;
    }
    return {
      warmPool: this.pool?.stats ?? {
        ready: 0,
        booting: 0,
        target: this.opts.poolSize,
        processes: 0,
        spares: 0,
      },
      instances: this.sched.capacity.live,
      memory: {
        reservedMb: this.sched.capacity.reservedMb,
        budgetMb: this.opts.memoryBudgetMb,
        workspaceBudgetMb: this.opts.workspaceMemoryBudgetMb,
      },
      queueDepth,
      coldStarts: this.sched.coldStarts,
      pipelined: this.sched.pipelined,
      invocations: this.invocations,
      versions,
      isolation: {
        netIsolated: this.iso?.netIsolated ?? false,
        privilegesDropped: this.iso?.privilegesDropped ?? false,
        filesJailed: this.iso?.filesJailed ?? false,
        batchScheduled: this.iso?.batchScheduled ?? false,
        bootsNiced: this.iso?.bootsNiced ?? false,
        instancesPerProcess: this.opts.instancesPerProcess,
        warnings: this.iso?.warnings ?? [],
      },
    };
  }

  /**
   * The last step of a shutdown whose grace period is running out: requests still waiting do not
   * start (SHUTTING_DOWN, never run), and those running are ended now, each answering 503
   * SHUTTING_DOWN so that it is answered and logged instead of cut off by the process's exit.
   * Build checks and loads under way end too (SHUTTING_DOWN): one may take its function's
   * timeout, up to 60 s, which no grace period waits for. Returns how many requests, checks and
   * loads were running.
   */
  cutRunning(): number {
    this.sched.closing = true;
    let cut = this.checks.size + this.checksWaiting.size + this.sched.loading.size;
    for (const onCut of [...this.checksWaiting]) onCut();
    for (const sandbox of this.checks) sandbox.host.kill();
    for (const sandbox of this.sched.loading) sandbox.kill();
    for (const vs of this.sched.versions.values()) {
      vs.dismissQueue();
      for (const inst of vs.instances) {
        if (inst.state !== 'busy') continue;
        inst.cut();
        cut++;
      }
    }
    return cut;
  }

  /** Stop taking work, let in-flight requests finish (up to their timeout), stop every process. */
  async close(): Promise<void> {
    this.sched.closing = true;
    this.pool?.closing();
    for (const t of this.timers) clearInterval(t);
    const all = [...this.sched.versions.values()];
    for (const vs of all) vs.dismissQueue();
    await Promise.all(all.map((vs) => this.unload(vs.version.key)));
    const busy = all.flatMap((vs) => [...vs.instances]);
    await Promise.all(busy.map((i) => i.sandbox.exited));
    await this.pool?.close();
  }
}

/** The version is gone (unloaded, or never loaded): NOT_FOUND with `details.resource` 'version'. */
function unloaded(versionKey: string): EunhaError {
  return new EunhaError('NOT_FOUND', `function version '${versionKey}' is not loaded`, {
    resource: 'version',
    id: versionKey,
  });
}
