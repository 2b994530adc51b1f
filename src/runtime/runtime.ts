// The runtime: loads function versions into sandbox instances and routes invocations to them.
// Owns the scheduling rules — one request per instance, per-version and global instance caps,
// a bounded queue with a deadline (then 429 + Retry-After), idle TTL down to minWarm, the RSS
// watch that kills an instance above its memory — and the warm pool that hides cold starts.

import { mkdirSync } from 'node:fs';
import { EunhaError } from '../core/errors.js';
import { ensureSnapshot } from './snapshot.js';
import { detectIsolation, type Isolation } from './isolation.js';
import { WarmPool } from './warm-pool.js';
import { Instance, HOST_OVERHEAD_BYTES } from './instance.js';
import { kvHandlerFor } from './kv-bridge.js';
import { VersionState, type Lease } from './version-state.js';
import { validateVersion } from './validate.js';
import type { FunctionVersion, InvokeRequest, InvokeResult, Logger, RuntimeOptions, RuntimeStats } from './types.js';

const MiB = 1024 * 1024;

export class Runtime {
  private readonly opts: Required<Omit<RuntimeOptions, 'logger'>> & { logger: Logger };
  private readonly versions = new Map<string, VersionState>();
  private iso: Isolation | null = null;
  private pool: WarmPool | null = null;
  private snapshot: Promise<string> | null = null;
  private started = false;
  private live = 0;
  private coldStarts = 0;
  private invocations = 0;
  private timers: NodeJS.Timeout[] = [];
  private closing = false;

  constructor(opts: RuntimeOptions) {
    this.opts = {
      poolSize: 2,
      bootConcurrency: 2,
      maxInstances: 32,
      maxInstancesPerFunction: 8,
      queueLimit: 64,
      queueTimeoutMs: 5000,
      idleTtlMs: 300_000,
      killGraceMs: 500,
      maxRequestBytes: 6 * MiB,
      useSnapshot: true,
      logger: () => undefined,
      ...opts,
    };
  }

  /** Make (or find) the snapshot and start filling the warm pool; resolves once the snapshot exists. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const iso = detectIsolation();
    this.iso = iso;
    for (const w of iso.warnings) this.opts.logger({ level: 'warn', msg: w });
    mkdirSync(this.opts.cacheDir, { recursive: true });
    this.snapshot = this.opts.useSnapshot ? ensureSnapshot(this.opts.cacheDir) : null;
    this.pool = new WarmPool(iso, this.snapshot, this.opts.poolSize, this.opts.bootConcurrency, this.opts.logger);
    await this.snapshot;
    this.pool.fill();
    const sweep = Math.max(50, Math.min(1000, this.opts.idleTtlMs / 2));
    this.timers.push(setInterval(() => this.reapIdle(), sweep).unref());
    this.timers.push(setInterval(() => this.watchMemory(), 100).unref());
  }

  private get warm(): WarmPool {
    if (!this.pool) throw new EunhaError('INTERNAL_ERROR', 'runtime not started: call start() first');
    return this.pool;
  }

  /** For builds: does this code load (syntax, imports, IncomingHandler)? Uses a throw-away sandbox. */
  async check(files: Record<string, Uint8Array>, env: Record<string, string> = {}): Promise<{ ok: true } | { ok: false; error: string }> {
    const version: FunctionVersion = {
      key: `check@${Date.now()}`, functionId: '__check__', workspaceId: '__check__', engine: 'python',
      files, env, memoryMb: 256, timeoutMs: 10_000,
    };
    try {
      validateVersion(version);
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    const { host } = await this.warm.take();
    try {
      await Instance.specialise(host, version);
      return { ok: true };
    } catch (e) {
      if (e instanceof EunhaError) return { ok: false, error: String(e.details.traceback ?? e.message) };
      throw e;
    } finally {
      host.kill();
    }
  }

  /** Register a version and specialise its first instance(s) now, so a bad version fails here. */
  async load(version: FunctionVersion): Promise<void> {
    if (this.closing) throw new EunhaError('SHUTTING_DOWN', 'the runtime is shutting down');
    validateVersion(version);
    if (this.versions.has(version.key)) return;
    const cap = Math.max(1, Math.min(version.maxInstances ?? this.opts.maxInstancesPerFunction, this.opts.maxInstancesPerFunction));
    const vs = new VersionState(version, cap);
    this.versions.set(version.key, vs);
    try {
      const first = await this.startInstance(vs);
      this.release(vs, first, false);
    } catch (e) {
      this.versions.delete(version.key);
      throw e;
    }
    this.topUp(vs);
  }

  async invoke(versionKey: string, req: InvokeRequest): Promise<InvokeResult> {
    const vs = this.versions.get(versionKey);
    if (!vs) throw new EunhaError('NOT_FOUND', `function version '${versionKey}' is not loaded`, { resource: 'version', id: versionKey });
    if (this.closing) throw new EunhaError('SHUTTING_DOWN', 'the runtime is shutting down');
    if (req.body.length > this.opts.maxRequestBytes) {
      throw new EunhaError('PAYLOAD_TOO_LARGE', `request body exceeds ${this.opts.maxRequestBytes} bytes`);
    }
    const t0 = performance.now();
    let lease: Lease | null;
    try {
      lease = await this.acquire(vs);
    } catch (e) {
      return this.failure(502, 'FUNCTION_CRASHED', `no instance could be started: ${e instanceof Error ? e.message : String(e)}`, t0, true);
    }
    if (lease === null) {
      const retry = Math.max(1, Math.ceil(this.opts.queueTimeoutMs / 1000));
      const r = this.failure(429, 'TOO_MANY_REQUESTS', 'every instance of the function is busy and the queue is full', t0, false);
      r.headers['retry-after'] = String(retry);
      return r;
    }
    const { instance, cold } = lease;
    this.invocations++;
    vs.invocations++;
    let recycle = true;
    try {
      const out = await instance.invoke(req, this.opts.killGraceMs);
      recycle = out.recycle;
      if (out.recycle) {
        this.opts.logger({ level: 'warn', msg: 'instance recycled', key: versionKey, pid: instance.pid, code: out.result.error?.code, reason: out.result.error?.message });
      }
      return { ...out.result, durationMs: performance.now() - t0, coldStart: cold };
    } finally {
      this.release(vs, instance, recycle);
    }
  }

  private failure(status: number, code: 'FUNCTION_CRASHED' | 'TOO_MANY_REQUESTS', message: string, t0: number, cold: boolean): InvokeResult {
    return {
      status, headers: {}, body: new Uint8Array(0), lines: [], linesTruncated: false,
      durationMs: performance.now() - t0, cpuMs: 0, coldStart: cold, error: { code, message },
    };
  }

  /** An idle instance, a new one (cold) if caps allow, or a place in the queue; null = overloaded. */
  private async acquire(vs: VersionState): Promise<Lease | null> {
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
  private makeRoom(): boolean {
    if (this.live < this.opts.maxInstances) return true;
    let victim: { vs: VersionState; inst: Instance } | null = null;
    for (const other of this.versions.values()) {
      for (const inst of other.idle) {
        if (!victim || inst.lastUsed < victim.inst.lastUsed) victim = { vs: other, inst };
      }
    }
    if (!victim) return false;
    this.destroy(victim.vs, victim.inst);
    return true;
  }

  private async startInstance(vs: VersionState): Promise<Instance> {
    vs.starting++;
    this.live++;
    try {
      const { host } = await this.warm.take();
      host.onKv = kvHandlerFor(this.opts.kv, vs.version.functionId);
      const inst = await Instance.specialise(host, vs.version);
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

  private release(vs: VersionState, inst: Instance, recycle: boolean): void {
    inst.lastUsed = Date.now();
    if (recycle || inst.state === 'dead' || vs.unloaded || this.closing) {
      this.destroy(vs, inst);
      const head = vs.queue.shift();
      if (head) {
        clearTimeout(head.timer);
        this.startInstance(vs).then(
          (fresh) => head.resolve({ instance: fresh, cold: true }),
          () => head.resolve(null),
        );
      }
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

  private destroy(vs: VersionState, inst: Instance): void {
    if (!vs.instances.delete(inst)) return;
    vs.removeIdle(inst);
    this.live--;
    inst.kill();
    this.topUp(vs);
  }

  /** Keep minWarm instances of a version started (in the background). */
  private topUp(vs: VersionState): void {
    const want = Math.min(vs.version.minWarm ?? 0, vs.cap);
    for (let n = vs.total; n < want && !vs.unloaded && !this.closing && this.live < this.opts.maxInstances; n++) {
      this.startInstance(vs).then(
        (inst) => this.release(vs, inst, false),
        (e: unknown) => this.opts.logger({ level: 'error', msg: 'minWarm instance failed', key: vs.version.key, error: String(e) }),
      );
    }
  }

  private reapIdle(): void {
    const cutoff = Date.now() - this.opts.idleTtlMs;
    for (const vs of this.versions.values()) for (const inst of vs.expired(cutoff)) this.destroy(vs, inst);
  }

  /** The backstop under the wasm memory cap: kill a busy instance whose process RSS runs away. */
  private watchMemory(): void {
    for (const vs of this.versions.values()) {
      for (const inst of vs.instances) {
        if (inst.state !== 'busy') continue;
        if (inst.host.rssBytes() > inst.memoryLimitBytes + HOST_OVERHEAD_BYTES) inst.killForMemory();
      }
    }
  }

  async unload(versionKey: string): Promise<void> {
    const vs = this.versions.get(versionKey);
    if (!vs) return;
    vs.unloaded = true;
    this.versions.delete(versionKey);
    for (const w of vs.queue.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(null);
    }
    const idle = vs.idle.splice(0);
    await Promise.all(idle.map((i) => {
      vs.instances.delete(i);
      this.live--;
      return i.stop();
    }));
  }

  stats(): RuntimeStats {
    const versions: RuntimeStats['versions'] = {};
    let queueDepth = 0;
    for (const [key, vs] of this.versions) {
      versions[key] = vs.stats();
      queueDepth += vs.queue.length;
    }
    return {
      warmPool: this.pool?.stats ?? { ready: 0, booting: 0, target: this.opts.poolSize },
      instances: this.live,
      queueDepth,
      coldStarts: this.coldStarts,
      invocations: this.invocations,
      versions,
      isolation: {
        netIsolated: this.iso?.netIsolated ?? false,
        privilegesDropped: this.iso?.privilegesDropped ?? false,
        warnings: this.iso?.warnings ?? [],
      },
    };
  }

  /** Stop taking work, let in-flight requests finish (up to their timeout), stop every process. */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    const all = [...this.versions.values()];
    for (const vs of all) {
      for (const w of vs.queue.splice(0)) {
        clearTimeout(w.timer);
        w.resolve(null);
      }
    }
    await Promise.all(all.map((vs) => this.unload(vs.version.key)));
    const busy = all.flatMap((vs) => [...vs.instances]);
    await Promise.all(busy.map((i) => i.host.exited));
    await this.pool?.close();
  }
}
