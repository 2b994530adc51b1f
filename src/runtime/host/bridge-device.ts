// /dev/eunha: the only door between guest Python and the host. It is an Emscripten character
// device, so guest code talks to it with os.read/os.write on bytes, and no JavaScript object is
// ever handed to Python. The host queues a frame for the guest to read (a request, a load order,
// a reply); frames the guest writes are a call for the parent (key-value, outbound HTTP: relayed
// synchronously), a call the sandbox's thread serves itself (`local`: a sleep, a key
// derivation), or the final answer of the current step.

import { type Frame, MAX_HEADER_BYTES, RELAYED, decodeFrame, frameLength } from '../protocol.js';

/** Largest frame the guest may write: a 6 MiB response plus headers, with room to spare. */
const MAX_GUEST_FRAME = 8 * 1024 * 1024;
/** Emscripten's errno for EIO. */
const EIO = 29;

interface EmscriptenFS {
  ErrnoError: new (errno: number) => Error;
  makedev(major: number, minor: number): number;
  registerDevice(dev: number, ops: object): void;
  mkdev(path: string, dev: number): void;
}

export class BridgeDevice {
  private readable: Uint8Array = new Uint8Array(0);
  private readPos = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The last frame that is not a call the guest wrote during the current step. */
  answer: Frame | null = null;

  /**
   * @param relay sends a call to the parent and blocks for its answer.
   * @param local answers a call the sandbox's thread serves itself (the reply frame), or
   *   undefined when the frame is not such a call.
   */
  constructor(
    private readonly relay: (raw: Uint8Array) => Uint8Array,
    private readonly local: (frame: Frame) => Uint8Array | undefined,
  ) {}

  install(FS: EmscriptenFS): void {
    const dev = FS.makedev(64, 0);
    // Garbage from the guest must surface as an OSError in Python, never as a JS exception
    // unwinding through the interpreter (which Pyodide treats as fatal).
    const guard = (fn: () => number): number => {
      try {
        return fn();
      } catch {
        this.pending = [];
        this.pendingBytes = 0;
        throw new FS.ErrnoError(EIO);
      }
    };
    FS.registerDevice(dev, {
      open: () => undefined,
      close: () => undefined,
      read: (_s: unknown, buffer: Int8Array, offset: number, length: number) =>
        guard(() => this.onRead(buffer, offset, length)),
      write: (_s: unknown, buffer: Int8Array, offset: number, length: number) =>
        guard(() => this.onWrite(buffer, offset, length)),
    });
    FS.mkdev('/dev/eunha', dev);
  }

  /** Queue a frame for the guest to read next; resets any half-written guest frame. */
  offer(raw: Uint8Array): void {
    this.readable = raw;
    this.readPos = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.answer = null;
  }

  private onRead(buffer: Int8Array, offset: number, length: number): number {
    const n = Math.min(length, this.readable.length - this.readPos);
    if (n <= 0) return 0;
    new Uint8Array(buffer.buffer, buffer.byteOffset + offset, n).set(
      this.readable.subarray(this.readPos, this.readPos + n),
    );
    this.readPos += n;
    return n;
  }

  private onWrite(buffer: Int8Array, offset: number, length: number): number {
    this.pending.push(new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length).slice());
    this.pendingBytes += length;
    if (this.pendingBytes > MAX_GUEST_FRAME) throw new Error('bridge frame too large');
    let all = this.pending.length === 1 ? this.pending[0]! : concat(this.pending, this.pendingBytes);
    for (;;) {
      const len = frameLength(all);
      if (len < 0 || all.length < len) break;
      const raw = all.subarray(0, len);
      const frame = decodeFrame(raw);
      // A call for the parent goes on as it is, whose readers refuse a header past the cap by
      // ending the sandbox: refused here, it is an OSError the guest can catch. So is one nested
      // deeper than any call is: the parent parses it on its main thread, and 1.9 million
      // nested brackets held that thread ~0.5 s a call (a review).
      const relayed = RELAYED.has(frame.header.t);
      if (relayed && new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true) > MAX_HEADER_BYTES)
        throw new Error('call too large');
      if (relayed && nestedDeeperThan(frame.header, MAX_CALL_DEPTH)) throw new Error('call nested too deep');
      const reply = relayed ? this.relay(raw.slice()) : this.local(frame);
      if (reply) {
        this.readable = reply;
        this.readPos = 0;
      } else {
        this.answer = { header: frame.header, body: frame.body.slice() };
      }
      all = all.subarray(len);
    }
    this.pending = all.length > 0 ? [all.slice()] : [];
    this.pendingBytes = all.length;
    return length;
  }
}

/**
 * Calls are shallow: a key-value call is flat, an HTTP call holds one map of headers. (The API's
 * core/json-depth.ts does the same walk, but the host runs jailed to dist/src/runtime.)
 */
const MAX_CALL_DEPTH = 4;

function nestedDeeperThan(value: object, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
