// The parent's handle on one sandbox host process: spawning it with the isolation layers, the
// async end of the fd-3 frame channel, request/answer pairing in order (a host does one thing at
// a time, but the next request may already wait in its channel), relaying the guest's KV calls,
// RSS reading, and noticing death.

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setPriority } from 'node:os';
import { FrameReader, encodeFrame, type Frame, type Header } from './protocol.js';
import { HOST_NODE_FLAGS, hostCommand, type Isolation } from './isolation.js';

export type KvHandler = (header: Header, body: Uint8Array) => Promise<{ header: Header; body?: Uint8Array }>;

export interface HostExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const PAGE = 4096;
/** After the process exits, how long to wait for the end of its channel before giving up on it. */
const DRAIN_WAIT_MS = 250;
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
  /** Set by whoever owns the host; KV frames from the guest are answered through it. */
  onKv: KvHandler | null = null;
  /**
   * The output the running request had printed when it hit its deadline (the host sends it then,
   * in case the guest swallows the interrupt and the process has to be killed). Unchecked.
   */
  partial: Header | null = null;
  private readonly child: ChildProcess;
  private readonly sock: Socket;
  private readonly reader = new FrameReader();
  /** Requests written and not yet answered, oldest first; the host answers them in order. */
  private readonly waiters: { resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  private stderrTail = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    this.pid = child.pid ?? -1;
    this.sock = child.stdio[3] as Socket;
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', () => undefined);
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    // EOF on the channel: everything the host wrote before it died has been read.
    const drained = new Promise<void>((resolve) => {
      this.sock.once('end', resolve);
      this.sock.once('close', resolve);
    });
    this.exited = new Promise((resolve) => {
      const died = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.dead) return;
        this.dead = true;
        // The exit can be seen before the answers the host wrote just before it: read those
        // first, so that "running when it died" means the oldest request truly unanswered.
        const grace = new Promise<void>((r) => setTimeout(r, DRAIN_WAIT_MS).unref());
        void Promise.race([drained, grace]).then(() => {
          // Only the oldest request can have been running; the host never read the others.
          for (const [i, w] of this.waiters.splice(0).entries())
            w.reject(new HostDiedError(code, signal, this.stderrTail, i === 0));
          resolve({ code, signal });
        });
      };
      child.on('exit', died);
      // A spawn that fails (e.g. a missing binary) reports 'error' and may never 'exit'.
      child.on('error', (e) => {
        this.stderrTail += `\nspawn failed: ${e.message}`;
        died(null, null);
      });
    });
  }

  /** Spawn a host. `snapshotPath` is opened here and inherited as fd 4, so the host needs no read access to it. */
  static spawn(iso: Isolation, boot: Header, snapshotPath?: string): HostProcess {
    const snapFd = snapshotPath === undefined ? 'ignore' : openSync(snapshotPath, 'r');
    try {
      const cmd = hostCommand(iso, HOST_NODE_FLAGS);
      const child = spawn(cmd.command, cmd.args, {
        env: HOST_ENV,
        cwd: iso.cwd,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', snapFd],
        detached: false,
      });
      const host = new HostProcess(child);
      host.send(boot);
      return host;
    } finally {
      if (typeof snapFd === 'number') closeSync(snapFd);
    }
  }

  get stderr(): string {
    return this.stderrTail;
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch {
      this.kill();
      return;
    }
    for (const f of frames) {
      if (f.header.t === 'kv') {
        void this.relayKv(f);
      } else if (f.header.t === 'partial') {
        this.partial = f.header;
      } else {
        this.waiters.shift()?.resolve(f);
      }
    }
  }

  private async relayKv(f: Frame): Promise<void> {
    let reply: { header: Header; body?: Uint8Array };
    try {
      if (this.onKv === null) throw new Error('no key-value access in this state');
      reply = await this.onKv(f.header, f.body);
    } catch (e) {
      reply = {
        header: {
          t: 'kv-reply',
          ok: false,
          error: 'other',
          message: e instanceof Error ? e.message : String(e),
        },
      };
    }
    if (!this.dead) this.sock.write(encodeFrame(reply.header, reply.body));
  }

  send(header: Header, body?: Uint8Array): void {
    this.sock.write(encodeFrame(header, body));
  }

  /** The answer to the oldest unanswered frame (KV calls aside). Rejects with HostDiedError if the host dies. */
  next(): Promise<Frame> {
    if (this.dead) return Promise.reject(new HostDiedError(null, null, this.stderrTail, false));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
  }

  request(header: Header, body?: Uint8Array): Promise<Frame> {
    const p = this.next();
    this.send(header, body);
    return p;
  }

  /** Best effort: lowering a nice value back needs root, and a dead host has no priority. */
  setPriority(nice: number): void {
    try {
      setPriority(this.pid, nice);
    } catch {
      // Not permitted (not root) or already gone: scheduling stays as it was.
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
    if (!this.dead) this.child.kill('SIGKILL');
  }

  /** Ask politely (close the channel), then kill. */
  async stop(): Promise<void> {
    if (this.dead) return;
    this.sock.end();
    const t = setTimeout(() => this.kill(), 1000);
    await this.exited;
    clearTimeout(t);
  }
}

export class HostDiedError extends Error {
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
    /** False for a request that was still waiting in the channel: it never ran. */
    readonly started: boolean,
  ) {
    super(
      `sandbox host exited (code ${code}, signal ${signal})${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
    );
    this.name = 'HostDiedError';
  }
}
