// The parent's handle on one sandbox host process: spawning it with the isolation layers and a
// fixed number of slots (a channel each, inherited from fd 5 on), starting a sandbox (a worker
// thread) in the next free slot and killing one, over the control channel on fd 3; RSS reading;
// noticing death. A process holds the sandboxes of one workspace only (warm-pool.ts binds it).

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setPriority } from 'node:os';
import {
  CONTROL_FD,
  FIRST_SLOT_FD,
  FrameReader,
  MAX_HEADER_BYTES,
  encodeFrame,
  type Header,
} from './protocol.js';
import { HOST_NODE_FLAGS, hostCommand, type Isolation } from './isolation.js';
import { Sandbox, type HostExit } from './sandbox.js';

export { HostDiedError, Sandbox, type HostExit, type CallHandler } from './sandbox.js';

const PAGE = 4096;
/**
 * Background boots run at this nice value, and `promote()` finds the booted sandbox by it, so no
 * other nice value a sandbox gives itself (design note 008) may equal it.
 */
export const BOOT_NICE = 10;
/** A sandbox told to die that has not ended by then takes its whole process with it. */
const KILL_FALLBACK_MS = 2000;
/**
 * The host's whole environment: nothing of ours, one malloc setting. Allocations of 128 KiB and
 * up get their own mappings, so the boot's large buffers (the snapshot, the wasm file) go back to
 * the kernel when freed instead of staying in the heap: about 10 MB less per sandbox.
 */
export const HOST_ENV: Readonly<Record<string, string>> = Object.freeze({
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072',
});

export class HostProcess {
  readonly pid: number;
  readonly exited: Promise<HostExit>;
  dead = false;
  /** Ended on purpose (kill or stop): what fails in it from then on is no fault. */
  ending = false;
  /** The workspace whose sandboxes this process holds; null while it waits in the pool. */
  workspace: string | null = null;
  /** A booted sandbox that no instance has taken yet, and the boot of the next one. */
  spare: Sandbox | null = null;
  spareBoot: Promise<Sandbox> | null = null;
  /** Sandboxes handed out (taken as spares) and not ended: when none is left, the process retires. */
  assigned = 0;
  private readonly child: ChildProcess;
  private readonly control: Socket;
  private readonly reader = new FrameReader(MAX_HEADER_BYTES);
  private readonly sandboxes = new Map<number, Sandbox>();
  /** Exit codes of ended sandboxes by slot, as the host reported them. */
  private readonly exitCodes = new Map<number, number>();
  /** Kill fallbacks armed by killSlot, disarmed by the host's report that the thread ended. */
  private readonly killFallbacks = new Map<number, NodeJS.Timeout>();
  /** Slots are used once, in order: a slot's channel may hold stale bytes of its last sandbox. */
  private nextSlot = 0;
  private stderrTail = '';
  /** Takers waiting for this process's boots (hurry()). */
  private hurried = 0;
  /** No more sandboxes start here (seal()). */
  private sealed = false;

  private constructor(
    child: ChildProcess,
    readonly slots: number,
    /** Isolation.bootsNiced: without it `lower()` and `promote()` do nothing. */
    private readonly niced: boolean,
  ) {
    this.child = child;
    this.pid = child.pid ?? -1;
    this.control = child.stdio[CONTROL_FD] as Socket;
    this.control.on('data', (chunk: Buffer) => this.onControl(chunk));
    this.control.on('error', () => undefined);
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      const died = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.dead) return;
        this.dead = true;
        for (const t of this.killFallbacks.values()) clearTimeout(t);
        for (const sb of this.sandboxes.values()) sb.processDied({ code, signal });
        // Slots never started still hold an open socket each.
        for (let slot = this.nextSlot; slot < this.slots; slot++)
          (child.stdio[FIRST_SLOT_FD + slot] as Socket | null)?.destroy();
        resolve({ code, signal });
      };
      child.on('exit', died);
      // A spawn that fails (e.g. a missing binary) reports 'error' and may never 'exit'.
      child.on('error', (e) => {
        this.stderrTail += `\nspawn failed: ${e.message}`;
        died(null, null);
      });
    });
  }

  /**
   * Spawn a host with `slots` sandbox slots. `snapshotPath` is opened here and inherited as fd 4,
   * so the host needs no read access to it.
   */
  static spawn(iso: Isolation, slots: number, snapshotPath?: string, background = true): HostProcess {
    const snapFd = snapshotPath === undefined ? 'ignore' : openSync(snapshotPath, 'r');
    try {
      const cmd = hostCommand(iso, HOST_NODE_FLAGS);
      const child = spawn(cmd.command, cmd.args, {
        env: HOST_ENV,
        cwd: iso.cwd,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', snapFd, ...Array<'pipe'>(slots).fill('pipe')],
        detached: false,
      });
      const host = new HostProcess(child, slots, iso.bootsNiced);
      // Boots are background work: the main thread runs at nice 10, and every sandbox thread it
      // starts inherits that; `promote()` gives a sandbox normal priority when an instance takes
      // it. So boots yield the CPU to requests in their own process too. A boot someone waits for
      // (`background` false) starts at normal priority; `lower()` follows once it is booted. Where
      // nice values cannot be lowered (not root), all of this is skipped.
      if (background) host.lower();
      return host;
    } finally {
      if (typeof snapFd === 'number') closeSync(snapFd);
    }
  }

  get stderr(): string {
    return this.stderrTail;
  }

  get freeSlots(): number {
    return this.dead || this.sealed ? 0 : this.slots - this.nextSlot;
  }

  /** A boot here hung: the process keeps the sandboxes it has and retires with them. */
  seal(): void {
    this.sealed = true;
  }

  /**
   * Start a sandbox in the next free slot. Its first frame is `ready` (or `snapshot` for
   * `{ makeSnapshot: true }`); read it with `next()`. Null when every slot has been used.
   */
  start(boot: { makeSnapshot?: boolean; noSnapshot?: boolean }): Sandbox | null {
    if (this.freeSlots === 0) return null;
    const slot = this.nextSlot++;
    const sb = new Sandbox(this, slot, this.child.stdio[FIRST_SLOT_FD + slot] as Socket);
    this.sandboxes.set(slot, sb);
    void sb.exited.then(() => this.sandboxes.delete(slot));
    this.sendControl({ t: 'start', slot, ...boot });
    return sb;
  }

  /**
   * Terminate the sandbox in `slot`; if its thread is not gone in time, the process goes. "Gone"
   * is the host's exit report for the slot, not the slot's channel closing (which the caller does
   * at once): a thread inside native code (a key derivation) ignores terminate() until it returns,
   * and used to run on, unseen, for the life of its process.
   */
  killSlot(slot: number): void {
    this.sendControl({ t: 'kill', slot });
    if (this.exitCodes.has(slot) || this.killFallbacks.has(slot) || this.dead) return;
    this.killFallbacks.set(
      slot,
      setTimeout(() => this.kill(), KILL_FALLBACK_MS),
    );
  }

  exitCodeOf(slot: number): number | undefined {
    return this.exitCodes.get(slot);
  }

  private sendControl(h: Header): void {
    if (!this.dead) this.control.write(encodeFrame(h));
  }

  private onControl(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch {
      this.kill();
      return;
    }
    for (const { header } of frames) {
      if (header.t === 'exit' && Number.isInteger(header.slot)) {
        const slot = Number(header.slot);
        this.exitCodes.set(slot, Number(header.code));
        clearTimeout(this.killFallbacks.get(slot));
        this.killFallbacks.delete(slot);
      }
    }
  }

  /**
   * Someone waits for this process's boots: the one under way gets normal priority, and so does
   * the main thread, so the sandboxes it starts meanwhile boot at 0 instead of BOOT_NICE. Call the
   * function returned once, when done waiting; the last waiter puts the main thread back.
   */
  hurry(): () => void {
    // A dead host's pid may already be someone else's.
    if (this.hurried++ === 0 && this.niced && !this.dead) {
      try {
        setPriority(this.pid, 0);
      } catch {
        // Already gone: its exit is reported as usual.
      }
    }
    this.promote();
    return () => {
      if (--this.hurried === 0) this.lower();
    };
  }

  /** BOOT_NICE for the main thread, so that the sandboxes it starts from now on boot at it. */
  lower(): void {
    if (!this.niced || this.dead) return;
    try {
      setPriority(this.pid, BOOT_NICE);
    } catch {
      // Already gone: its exit is reported as usual.
    }
  }

  /**
   * Normal priority for the sandbox just handed to an instance: the one thread besides the main
   * thread still at BOOT_NICE (one sandbox boots at a time per process; the jail has no /proc, so
   * the sandbox cannot name its own thread). Sandboxes that yielded (design note 008) have other
   * values and keep them. Best effort: a thread may be gone.
   */
  promote(): void {
    if (!this.niced || this.dead) return;
    try {
      for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
        if (Number(tid) === this.pid) continue;
        const stat = readFileSync(`/proc/${this.pid}/task/${tid}/stat`, 'utf8');
        // Field 19 is the nice value; fields are counted after the ")" that ends the name.
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === BOOT_NICE)
          setPriority(Number(tid), 0);
      }
    } catch {
      // The process or a thread is gone: scheduling stays as it was.
    }
  }

  rssBytes(): number {
    try {
      const statm = readFileSync(`/proc/${this.pid}/statm`, 'utf8').split(' ');
      return Number(statm[1]) * PAGE;
    } catch {
      return 0;
    }
  }

  kill(): void {
    this.ending = true;
    if (!this.dead) this.child.kill('SIGKILL');
  }

  /**
   * Ask politely, then kill. Each sandbox's channel is closed first: a sandbox waiting for its
   * next frame is blocked in a read, which only the end of its channel wakes (a thread cannot be
   * terminated out of a system call). Then the control channel: the host ends what is left and exits.
   */
  async stop(): Promise<void> {
    this.ending = true;
    if (this.dead) return;
    for (const sb of this.sandboxes.values()) void sb.stop();
    this.control.end();
    const t = setTimeout(() => this.kill(), 1000);
    await this.exited;
    clearTimeout(t);
  }
}
