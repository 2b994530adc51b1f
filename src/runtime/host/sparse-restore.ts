// Restores the memory snapshot without touching pages that are zero in it. Pyodide copies the
// whole snapshot into a fresh WebAssembly memory with `HEAP8.set(snapshot)`; about half of those
// 4 KiB pages are zero, and writing zeros still makes the kernel back them with real memory.
// Skipping them keeps ~16 MB per instance off the RSS. A fresh memory reads as zero, but static
// data may already sit where the snapshot has zeros, so such pages are cleared explicitly.

const PAGE = 4096;
const WORDS = PAGE / 4;

function zeroWords(words: Uint32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (words[i] !== 0) return false;
  return true;
}

function sparseCopy(dst: Int8Array, src: Uint8Array): void {
  const out = new Uint8Array(dst.buffer, dst.byteOffset, dst.length);
  const s32 = new Uint32Array(src.buffer, src.byteOffset, src.length >>> 2);
  const d32 = new Uint32Array(dst.buffer, dst.byteOffset, dst.length >>> 2);
  const whole = (src.length >>> 2) << 2;
  for (let p = 0; p < whole; p += PAGE) {
    const end = Math.min(whole, p + PAGE);
    const w0 = p >>> 2;
    const w1 = w0 + ((end - p) >>> 2);
    if (!zeroWords(s32, w0, w1)) out.set(src.subarray(p, end), p);
    else if (!zeroWords(d32, w0, Math.min(w1, w0 + WORDS))) out.fill(0, p, end);
  }
  if (whole < src.length) out.set(src.subarray(whole), whole);
}

/** Runs `boot` with Int8Array#set taught to copy `snapshot` sparsely; restores it afterwards. */
export async function withSparseRestore<T>(snapshot: Uint8Array, boot: () => Promise<T>): Promise<T> {
  const proto = Int8Array.prototype as unknown as { set: (src: ArrayLike<number>, offset?: number) => void };
  const original = proto.set;
  proto.set = function sparseAwareSet(this: Int8Array, src: ArrayLike<number>, offset?: number): void {
    const aligned = src instanceof Uint8Array && src.byteOffset % 4 === 0 && this.byteOffset % 4 === 0;
    if (aligned && src.buffer === snapshot.buffer && (offset ?? 0) === 0 && src.length <= this.length) {
      sparseCopy(this, src);
      return;
    }
    original.call(this, src, offset);
  };
  try {
    return await boot();
  } finally {
    proto.set = original;
  }
}
