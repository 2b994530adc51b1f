// Zips for the build tests, made with yazl, plus byte-level patches that forge what yazl refuses
// to write (zip-slip names, lying size headers): an attacker's zip is not made by a polite tool.

import { Readable } from 'node:stream';
import { ZipFile } from 'yazl';

export interface ZipEntrySpec {
  name: string;
  /** Bytes, or a byte count of zeros streamed without ever being held in memory. */
  data: Uint8Array | string | { zeros: number };
  /** Unix mode, e.g. 0o120777 for a symlink. */
  mode?: number;
  compress?: boolean;
}

function zeroStream(total: number): Readable {
  const chunk = Buffer.alloc(1024 * 1024);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

export async function makeZip(entries: ZipEntrySpec[]): Promise<Buffer> {
  const zip = new ZipFile();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
  for (const e of entries) {
    const options = { mode: e.mode ?? 0o100644, compress: e.compress ?? true };
    if (typeof e.data === 'object' && 'zeros' in e.data) {
      zip.addReadStream(zeroStream(e.data.zeros), e.name, options);
    } else {
      const bytes = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : Buffer.from(e.data);
      zip.addBuffer(bytes, e.name, options);
    }
  }
  zip.end();
  return done;
}

/** Replaces every occurrence of a name (local header and central directory) by one of equal length. */
export function patchName(zip: Buffer, from: string, to: string): Buffer {
  const a = Buffer.from(from, 'latin1');
  const b = Buffer.from(to, 'latin1');
  if (a.length !== b.length) throw new Error('patchName needs names of equal length');
  const out = Buffer.from(zip);
  let at = out.indexOf(a);
  let count = 0;
  while (at !== -1) {
    b.copy(out, at);
    count++;
    at = out.indexOf(a, at + a.length);
  }
  if (count === 0) throw new Error(`name ${from} not found in zip`);
  return out;
}

/** Makes the central directory declare `size` uncompressed bytes for every entry (a lying header). */
export function patchDeclaredSize(zip: Buffer, size: number): Buffer {
  const out = Buffer.from(zip);
  const sig = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  let at = out.indexOf(sig);
  if (at === -1) throw new Error('no central directory entry');
  while (at !== -1) {
    out.writeUInt32LE(size, at + 24);
    at = out.indexOf(sig, at + 4);
  }
  return out;
}
