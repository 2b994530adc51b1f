// The wire format between the runtime (parent) and a sandbox host process, and between the host
// and the guest's /dev/eunha device: one frame = u32 header length, u32 body length, a UTF-8 JSON
// header, then raw body bytes. Only plain data crosses: no handles, no objects, no code.

export const FRAME_PREFIX = 8;

/**
 * The descriptors a host process inherits: its control channel (start/kill a sandbox, exit
 * reports), the memory snapshot, and from FIRST_SLOT_FD on one channel per sandbox slot.
 */
export const CONTROL_FD = 3;
export const SNAPSHOT_FD = 4;
export const FIRST_SLOT_FD = 5;
/** Hard cap on one frame, so a hostile host cannot make the parent buffer without end. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/**
 * Cap on the JSON header of a frame from a host, which the parent parses whole on its main
 * thread: the largest honest one (64 KiB of printed lines, escaped, beside capped headers and
 * messages) is well under it. Frames the other way are the parent's own (a key-value listing can
 * be larger), so only the parent's readers apply it.
 */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;

export type Header = { t: string } & Record<string, unknown>;

/**
 * Frames a guest writes that its host relays to the parent as they are (a key-value call, an
 * outbound HTTP request); the parent answers each with a `reply` frame.
 */
export const RELAYED: ReadonlySet<string> = new Set(['kv', 'http']);

export interface Frame {
  header: Header;
  body: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeFrame(header: Header, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(FRAME_PREFIX + h.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, h.length, true);
  view.setUint32(4, body.length, true);
  out.set(h, FRAME_PREFIX);
  out.set(body, FRAME_PREFIX + h.length);
  return out;
}

/** Total length of the frame starting at `buf[0]`, or -1 if the prefix is not complete yet. */
export function frameLength(buf: Uint8Array, maxHeaderBytes = Number.POSITIVE_INFINITY): number {
  if (buf.length < FRAME_PREFIX) return -1;
  const view = new DataView(buf.buffer, buf.byteOffset, FRAME_PREFIX);
  const headerBytes = view.getUint32(0, true);
  if (headerBytes > maxHeaderBytes) throw new Error(`frame header of ${headerBytes} bytes exceeds the cap`);
  const total = FRAME_PREFIX + headerBytes + view.getUint32(4, true);
  if (total > MAX_FRAME_BYTES) throw new Error(`frame of ${total} bytes exceeds the cap`);
  return total;
}

export function decodeFrame(buf: Uint8Array): Frame {
  const view = new DataView(buf.buffer, buf.byteOffset, FRAME_PREFIX);
  const hLen = view.getUint32(0, true);
  const bLen = view.getUint32(4, true);
  const raw: unknown = JSON.parse(decoder.decode(buf.subarray(FRAME_PREFIX, FRAME_PREFIX + hLen)));
  if (typeof raw !== 'object' || raw === null || typeof (raw as { t?: unknown }).t !== 'string') {
    throw new Error('frame header is not an object with a type');
  }
  const body = buf.subarray(FRAME_PREFIX + hLen, FRAME_PREFIX + hLen + bLen);
  return { header: raw as Header, body };
}

/**
 * Accumulates stream chunks and yields complete frames (used on the async, parent side). A frame
 * larger than one socket read (the 30 MB snapshot arrives in 64 KiB chunks) is joined once, when
 * its last byte is in: joining on every chunk copied ~7 GB for one snapshot.
 */
export class FrameReader {
  /** @param maxHeaderBytes past it a frame is refused at its prefix (MAX_HEADER_BYTES for a host's). */
  constructor(private readonly maxHeaderBytes = Number.POSITIVE_INFINITY) {}

  private chunks: Buffer[] = [];
  private size = 0;
  /** Length of the frame at the head of the buffer, once its prefix has arrived. */
  private need = -1;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.need < 0 && this.size >= FRAME_PREFIX)
      this.need = frameLength(this.joined(), this.maxHeaderBytes);
    if (this.need < 0 || this.size < this.need) return [];
    const out: Frame[] = [];
    let buf = this.joined();
    for (;;) {
      const len = frameLength(buf, this.maxHeaderBytes);
      if (len < 0 || buf.length < len) break;
      // Copy the body out so the frame does not pin the whole chunk.
      const f = decodeFrame(buf.subarray(0, len));
      out.push({ header: f.header, body: new Uint8Array(f.body) });
      buf = buf.subarray(len);
    }
    this.chunks = buf.length > 0 ? [buf] : [];
    this.size = buf.length;
    this.need = buf.length >= FRAME_PREFIX ? frameLength(buf, this.maxHeaderBytes) : -1;
    return out;
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0]!;
  }
}
