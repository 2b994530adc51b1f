// Admission of build uploads: how many forms are read at once, by one caller and in all, and who
// waits for a place (api/upload-form.ts reads the form once it has one).

import type { IncomingMessage } from 'node:http';
import { EunhaError } from '../core/errors.js';
import { KeyedCount } from '../core/keyed-count.js';

/**
 * Uploads read at once, by one caller and in all. A form is held in memory until it is whole (up
 * to the source cap, 10 MiB): a review's 60 uploads that stopped short of their end held 530 MB,
 * and at the rate limit one key could have held ~12 GB for the request timeout. An upload past
 * either count waits, unread (its bytes stay in the kernel's buffers), for up to UPLOAD_WAIT_MS;
 * one that is read must arrive whole within upload-form.ts's UPLOAD_READ_MS, so that slow senders
 * cannot keep the slots from everyone else.
 */
export const UPLOADS_PER_CALLER = 4;

export const UPLOADS_IN_ALL = 16;
export const UPLOAD_WAIT_MS = 10_000;

export const callerGone = (): EunhaError =>
  new EunhaError('CLIENT_CLOSED', 'the caller closed the connection before its upload arrived', {});

export class UploadSlots {
  constructor(private readonly waitMs: number) {}

  private readonly perCaller = new KeyedCount();
  private total = 0;
  private readonly waiting: Array<{ caller: string; grant: (release: () => void) => void }> = [];

  /**
   * A slot for this caller, once one is free; RATE_LIMITED after the wait. A caller that goes
   * away while it waits leaves the line (a slot handed to it would sit idle until the read
   * deadline, keeping its own retry out).
   */
  take(caller: string, request: IncomingMessage): Promise<() => void> {
    if (this.fits(caller)) return Promise.resolve(this.hold(caller));
    // Gone already: its 'close' has been and will not come again.
    if (request.destroyed) return Promise.reject(callerGone());
    return new Promise((resolve, reject) => {
      const leave = (err: EunhaError) => {
        clearTimeout(timer);
        request.off('close', gone);
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(err);
      };
      const gone = () => leave(callerGone());
      const entry = {
        caller,
        grant: (release: () => void) => {
          clearTimeout(timer);
          request.off('close', gone);
          resolve(release);
        },
      };
      const timer = setTimeout(() => leave(this.busy(caller)), this.waitMs);
      request.once('close', gone);
      this.waiting.push(entry);
    });
  }

  /** Counts the slot at once, also for a waiter it is handed to (before that one resumes). */
  private hold(caller: string): () => void {
    const release = this.perCaller.take(caller);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      this.total--;
      // The first waiter that fits now (another caller's may, when this one is at its own cap).
      const next = this.waiting.findIndex((w) => this.fits(w.caller));
      if (next >= 0) {
        const [w] = this.waiting.splice(next, 1);
        w!.grant(this.hold(w!.caller));
      }
    };
  }

  private fits(caller: string): boolean {
    return this.perCaller.count(caller) < UPLOADS_PER_CALLER && this.total < UPLOADS_IN_ALL;
  }

  private busy(caller: string): EunhaError {
    const mine = this.perCaller.count(caller) >= UPLOADS_PER_CALLER;
    return new EunhaError(
      'RATE_LIMITED',
      mine
        ? `${UPLOADS_PER_CALLER} uploads of this caller were still arriving after ${this.waitMs / 1000} s; send this one when one has finished`
        : `${UPLOADS_IN_ALL} uploads were arriving at once for ${this.waitMs / 1000} s; retry in a moment`,
      { limit: mine ? UPLOADS_PER_CALLER : UPLOADS_IN_ALL, retryAfterSeconds: 1 },
      { 'retry-after': '1' },
    );
  }
}
