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
  constructor(private readonly fd: number) {}

  private readExact(n: number): Uint8Array | null {
    const buf = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      let got: number;
      try {
        got = readSync(this.fd, buf, off, n - off, null);
      } catch (e) {
        // A non-blocking fd would answer EAGAIN; nap briefly instead of spinning the core.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(sleeper, 0, 0, 1);
          continue;
        }
        throw e;
      }
      if (got === 0) return null;
      off += got;
    }
    return buf;
  }

  /** The next frame's raw bytes, or null when the parent has closed the channel. */
  readRaw(): Uint8Array | null {
    const prefix = this.readExact(FRAME_PREFIX);
    if (prefix === null) return null;
    const total = frameLength(prefix);
    const rest = this.readExact(total - FRAME_PREFIX);
    if (rest === null) return null;
    const whole = new Uint8Array(total);
    whole.set(prefix, 0);
    whole.set(rest, FRAME_PREFIX);
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
