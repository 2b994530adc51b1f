// The host's end of the parent channel (fd 3, a socketpair): blocking reads and writes of frames.
// Blocking is the point: the host runs one thing at a time, and a KV call made from inside a
// guest request must wait for the parent's answer without an event loop turn.

import fs from 'node:fs';
import { FRAME_PREFIX, type Frame, type Header, decodeFrame, encodeFrame, frameLength } from '../protocol.js';

// Captured now: the lockdown later replaces the fs module's functions with deniers.
const readSync = fs.readSync;
const writeSync = fs.writeSync;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class SyncChannel {
  /**
   * Bytes read ahead of the current frame. One read usually brings a whole request, or two when
   * the parent pipelines; reading the 8-byte prefix and the rest separately cost a syscall more.
   */
  private buf = new Uint8Array(64 * 1024);
  private start = 0;
  private end = 0;

  constructor(private readonly fd: number) {}

  /** Ensure `n` bytes from `start` are buffered; false at end of stream. */
  private fill(n: number): boolean {
    if (this.end - this.start >= n) return true;
    if (this.buf.length - this.start < n) {
      // Compact, and grow for a frame larger than the buffer (a big request body).
      const next = n > this.buf.length ? new Uint8Array(n) : this.buf;
      next.set(this.buf.subarray(this.start, this.end), 0);
      this.end -= this.start;
      this.start = 0;
      this.buf = next;
    }
    while (this.end - this.start < n) {
      let got: number;
      try {
        got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      } catch (e) {
        // A non-blocking fd would answer EAGAIN; nap briefly instead of spinning the core.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(sleeper, 0, 0, 1);
          continue;
        }
        throw e;
      }
      if (got === 0) return false;
      this.end += got;
    }
    return true;
  }

  /** The next frame's raw bytes (a copy), or null when the parent has closed the channel. */
  readRaw(): Uint8Array | null {
    if (!this.fill(FRAME_PREFIX)) return null;
    const total = frameLength(this.buf.subarray(this.start, this.end));
    if (!this.fill(total)) return null;
    const whole = this.buf.slice(this.start, this.start + total);
    this.start += total;
    if (this.start === this.end) this.start = this.end = 0;
    // A large frame grew the buffer; do not keep megabytes around for the rest of the host's life.
    if (this.start === 0 && this.end === 0 && this.buf.length > 64 * 1024)
      this.buf = new Uint8Array(64 * 1024);
    return whole;
  }

  read(): Frame | null {
    const raw = this.readRaw();
    return raw === null ? null : decodeFrame(raw);
  }

  writeRaw(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      try {
        off += writeSync(this.fd, bytes, off, bytes.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(sleeper, 0, 0, 1);
          continue;
        }
        throw e;
      }
    }
  }

  write(header: Header, body?: Uint8Array): void {
    this.writeRaw(encodeFrame(header, body));
  }
}
