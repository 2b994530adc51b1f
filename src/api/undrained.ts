// Answers a client has not read, bounded. Node keeps what the kernel would not take of a response
// in memory until the client reads it, so 300 connections that asked for a 6 MiB answer and never
// read held 1.2 GB until their 16-minute timeout. Every response is watched from the moment it is
// fully written: what is still unsent counts against a budget. Over the budget, answers that have
// waited at least a second without their client reading a byte are cut off, oldest first (a
// client that reads, however large its answer, is left alone); and an answer whose client has
// read nothing for the deadline is cut off whatever the budget (a slow reader that keeps reading
// is not). Live tails, which never finish, bound themselves
// (observability/live-tail.ts).

import type { ServerResponse } from 'node:http';

export interface UndrainedLimits {
  /** Unsent response bytes held for all clients together before stalled ones are cut off. */
  budgetBytes: number;
  /** How long a client may read nothing of its answer. */
  deadlineMs: number;
  /** Over the budget, a client that has read nothing for this long counts as stalled (1 s). */
  stalledMs?: number;
}

interface Held {
  /** Bytes of the answer Node still holds when last looked at (all of a chunk until it is sent). */
  bytes: number;
  /** Bytes libuv had yet to hand to the kernel then: this moves as the client reads. */
  queued: number;
  /** When the client last read something (or the answer was written). */
  progressAt: number;
  release: () => void;
}

export class UndrainedResponses {
  private readonly held = new Map<ServerResponse, Held>();
  private total = 0;
  private cut = 0;

  constructor(private readonly limits: UndrainedLimits) {}

  /** Call once per response, before it is sent. */
  watch(res: ServerResponse): void {
    // 'prefinish': the whole response has been handed to the socket; what the kernel has not
    // taken yet is the socket's writable length.
    res.once('prefinish', () => this.hold(res));
  }

  /** Bytes held (as last looked at), and answers cut off so far. */
  stats(): { heldBytes: number; cut: number } {
    return { heldBytes: this.total, cut: this.cut };
  }

  private hold(res: ServerResponse): void {
    const bytes = res.socket?.writableLength ?? 0;
    if (bytes === 0 || res.destroyed) return;
    let timer: NodeJS.Timeout;
    // At the deadline: cut off if nothing was read since the last look, else look again later.
    const check = (): void => {
      const entry = this.held.get(res);
      if (!entry) return;
      if (this.refresh(res, entry, Date.now())) arm();
      else this.cutOff(res);
    };
    const arm = (): void => {
      timer = setTimeout(check, this.limits.deadlineMs);
      timer.unref();
    };
    arm();
    const release = (): void => {
      const entry = this.held.get(res);
      if (!entry) return;
      this.held.delete(res);
      clearTimeout(timer);
      this.total -= entry.bytes;
    };
    res.once('finish', release);
    res.once('close', release);
    this.held.set(res, { bytes, queued: queuedOf(res), progressAt: Date.now(), release });
    this.total += bytes;
    if (this.total > this.limits.budgetBytes) this.cutStalled();
  }

  /** Brings every answer's count up to date, then cuts stalled ones, oldest first, down to the budget. */
  private cutStalled(): void {
    const now = Date.now();
    for (const [res, entry] of this.held) this.refresh(res, entry, now);
    for (const [res, entry] of this.held) {
      if (this.total <= this.limits.budgetBytes) return;
      if (now - entry.progressAt >= (this.limits.stalledMs ?? 1000)) this.cutOff(res);
    }
  }

  /** Brings the answer's count up to date; whether its client read anything since the last look. */
  private refresh(res: ServerResponse, entry: Held, now: number): boolean {
    const left = res.socket?.writableLength ?? 0;
    const queued = queuedOf(res);
    const moved = left < entry.bytes || queued < entry.queued;
    this.total += left - entry.bytes;
    entry.bytes = left;
    entry.queued = queued;
    if (moved) entry.progressAt = now;
    return moved;
  }

  private cutOff(res: ServerResponse): void {
    const entry = this.held.get(res);
    if (!entry) return;
    entry.release();
    this.cut++;
    res.destroy();
  }
}

/**
 * How much of the answer the kernel has yet to take. A socket's writable length drops only when a
 * whole chunk has been sent, and an answer is one chunk; libuv's write queue shrinks as the kernel
 * takes each part (`writeQueueSize`, on the socket's handle), so that shows a slow reader reading.
 */
function queuedOf(res: ServerResponse): number {
  const socket = res.socket as (ServerResponse['socket'] & { _handle?: { writeQueueSize?: number } }) | null;
  return socket?._handle?.writeQueueSize ?? socket?.writableLength ?? 0;
}
