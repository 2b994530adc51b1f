// The parent's handle on one sandbox (a worker thread in a host process, see host-process.ts):
// the async end of its frame channel, request/answer pairing in order (a sandbox does one thing
// at a time, but the next request may already wait in its channel), relaying the guest's calls
// to the parent (key-value, outbound HTTP), and noticing its end — its own, or its process's.

import type { Socket } from 'node:net';
import { FrameReader, MAX_HEADER_BYTES, RELAYED, encodeFrame, type Frame, type Header } from './protocol.js';
import type { HostProcess } from './host-process.js';

const NO_CALLS_WHILE_CHECKING =
  "the key-value store and outbound HTTP are not available while a build task checks the code's import: " +
  'use them inside handle_request, or deploy with POST /api/workspaces/{ws}/functions/{fn}/deployments, ' +
  "whose load has the function's store and settings";

/** Answers a guest's call to the parent (a frame of one of the RELAYED types) with a `reply` frame. */
export type CallHandler = (
  header: Header,
  body: Uint8Array,
) => Promise<{ header: Header; body?: Uint8Array }>;

export interface HostExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** After the process exits, how long to wait for the end of a channel before giving up on it. */
const DRAIN_WAIT_MS = 250;
/** After a channel ends, how long to wait for the host's report of the sandbox's exit code. */
const EXIT_REPORT_WAIT_MS = 50;

export class Sandbox {
  /** `<pid>.<slot>`: unique while the process lives. */
  readonly id: string;
  readonly exited: Promise<HostExit>;
  dead = false;
  /** Set by whoever owns the sandbox; the guest's key-value and HTTP calls are answered through it. */
  onCall: CallHandler | null = null;
  /**
   * The output the running request had printed when it hit its deadline (the sandbox sends it
   * then, in case the guest swallows the interrupt and has to be killed). Unchecked.
   */
  partial: Header | null = null;
  /** Called when the sandbox reports that it went over its memory (it is then to be killed). */
  onOverMemory: (() => void) | null = null;
  private readonly reader = new FrameReader(MAX_HEADER_BYTES);
  /** Requests written and not yet answered, oldest first; the sandbox answers them in order. */
  private readonly waiters: { resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  private ended!: (exit: HostExit) => void;
  private drained = false;
  private processExit: HostExit | null = null;

  constructor(
    readonly host: HostProcess,
    readonly slot: number,
    private readonly sock: Socket,
  ) {
    this.id = `${host.pid}.${slot}`;
    this.exited = new Promise((resolve) => (this.ended = resolve));
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', () => undefined);
    // EOF on the channel: the sandbox ended (the host closes the slot after it) and everything it
    // wrote has been read.
    sock.once('close', () => {
      this.drained = true;
      if (this.processExit) return this.finish(this.processExit);
      const code = this.host.exitCodeOf(slot);
      if (code !== undefined) return this.finish({ code, signal: null });
      setTimeout(
        () => this.finish(this.processExit ?? { code: this.host.exitCodeOf(slot) ?? null, signal: null }),
        EXIT_REPORT_WAIT_MS,
      );
    });
  }

  get pid(): number {
    return this.host.pid;
  }

  /** Called by the process handle when the whole process has exited. */
  processDied(exit: HostExit): void {
    this.processExit = exit;
    // The exit can be seen before the answers the sandbox wrote just before it: read those first,
    // so that "running when it died" means the oldest request truly unanswered.
    if (this.drained) this.finish(exit);
    else setTimeout(() => this.finish(exit), DRAIN_WAIT_MS).unref();
  }

  private finish(exit: HostExit): void {
    if (this.dead) return;
    this.dead = true;
    // Only the oldest request can have been running; the sandbox never read the others.
    for (const [i, w] of this.waiters.splice(0).entries())
      w.reject(new HostDiedError(exit.code, exit.signal, this.host.stderr, i === 0));
    this.sock.destroy();
    this.ended(exit);
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
      if (RELAYED.has(f.header.t as string)) {
        void this.relay(f);
      } else if (f.header.t === 'partial') {
        this.partial = f.header;
        if (f.header.overMemory === true) this.onOverMemory?.();
      } else {
        this.waiters.shift()?.resolve(f);
      }
    }
  }

  private async relay(f: Frame): Promise<void> {
    let reply: { header: Header; body?: Uint8Array };
    try {
      // Only a sandbox bound to a function answers calls: this is a build task's check, whose
      // module code runs without the function's store or outbound hosts. The bare "no calls to
      // the platform in this state" a review got told the user neither.
      if (this.onCall === null) throw new Error(NO_CALLS_WHILE_CHECKING);
      reply = await this.onCall(f.header, f.body);
    } catch (e) {
      reply = {
        header: {
          t: 'reply',
          ok: false,
          error: 'other',
          message: e instanceof Error ? e.message : String(e),
        },
      };
    }
    if (!this.dead) this.sock.write(encodeFrame(reply.header, reply.body));
  }

  send(header: Header, body?: Uint8Array): void {
    if (!this.dead) this.sock.write(encodeFrame(header, body));
  }

  /** The answer to the oldest unanswered frame (KV calls aside). Rejects with HostDiedError if the sandbox ends. */
  next(): Promise<Frame> {
    if (this.dead) return Promise.reject(new HostDiedError(null, null, this.host.stderr, false));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
  }

  request(header: Header, body?: Uint8Array): Promise<Frame> {
    const p = this.next();
    this.send(header, body);
    return p;
  }

  /**
   * The host terminates the thread; closing our end as well wakes a sandbox blocked in a read
   * (an idle one, or one waiting for a KV answer), which a thread termination alone cannot.
   */
  kill(): void {
    if (this.dead) return;
    this.host.killSlot(this.slot);
    this.sock.destroy();
  }

  /** Ask politely (close the channel: the sandbox reads EOF and ends), then kill. */
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
      `sandbox ended (code ${code}, signal ${signal})${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
    );
    this.name = 'HostDiedError';
  }
}
