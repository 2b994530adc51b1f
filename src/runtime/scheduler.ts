// Scheduling of instances for the loaded versions: one request per instance, per-version and
// global instance caps (evicting another version's idle instance when the global cap is hit), a
// bounded queue with a deadline, recycling, minWarm top-ups, idle TTL and the RSS watch.

import { Instance, HOST_OVERHEAD_BYTES } from './instance.js';
import { kvHandlerFor } from './kv-bridge.js';
import { VersionState, type Lease } from './version-state.js';
import type { WarmPool } from './warm-pool.js';
import type { KeyValuePort } from '../core/kv.js';
import type { Logger } from './types.js';

export interface SchedulerConfig {
  kv: KeyValuePort;
  maxInstances: number;
  queueLimit: number;
  queueTimeoutMs: number;
  idleTtlMs: number;
  logger: Logger;
}

export class Scheduler {
  readonly versions = new Map<string, VersionState>();
  /** Instances alive or starting, across all versions (the global cap counts these). */
  live = 0;
  coldStarts = 0;
  closing = false;

  constructor(
    private readonly opts: SchedulerConfig,
    private readonly warm: () => WarmPool,
  ) {}

  /** An idle instance, a new one (cold) if caps allow, or a place in the queue; null = overloaded. */
  async acquire(vs: VersionState): Promise<Lease | null> {
    const idle = vs.idle.pop();
    if (idle) {
      idle.state = 'busy';
      return { instance: idle, cold: false };
    }
    if (vs.canGrow && this.makeRoom()) return { instance: await this.startInstance(vs), cold: true };
    if (vs.queue.length >= this.opts.queueLimit) return null;
    return new Promise<Lease | null>((resolve) => {
      const waiter = {
        resolve,
        timer: setTimeout(() => {
          const i = vs.queue.indexOf(waiter);
          if (i >= 0) vs.queue.splice(i, 1);
          resolve(null);
        }, this.opts.queueTimeoutMs),
      };
      vs.queue.push(waiter);
    });
  }

  /** True if one more instance fits under the global cap, evicting another version's idle one if needed. */
  makeRoom(): boolean {
    if (this.live < this.opts.maxInstances) return true;
    // Least recently used idle instance, preferring versions above their minWarm.
    let victim: { vs: VersionState; inst: Instance; spare: boolean } | null = null;
    for (const other of this.versions.values()) {
      const spare = other.instances.size > (other.version.minWarm ?? 0);
      for (const inst of other.idle) {
        const better =
          !victim ||
          (spare && !victim.spare) ||
          (spare === victim.spare && inst.lastUsed < victim.inst.lastUsed);
        if (better) victim = { vs: other, inst, spare };
      }
    }
    if (!victim) return false;
    this.destroy(victim.vs, victim.inst, false);
    return true;
  }

  async startInstance(vs: VersionState): Promise<Instance> {
    vs.starting++;
    this.live++;
    try {
      const { host } = await this.warm().take();
      host.onKv = kvHandlerFor(this.opts.kv, vs.version.functionId);
      const inst = await Instance.specialise(host, vs.version).finally(() => this.warm().fill());
      vs.instances.add(inst);
      vs.coldStarts++;
      this.coldStarts++;
      if (vs.unloaded) inst.kill();
      return inst;
    } catch (e) {
      this.live--;
      throw e;
    } finally {
      vs.starting--;
    }
  }

  release(vs: VersionState, inst: Instance, recycle: boolean): void {
    inst.lastUsed = Date.now();
    if (recycle || inst.state === 'dead' || vs.unloaded || this.closing) {
      this.destroy(vs, inst, false);
      // The replacement goes to the request at the head of the queue, if any (a cold start).
      if (vs.queue.length > 0 && vs.canGrow && !this.closing && this.makeRoom()) {
        const head = vs.queue.shift()!;
        clearTimeout(head.timer);
        this.startInstance(vs).then(
          (fresh) => head.resolve({ instance: fresh, cold: true }),
          () => head.resolve(null),
        );
      }
      this.topUp(vs);
      return;
    }
    const head = vs.queue.shift();
    if (head) {
      clearTimeout(head.timer);
      inst.state = 'busy';
      head.resolve({ instance: inst, cold: false });
      return;
    }
    inst.state = 'idle';
    vs.idle.push(inst);
  }

  /** Stop an instance; `refill` restores the version's minWarm (not when evicting for room). */
  destroy(vs: VersionState, inst: Instance, refill = true): void {
    if (!vs.instances.delete(inst)) return;
    vs.removeIdle(inst);
    this.live--;
    inst.kill();
    if (refill) this.topUp(vs);
  }

  /** Keep minWarm instances of a version started (in the background). */
  topUp(vs: VersionState): void {
    const want = Math.min(vs.version.minWarm ?? 0, vs.cap);
    for (
      let n = vs.total;
      n < want && !vs.unloaded && !this.closing && this.live < this.opts.maxInstances;
      n++
    ) {
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
    const cutoff = Date.now() - this.opts.idleTtlMs;
    for (const vs of this.versions.values()) for (const inst of vs.expired(cutoff)) this.destroy(vs, inst);
  }

  /** The backstop under the wasm memory cap: kill a busy instance whose process RSS runs away. */
  watchMemory(): void {
    for (const vs of this.versions.values()) {
      for (const inst of vs.instances) {
        if (inst.state !== 'busy') continue;
        if (inst.host.rssBytes() > inst.memoryLimitBytes + HOST_OVERHEAD_BYTES) inst.killForMemory();
      }
    }
  }
}
