// Scheduling of instances for the loaded versions: one request running per instance, how far a
// version scales (short and long versions, pipelining at the cap for short requests), a bounded
// queue with a deadline, recycling, minWarm top-ups, idle TTL and the RSS watch. Whether one more
// instance fits under the caps and budgets, and which idle one makes room, is capacity.ts.

import { availableParallelism } from 'node:os';
import { Instance, HOST_OVERHEAD_BYTES } from './instance.js';
import { reservedBytes } from './memory-budget.js';
import { Capacity } from './capacity.js';
import type { HostProcess } from './host-process.js';
import type { Sandbox } from './sandbox.js';
import { guestCalls } from './guest-calls.js';
import type { OutboundHttp } from './outbound-http.js';
import { longRequestNice, stuckAbove } from './cpu-share.js';
import { VersionState, type Lease, type Waiter } from './version-state.js';
import type { WarmPool } from './warm-pool.js';
import type { KeyValuePort } from '../core/kv.js';
import type { Logger } from './types.js';

const CORES = availableParallelism();

export interface SchedulerConfig {
  kv: KeyValuePort;
  outbound?: OutboundHttp | undefined;
  maxInstances: number;
  maxInstancesPerWorkspace: number;
  memoryBudgetMb: number;
  workspaceMemoryBudgetMb: number;
  queueLimit: number;
  queueTimeoutMs: number;
  idleTtlMs: number;
  largeHeapBytes: number;
  largeIdleTtlMs: number;
  pipelineDepth: number;
  pipelineMaxServiceMs: number;
  longRequestNice: number;
  minLoadTimeoutMs: number;
  logger: Logger;
}

/**
 * A request waiting at a shared cap may evict another version's idle instance only once that has
 * been idle this long: two versions busy at a workspace's cap would otherwise trade instances
 * back and forth, each trade a cold start and a sandbox boot (~0.5 s of CPU).
 */
const WAITER_EVICTS_IDLE_AFTER_MS = 500;

/**
 * Before its first answer, a version counts as long once a request of it has run this long (or
 * pipelineMaxServiceMs, if higher). Timed in the parent, which adds its event loop's and the
 * sandbox's waits for a core: on 2 busy cores a fresh instance's first short request took 8–11 ms
 * there for 0.2 ms in the host, so the 5-ms line would count short bursts as long and undo stop
 * 10. A long version's line only waits this much more for its extra instances.
 */
const UNANSWERED_LONG_MS = 100;

export class Scheduler {
  readonly versions = new Map<string, VersionState>();
  /** Instances alive or starting and the memory they reserve, against the caps and budgets. */
  readonly capacity: Capacity;
  /**
   * Versions that have queued requests (or had: cleaned up in serveWaiting). A request waiting at
   * its workspace's or the global cap is served when an instance of another version goes away or
   * has been idle a while (serveWaiting); until stop 14 it waited for its own version's instances
   * only, and with none it got 429 at the queue's deadline while the workspace's other instances
   * sat idle.
   */
  private readonly waiting = new Set<VersionState>();
  private serveScheduled = false;
  coldStarts = 0;
  /** Requests written into a busy instance's channel, across versions (monotonic). */
  pipelined = 0;
  closing = false;

  constructor(
    private readonly opts: SchedulerConfig,
    private readonly warm: () => WarmPool,
  ) {
    this.capacity = new Capacity(opts, this.versions, (vs, inst) => this.destroy(vs, inst, false));
  }

  /**
   * An idle instance, a new one (cold) if caps allow, a place behind a short request in a busy
   * instance's channel, or a place in the queue; null = overloaded.
   */
  async acquire(vs: VersionState, signal?: AbortSignal): Promise<Lease | null> {
    // A request sent back from a retired instance has nowhere to go once its version is unloaded.
    if (vs.unloaded || this.closing || signal?.aborted) return null;
    const idle = vs.idle.pop();
    if (idle) {
      idle.state = 'busy';
      idle.leases++;
      return { instance: idle, cold: false };
    }
    if (this.mayGrow(vs) && this.capacity.makeRoom(vs)) {
      const starting = this.startInstance(vs, true);
      const fresh = await vs.unlessUnloaded(starting);
      if (fresh === null) {
        // Let go before its instance was up: startInstance ends it once loaded, and this lease,
        // never handed out, is returned then.
        starting.then(
          (inst) => {
            inst.leases++;
            this.release(vs, inst, true);
          },
          () => undefined,
        );
        return null;
      }
      fresh.leases++;
      // Unloaded while it started (startInstance has ended it): the request goes elsewhere. Or
      // the server began its last step (Runtime.cutRunning) meanwhile: the request does not start.
      if (vs.unloaded || this.closing) {
        this.release(vs, fresh, true);
        return null;
      }
      return { instance: fresh, cold: true };
    }
    const behind = vs.queue.length === 0 ? this.pipelineTarget(vs) : null;
    if (behind) {
      behind.leases++;
      this.countPipelined(vs);
      return { instance: behind, cold: false };
    }
    if (vs.queue.length >= this.opts.queueLimit) return null;
    return new Promise<Lease | null>((resolve) => {
      // Leaving the queue: at its deadline, or when the caller goes away.
      const leave = (): void => {
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', leave);
        const i = vs.queue.indexOf(waiter);
        if (i >= 0) vs.queue.splice(i, 1);
        resolve(null);
      };
      const waiter: Waiter = {
        resolve: (lease) => {
          signal?.removeEventListener('abort', leave);
          resolve(lease);
        },
        timer: setTimeout(leave, this.opts.queueTimeoutMs),
      };
      signal?.addEventListener('abort', leave, { once: true });
      vs.queue.push(waiter);
      this.waiting.add(vs);
      this.watchLength(vs);
    });
  }

  /**
   * The busy instance with the shortest line, if the version's requests are short enough that
   * waiting behind one costs less than the round trip through the parent between two requests.
   */
  private pipelineTarget(vs: VersionState): Instance | null {
    if (!this.pipelining(vs)) return null;
    let best: Instance | null = null;
    for (const inst of vs.instances) {
      if (inst.state !== 'busy' || inst.leases > this.opts.pipelineDepth) continue;
      if (!best || inst.leases < best.leases) best = inst;
    }
    return best;
  }

  private countPipelined(vs: VersionState): void {
    vs.pipelined++;
    this.pipelined++;
  }

  /**
   * The nice value a request of `vs` yields to once it has used the CPU of a short one
   * (cpu-share.ts). Counted over all the workspace's instances, short ones included: they yield
   * nothing, so a workspace with short instances too only weighs a little less.
   */
  niceFor(vs: VersionState): number {
    return longRequestNice(this.opts.longRequestNice, this.capacity.workspaceTotal(vs.version.workspaceId));
  }

  /**
   * A sandbox cannot lower the nice value it yielded to (design note 008). Once its workspace has
   * shrunk a lot (instances reaped after a burst, or other versions unloaded), one left far above
   * what a long request of the workspace now gets would run every request, short ones too, at a
   * fraction of the workspace's share for the rest of its life.
   */
  private stuck(vs: VersionState, inst: Instance): boolean {
    return stuckAbove(inst.nice, this.niceFor(vs));
  }

  private pipelining(vs: VersionState): boolean {
    return this.opts.pipelineDepth > 0 && vs.serviceMs <= this.opts.pipelineMaxServiceMs;
  }

  /**
   * Short requests are CPU-bound: past one instance per core (or minWarm), another instance only
   * adds context switches, while a place in a busy one's channel costs less than a round trip.
   * So a pipelining version scales out to that many instances; others to their cap. Until its
   * first answer tells, a version counts as short: a burst at a new deployment used to start an
   * instance per request, up to the cap, each taking a sandbox boot from the requests' CPU, and
   * then retire them all. A long version scales on from its first answer (`growForQueue`), or
   * from the moment one of its requests has run too long to be short (`watchLength`).
   */
  private scaleLimit(vs: VersionState): number {
    const short = this.pipelining(vs) || this.unmeasured(vs);
    return short ? Math.min(vs.cap, Math.max(CORES, vs.version.minWarm ?? 0)) : vs.cap;
  }

  /** No answer yet, and nothing running has shown the version to be long. */
  private unmeasured(vs: VersionState): boolean {
    return Number.isNaN(vs.serviceMs) && !vs.ranLong;
  }

  /**
   * Only an answer used to show that a version is not short: a burst at a new deployment of a slow
   * function waited for the first one at one instance per core, and was refused at the queue's
   * deadline if that came first, with most of the version's cap unused. So while requests wait
   * and no answer has come, one timer per version fires when the oldest running request passes
   * UNANSWERED_LONG_MS; if it is still running then, the version is long and grows for its line.
   * A short burst is answered before that and pays no timer per request.
   */
  private watchLength(vs: VersionState): void {
    if (vs.lengthTimer !== undefined || !this.unmeasured(vs) || vs.queue.length === 0) return;
    const line = Math.max(this.opts.pipelineMaxServiceMs, UNANSWERED_LONG_MS);
    const since = this.oldestRunning(vs);
    // None running yet (its instances still start): looked at again a line later.
    const wait = since === undefined ? line : Math.max(0, since + line - performance.now());
    vs.lengthTimer = setTimeout(() => {
      // Timers run before the loop reads its channels: an answer that a busy loop left unread
      // is taken in first, rather than its request counted as long.
      setImmediate(() => {
        vs.lengthTimer = undefined;
        if (vs.unloaded || this.closing || !this.unmeasured(vs)) return;
        const running = this.oldestRunning(vs);
        if (running !== undefined && performance.now() - running >= line) {
          vs.ranLong = true;
          this.growForQueue(vs);
        } else this.watchLength(vs);
      });
    }, wait);
  }

  private oldestRunning(vs: VersionState): number | undefined {
    let oldest: number | undefined;
    for (const inst of vs.instances) {
      const since = inst.runningSince;
      if (since !== undefined && (oldest === undefined || since < oldest)) oldest = since;
    }
    return oldest;
  }

  /**
   * Instances for the requests waiting in line, as far as the version may grow; each takes the
   * head of the line when it is up (a cold start for that request), or goes idle if none is left.
   */
  private growForQueue(vs: VersionState, idleBefore = Infinity): void {
    while (
      vs.queue.length > vs.starting - vs.startingForCaller &&
      this.mayGrow(vs) &&
      !this.closing &&
      this.capacity.makeRoom(vs, idleBefore)
    ) {
      this.startInstance(vs).then(
        (fresh) => {
          const head = vs.queue.shift();
          if (!head) return this.release(vs, fresh, false);
          clearTimeout(head.timer);
          fresh.leases++;
          head.resolve({ instance: fresh, cold: true });
        },
        (e: unknown) => {
          this.opts.logger({
            // At a shutdown the start is refused on purpose: not an error.
            level: this.closing ? 'info' : 'error',
            msg: 'instance for queued requests failed',
            key: vs.version.key,
            error: String(e),
          });
          // The request it was for is told now rather than at its deadline.
          const head = vs.queue.shift();
          if (head) {
            clearTimeout(head.timer);
            head.resolve(null);
          }
        },
      );
    }
  }

  private mayGrow(vs: VersionState): boolean {
    return vs.canGrow && vs.total < this.scaleLimit(vs);
  }

  /** `forCaller`: started by a request for itself, so it takes no one from the line when up. */
  /**
   * Sandboxes whose module code is loading (a deploy's first instance, a scale-out): a shutdown's
   * cut ends them (Runtime.cutRunning), since a load may take up to 60 s.
   */
  readonly loading = new Set<Sandbox>();

  async startInstance(vs: VersionState, forCaller = false): Promise<Instance> {
    vs.starting++;
    if (forCaller) vs.startingForCaller++;
    this.capacity.count(vs, 1);
    try {
      const sandbox = await this.warm().take(vs.version.workspaceId);
      // The instance is known once its code has loaded; a call made at load has the whole timeout.
      const loaded: { inst?: Instance } = {};
      sandbox.onCall = guestCalls(
        sandbox,
        vs.version,
        this.opts.kv,
        this.opts.outbound,
        () => loaded.inst?.remainingMs() ?? vs.version.timeoutMs,
      );
      this.loading.add(sandbox);
      const inst = await Instance.specialise(
        sandbox,
        vs.version,
        this.opts.minLoadTimeoutMs,
        this.niceFor(vs),
      ).finally(() => {
        this.loading.delete(sandbox);
        this.warm().settle(sandbox);
      });
      loaded.inst = inst;
      vs.instances.add(inst);
      // A sandbox that ends while idle (its process crashed or was killed, taking the workspace's
      // other sandboxes with it) leaves at once, so that no request is sent to it.
      void inst.sandbox.exited.then(() => {
        if (inst.state === 'idle') this.destroy(vs, inst);
      });
      vs.coldStarts++;
      this.coldStarts++;
      if (vs.unloaded) inst.kill();
      return inst;
    } catch (e) {
      this.capacity.count(vs, -1);
      this.serveWaiting();
      throw e;
    } finally {
      vs.starting--;
      if (forCaller) vs.startingForCaller--;
    }
  }

  release(vs: VersionState, inst: Instance, recycle: boolean): void {
    inst.lastUsed = Date.now();
    inst.leases = Math.max(0, inst.leases - 1);
    if (recycle || inst.state === 'dead' || vs.unloaded || this.closing) {
      // Retired for an unload or shutdown, a sound instance still owes the requests already
      // pipelined into it: it stops when the last of them is answered.
      if (!recycle && inst.state !== 'dead' && inst.leases > 0) return;
      this.destroy(vs, inst, false);
      // Its replacement serves the line, if there is one.
      this.growForQueue(vs);
      this.topUp(vs);
      return;
    }
    // A burst before the service time was known may have scaled a short version out too far.
    if (inst.leases === 0 && vs.instances.size > this.scaleLimit(vs)) {
      this.destroy(vs, inst, false);
      return;
    }
    // Unless requests wait for it, an instance left behind a smaller workspace's share is replaced.
    if (inst.leases === 0 && vs.queue.length === 0 && this.stuck(vs, inst)) {
      this.destroy(vs, inst);
      return;
    }
    // Hand waiting requests to this instance: one to run, and more behind it if pipelining is on.
    while (
      vs.queue.length > 0 &&
      (inst.leases === 0 || (inst.leases <= this.opts.pipelineDepth && this.pipelining(vs)))
    ) {
      const head = vs.queue.shift()!;
      clearTimeout(head.timer);
      inst.state = 'busy';
      if (inst.leases++ > 0) this.countPipelined(vs);
      head.resolve({ instance: inst, cold: false });
    }
    if (vs.queue.length === 0) this.waiting.delete(vs);
    // A long version's first answers can show that the line needs more instances.
    this.growForQueue(vs);
    // Still running a request pipelined behind this one: not idle yet.
    if (inst.leases > 0) return;
    inst.state = 'idle';
    vs.idle.push(inst);
  }

  /** Stop an instance; `refill` restores the version's minWarm (not when evicting for room). */
  destroy(vs: VersionState, inst: Instance, refill = true): void {
    vs.removeIdle(inst);
    if (!vs.instances.delete(inst)) return;
    this.capacity.count(vs, -1);
    inst.kill();
    if (refill) this.topUp(vs);
    this.serveWaiting();
  }

  /**
   * Room may have come free (an instance went away, or has been idle a while: called from the idle
   * sweep too): waiting versions try to grow, evicting only instances idle for
   * WAITER_EVICTS_IDLE_AFTER_MS. Deferred to a microtask, since destroy() runs inside makeRoom's
   * own evictions; free when nothing waits.
   */
  serveWaiting(): void {
    if (this.waiting.size === 0 || this.serveScheduled) return;
    this.serveScheduled = true;
    queueMicrotask(() => {
      this.serveScheduled = false;
      const idleBefore = Date.now() - WAITER_EVICTS_IDLE_AFTER_MS;
      for (const vs of this.waiting) {
        if (vs.queue.length === 0 || vs.unloaded) this.waiting.delete(vs);
        else this.growForQueue(vs, idleBefore);
      }
    });
  }

  /** Keep minWarm instances of a version started (in the background). */
  topUp(vs: VersionState): void {
    const want = Math.min(vs.version.minWarm ?? 0, vs.cap);
    for (let n = vs.total; n < want && !vs.unloaded && !this.closing && this.capacity.hasRoom(vs); n++) {
      this.startInstance(vs).then(
        (inst) => this.release(vs, inst, false),
        (e: unknown) =>
          this.opts.logger({
            level: 'error',
            msg: 'minWarm instance failed',
            key: vs.version.key,
            error: String(e),
          }),
      );
    }
  }

  reapIdle(): void {
    const now = Date.now();
    const { idleTtlMs, largeHeapBytes, largeIdleTtlMs } = this.opts;
    const expired = (i: Instance): boolean =>
      i.lastUsed < now - (i.heapBytes > largeHeapBytes ? Math.min(largeIdleTtlMs, idleTtlMs) : idleTtlMs);
    for (const vs of this.versions.values()) for (const inst of vs.expired(expired)) this.destroy(vs, inst);
    // Reaping shrinks workspaces: idle instances left stuck by that are replaced now (minWarm
    // ones with fresh ones) rather than after one more request at the smaller share.
    for (const vs of this.versions.values())
      for (const inst of vs.idle.filter((i) => this.stuck(vs, i))) this.destroy(vs, inst);
    this.serveWaiting();
  }

  /**
   * The backstop under the wasm memory cap and the sandboxes' heap limits: a host process whose
   * RSS runs past what its instances may use loses its busy instances (one of them is the cause;
   * the idle ones stay).
   */
  watchMemory(): void {
    const byHost = new Map<HostProcess, Instance[]>();
    for (const vs of this.versions.values()) {
      for (const inst of vs.instances) {
        const list = byHost.get(inst.sandbox.host);
        if (list) list.push(inst);
        else byHost.set(inst.sandbox.host, [inst]);
      }
    }
    for (const [host, insts] of byHost) {
      if (!insts.some((i) => i.state === 'busy')) continue;
      const allowed = insts.reduce((sum, i) => sum + reservedBytes(i.version), HOST_OVERHEAD_BYTES);
      if (host.rssBytes() <= allowed) continue;
      for (const inst of insts) if (inst.state === 'busy') inst.killForMemory();
    }
  }
}
