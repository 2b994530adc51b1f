// Answers a client has not read, bounded. Node keeps what the kernel would not take of a response
// in memory until the client reads it, so 300 connections that asked for a 6 MiB answer and never
// read held 1.2 GB until their 16-minute timeout. Every response is watched from the moment it is
// fully written: what is still unsent counts against a budget. Over the budget, answers that have
// waited at least a second without their client reading a byte are cut off, oldest first (a
// client that reads, however large its answer, is left alone); and an answer still unread after
// the deadline is cut off whatever the budget. Live tails, which never finish, bound themselves
// (observability/live-tail.ts).

import type { ServerResponse } from 'node:http';

export interface UndrainedLimits {
  /** Unsent response bytes held for all clients together before stalled ones are cut off. */
  budgetBytes: number;
  /** How long one answer may stay unread. */
  deadlineMs: number;
}

/** A client that has read nothing for this long counts as stalled. */
const STALLED_MS = 1000;

interface Held {
  /** Unsent bytes when last looked at. */
  bytes: number;
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
    const timer = setTimeout(() => this.cutOff(res), this.limits.deadlineMs);
    timer.unref();
    const release = (): void => {
      const entry = this.held.get(res);
      if (!entry) return;
      this.held.delete(res);
      clearTimeout(timer);
      this.total -= entry.bytes;
    };
    res.once('finish', release);
    res.once('close', release);
    this.held.set(res, { bytes, progressAt: Date.now(), release });
    this.total += bytes;
    if (this.total > this.limits.budgetBytes) this.cutStalled();
  }

  /** Brings every answer's count up to date, then cuts stalled ones, oldest first, down to the budget. */
  private cutStalled(): void {
    const now = Date.now();
    for (const [res, entry] of this.held) {
      const left = res.socket?.writableLength ?? 0;
      if (left < entry.bytes) {
        this.total -= entry.bytes - left;
        entry.bytes = left;
        entry.progressAt = now;
      }
    }
    for (const [res, entry] of this.held) {
      if (this.total <= this.limits.budgetBytes) return;
      if (now - entry.progressAt >= STALLED_MS) this.cutOff(res);
    }
  }

  private cutOff(res: ServerResponse): void {
    const entry = this.held.get(res);
    if (!entry) return;
    entry.release();
    this.cut++;
    res.destroy();
  }
}
