// Pre-booted, not yet specialised sandbox hosts. Taking one costs nothing but the function's own
// import; the pool refills itself in the background, a few boots at a time (each boot is mostly
// one core's work for ~0.4 s). A host is never returned to the pool once it has run guest code.

import { HostProcess } from './host-process.js';
import type { Isolation } from './isolation.js';
import type { Logger } from './types.js';

export class WarmPool {
  private ready: HostProcess[] = [];
  private booting = 0;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly iso: Isolation,
    /** null: boot without a snapshot (a baseline for the bench, ~2.5 s a boot). */
    private readonly snapshot: Promise<string> | null,
    private target: number,
    private readonly concurrency: number,
    private readonly log: Logger,
  ) {}

  get stats(): { ready: number; booting: number; target: number } {
    return { ready: this.ready.length, booting: this.booting, target: this.target };
  }

  fill(): void {
    while (
      !this.closed &&
      this.ready.length + this.booting < this.target &&
      this.booting < this.concurrency
    ) {
      this.booting++;
      const p = this.boot(true)
        .then((h) => {
          if (this.closed) h.kill();
          else this.ready.push(h);
        })
        .catch((e: unknown) => this.log({ level: 'error', msg: 'sandbox boot failed', error: String(e) }))
        .finally(() => {
          this.booting--;
          // A failing boot must not turn into a hot loop; retry on the next take or timer.
          if (this.ready.length > 0) this.fill();
        });
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  /** Boot a host from the snapshot and wait until it says it is ready. */
  async boot(background = false): Promise<HostProcess> {
    const path = this.snapshot === null ? undefined : await this.snapshot;
    const host = HostProcess.spawn(this.iso, { t: 'boot', noSnapshot: path === undefined }, path);
    // Background boots yield the CPU to requests; taking the host restores normal priority.
    if (background) host.setPriority(10);
    const f = await host.next();
    if (f.header.t !== 'ready') {
      host.kill();
      throw new Error(`sandbox host did not boot: ${JSON.stringify(f.header).slice(0, 400)}`);
    }
    void host.exited.then(() => {
      const i = this.ready.indexOf(host);
      if (i >= 0) this.ready.splice(i, 1);
    });
    return host;
  }

  /**
   * A booted host: from the pool when one is ready, otherwise booted now. The caller refills the
   * pool (`fill()`) once it has specialised the host, so the refill boot does not compete with
   * the cold start it is hiding for the two cores.
   */
  async take(): Promise<{ host: HostProcess; pooled: boolean }> {
    let host: HostProcess | undefined;
    while ((host = this.ready.shift()) !== undefined && host.dead);
    if (host !== undefined) {
      host.setPriority(0);
      return { host, pooled: true };
    }
    return { host: await this.boot(), pooled: false };
  }

  setTarget(n: number): void {
    this.target = n;
    while (this.ready.length > n) this.ready.pop()?.kill();
    this.fill();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    const all = this.ready.splice(0);
    await Promise.all(all.map((h) => h.stop()));
  }
}
