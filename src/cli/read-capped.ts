// Reads a file the user named, but never more than a cap: a pipe or a device has no size to check
// first (stat() says 0), and `eunha deploy <(head -c 100M /dev/zero)` read it all (~1 GB of
// memory) before anything refused it. Reading stops one chunk past the cap, whatever the file is.

import { open } from 'node:fs/promises';

/** The file's bytes, or undefined when it holds more than `max`. */
export async function readCapped(path: string, max: number): Promise<Buffer | undefined> {
  const file = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // A fresh buffer each time: the chunks are kept.
      const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, max + 1 - total));
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > max) return undefined;
    }
  } finally {
    await file.close();
  }
}
