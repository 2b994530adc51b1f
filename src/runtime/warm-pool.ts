// Pre-booted, not yet specialised sandboxes, and which process a new one lives in. A host process
// holds the sandboxes of one workspace only; each extra sandbox in it is a worker thread that
// shares the process's Node and compiled interpreter (≈ 42 MB against ≈ 110 MB for a process).
// So a workspace's next instance takes, in order: a spare already booted in one of its processes;
// a spare being booted, or a slot booted now, in one of its processes (instances started together
// wait for these in turn, until the slots run out); a process being booted for another of its
// instances; a process from the pool (booted, bound to no workspace yet), waiting for one being
// booted if need be; a process booted now. After each specialisation the pool refills (a few
// boots at a time) and the workspace gets its one spare back. Background boots run at nice 10
// where the runtime may renice them back (Isolation.bootsNiced); a sandbox gets normal priority
// when an instance takes it, or when someone starts waiting for it. A sandbox is never reused once
// it has run guest code; a process retires with its last one.

import { HostProcess, type Sandbox } from './host-process.js';
import type { Isolation } from './isolation.js';
import { forgetSnapshot } from './snapshot.js';
import { shuttingDown } from '../core/errors.js';
import type { Logger } from './types.js';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

export interface PoolStats {
  /** Processes booted and bound to no workspace yet. */
  ready: number;
  booting: number;
  target: number;
  /** Host processes bound to a workspace. */
  processes: number;
  /** Booted sandboxes waiting in workspaces' processes for their next instance. */
  spares: number;
}

export class WarmPool {
  private ready: HostProcess[] = [];
  private booting = 0;
  private closed = false;
  private readonly bound = new Map<string, Set<HostProcess>>();
  /** A process being booted for a workspace's taker, which the workspace's other takers wait for. */
  private readonly starting = new Map<string, { boot: Promise<HostProcess>; waiters: number }>();
  /** Takers waiting for the pool's next boot to end (one each). */
  private poolWaiters: (() => void)[] = [];
  /** Every process started and not yet exited, for close(). */
  private readonly hosts = new Set<HostProcess>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** After a failed pool boot, the refill waits this long (doubling to a minute) before the next. */
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly iso: Isolation,
    /**
     * The path of a usable snapshot (checked once, so usually already settled); null: boot without
     * one (a baseline for the bench, ~2.5 s a boot).
     */
    private readonly snapshot: (() => Promise<string>) | null,
    private readonly target: number,
    private readonly concurrency: number,
    /** Sandboxes one process may hold over its life; 1 = a process per instance. */
    private readonly perProcess: number,
    /** A sandbox not booted by then is killed, and its process gets no more boots. */
    private readonly bootTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  get stats(): PoolStats {
    let processes = 0;
    let spares = 0;
    for (const hosts of this.bound.values()) {
      processes += hosts.size;
      for (const h of hosts) if (h.spare) spares++;
    }
    return { ready: this.ready.length, booting: this.booting, target: this.target, processes, spares };
  }

  fill(): void {
    while (
      !this.closed &&
      this.retryTimer === undefined &&
      this.ready.length + this.booting < this.target &&
      this.booting < this.concurrency
    ) {
      this.booting++;
      this.track(
        this.bootProcess(true)
          .then(
            (h) => {
              this.retryMs = FIRST_RETRY_MS;
              if (this.closed) h.kill();
              else this.ready.push(h);
              return true;
            },
            (e: unknown) => {
              if (!this.closed) {
                this.log({
                  level: 'error',
                  msg: 'sandbox boot failed',
                  error: String(e),
                  retryInMs: this.retryMs,
                });
                this.retryLater();
              }
              return false;
            },
          )
          .then((booted) => {
            this.booting--;
            // Each boot that ends wakes one taker; the last one wakes them all, since no later
            // boot would. Takers that find nothing ready boot a process of their own.
            if (this.booting === 0) for (const wake of this.poolWaiters.splice(0)) wake();
            else this.poolWaiters.shift()?.();
            // Only a boot that worked refills at once. A failure can come back in a microtask
            // (the snapshot file gone: its open throws at the spawn), and refilling after it looped
            // without ever yielding to the event loop: 27 million log lines, no answer to /health
            // or to SIGTERM.
            if (booted) this.fill();
          }),
      );
    }
  }

  /** The next refill after a failed boot, a while later (each failure in a row doubles it). */
  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.fill();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Boot a host process with one sandbox, waiting until the sandbox says it is ready. */
  private async bootProcess(background: boolean): Promise<HostProcess> {
    const host = await this.spawnHost(background);
    this.hosts.add(host);
    void host.exited.then(() => {
      this.hosts.delete(host);
      const i = this.ready.indexOf(host);
      if (i >= 0) this.ready.splice(i, 1);
      this.unbind(host);
    });
    try {
      await this.bootSpare(host);
    } catch (e) {
      host.kill();
      throw e;
    }
    if (!background) host.lower();
    return host;
  }

  /**
   * A host process, handed the snapshot's file. A snapshot deleted since it was checked (a cache or
   * data directory cleaned under a running server) is made again, once per boot, rather than failing
   * every boot from then on; processes already running keep the file they opened.
   */
  private async spawnHost(background: boolean): Promise<HostProcess> {
    for (let remade = false; ; remade = true) {
      const path = this.snapshot === null ? undefined : await this.snapshot();
      if (this.closed) throw shuttingDown();
      try {
        return HostProcess.spawn(this.iso, this.perProcess, path, background);
      } catch (e) {
        if (path === undefined || remade || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        this.log({
          level: 'warn',
          msg: 'the sandbox snapshot is gone from its cache: making it again',
          path,
        });
        forgetSnapshot(path);
      }
    }
  }

  /** Boot a sandbox in the process's next slot; it becomes the process's spare. */
  private bootSpare(host: HostProcess): Promise<Sandbox> {
    if (host.spareBoot) return host.spareBoot;
    const p = (async () => {
      const sb = host.start({ noSnapshot: this.snapshot === null });
      if (sb === null) throw new Error('the host process has no free slot');
      // Everyone waiting for this boot (and, for the pool's, every taker behind them) would wait
      // for as long as it hangs: a stopped or wedged process is given up on, not waited for.
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          host.seal();
          sb.kill();
          reject(new Error(`the sandbox did not boot within ${this.bootTimeoutMs} ms`));
        }, this.bootTimeoutMs);
      });
      const f = await Promise.race([sb.next(), hung]).finally(() => clearTimeout(timer));
      if (f.header.t !== 'ready') {
        sb.kill();
        throw new Error(`sandbox did not boot: ${JSON.stringify(f.header).slice(0, 400)}`);
      }
      host.spare = sb;
      void sb.exited.then(() => {
        if (host.spare !== sb) return;
        host.spare = null;
        // A pooled process is its spare: without it, it has nothing left to offer.
        if (this.ready.includes(host)) host.kill();
      });
      return sb;
    })();
    host.spareBoot = p;
    void p.then(
      () => (host.spareBoot = null),
      () => (host.spareBoot = null),
    );
    return p;
  }

  /** Hand out the process's spare, if it has a live one. */
  private grab(host: HostProcess): Sandbox | null {
    const sb = host.spare;
    if (!sb || sb.dead || host.dead) return null;
    host.spare = null;
    host.assigned++;
    host.promote();
    void sb.exited.then(() => {
      host.assigned--;
      // The last sandbox in use is gone: the process (and its spare) retires. (A process handed
      // out from the pool has left `ready` for good.)
      if (host.assigned === 0) {
        this.unbind(host);
        void host.stop();
      }
    });
    return sb;
  }

  private hostsOf(workspace: string): HostProcess[] {
    return [...(this.bound.get(workspace) ?? [])].filter((h) => !h.dead);
  }

  private bind(host: HostProcess, workspace: string | null): void {
    host.workspace = workspace;
    if (workspace === null) return;
    let set = this.bound.get(workspace);
    if (!set) this.bound.set(workspace, (set = new Set()));
    set.add(host);
  }

  private unbind(host: HostProcess): void {
    if (host.workspace === null) return;
    const set = this.bound.get(host.workspace);
    set?.delete(host);
    if (set?.size === 0) this.bound.delete(host.workspace);
  }

  /**
   * A booted sandbox for `workspace` (null: a throw-away one in a process of its own, for build
   * checks). The caller calls `settle()` once it has specialised it, so refill boots do not
   * compete with the cold start they hide.
   */
  async take(workspace: string | null): Promise<Sandbox> {
    // Boots that failed in a process: not waited for again by this taker.
    const failed = new Set<HostProcess>();
    for (;;) {
      if (this.closed) throw shuttingDown();
      const mine = workspace === null ? [] : this.hostsOf(workspace).filter((h) => !failed.has(h));
      for (const h of mine) {
        const sb = this.grab(h);
        if (sb) return sb;
      }
      // A thread in the workspace's process costs 42 MB where a process costs 110, and far less
      // CPU to boot: takers wait in turn for the threads its processes boot, one after another,
      // until their slots run out.
      const host = mine.find((h) => h.spareBoot !== null || h.freeSlots > 0);
      if (host !== undefined) {
        const done = host.hurry();
        try {
          await this.bootSpare(host);
        } catch {
          failed.add(host);
        } finally {
          done();
        }
        continue;
      }
      // A process another taker of the workspace is starting: wait for it, then for its threads,
      // as long as its slots (one goes to that taker) are enough for everyone waiting.
      const starting = workspace === null ? undefined : this.starting.get(workspace);
      if (starting !== undefined && starting.waiters < this.perProcess - 1) {
        starting.waiters++;
        await starting.boot.catch(() => undefined);
        starting.waiters--;
        continue;
      }
      // From the pool; while its refill is under way, wait for that rather than add a boot.
      let pooled = this.takeReady();
      if (pooled === undefined && this.booting > 0) {
        await new Promise<void>((resolve) => this.poolWaiters.push(resolve));
        // Each boot that ends wakes one taker: this one takes what it brought, or the wake-up
        // would be lost for a taker of another workspace waiting behind it.
        pooled = this.takeReady();
        if (pooled === undefined) continue;
      }
      if (pooled !== undefined) {
        this.bind(pooled, workspace);
        return this.grab(pooled)!;
      }
      const boot = this.bootProcess(false).then((h) => {
        this.bind(h, workspace);
        return h;
      });
      if (workspace !== null && !this.starting.has(workspace)) {
        this.starting.set(workspace, { boot, waiters: 0 });
        const done = (): void => {
          if (this.starting.get(workspace)?.boot === boot) this.starting.delete(workspace);
        };
        void boot.then(done, done);
      }
      // Its spare is this taker's: the continuation runs before those of takers waiting on `starting`.
      const own = await boot;
      const sb = this.grab(own);
      if (sb) return sb;
      // Its spare died at once. A workspace's process stays bound and boots the next; a build
      // check's is bound to nothing and would be left running.
      if (workspace === null) own.kill();
    }
  }

  /** A booted process from the pool, if one is ready (dead or spare-less ones are dropped). */
  private takeReady(): HostProcess | undefined {
    let host: HostProcess | undefined;
    while ((host = this.ready.shift()) !== undefined && (host.dead || !host.spare)) host.kill();
    return host;
  }

  /**
   * After a specialisation: refill the pool, and give the sandbox's workspace its spare back (at
   * nice 10, so the boot does not compete with the instance's first requests).
   */
  settle(sandbox: Sandbox): void {
    this.fill();
    const host = sandbox.host;
    const ws = host.workspace;
    if (this.closed || ws === null || host.dead || host.freeSlots === 0 || host.assigned === 0) return;
    if (this.hostsOf(ws).some((h) => h.spare !== null || h.spareBoot !== null)) return;
    this.track(
      this.bootSpare(host).catch((e: unknown) => {
        // A boot cut short by shutdown, or by its process's retirement (the workspace's last
        // function deleted or unloaded, its load failed), is no fault worth a warning: one was
        // logged at every delete.
        if (!this.closed && !host.ending)
          this.log({ level: 'warn', msg: 'spare sandbox boot failed', workspace: ws, error: String(e) });
      }),
    );
  }

  /** No more boots from now on: the runtime is stopping its instances (and so their processes). */
  closing(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const wake of this.poolWaiters.splice(0)) wake();
  }

  async close(): Promise<void> {
    this.closing();
    await Promise.allSettled([...this.inFlight]);
    this.ready = [];
    this.bound.clear();
    await Promise.all([...this.hosts].map((h) => h.stop()));
  }
}
