// Safe reading of an uploaded zip, entirely in memory. A zip is hostile input: its names can climb
// out of the build folder (zip-slip) and its sizes can lie (zip bombs). Names are checked by
// paths.ts; sizes are capped three ways — entry count, total bytes and compression ratio — first
// on what the central directory declares (so a bomb is refused before anything is inflated) and
// then on the bytes actually inflated (so a lying header is stopped at the cap, not at the end).

import type { Readable } from 'node:stream';
import { fromBuffer, getFileNameLowLevel, type Entry, type ZipFile } from 'yauzl';
import { EunhaError, invalid } from '../core/errors.js';
import { MAX_CODE_BYTES } from '../runtime/validate.js';
import { checkFilePath } from './paths.js';

export interface ZipLimits {
  /** Entries in the central directory, folders included. */
  maxEntries: number;
  /** Total inflated bytes of every file together. */
  maxTotalBytes: number;
  /** Largest inflated / compressed ratio allowed for an entry above ratioFloorBytes. */
  maxRatio: number;
  /** Entries smaller than this are not ratio-checked: tiny files legitimately compress very well. */
  ratioFloorBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 1000,
  // What a function may load at all (runtime/validate.ts): a zip that inflates past it could only
  // fail later, after it was stored (it used to pass up to 50 MiB).
  maxTotalBytes: MAX_CODE_BYTES,
  maxRatio: 200,
  ratioFloorBytes: 1024 * 1024,
};

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const bad = (message: string, extra: Record<string, unknown> = {}): EunhaError =>
  invalid('file', message, extra);

const mib = (n: number): string => `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;

/** Archive clutter that is never part of an app: macOS resource forks and Finder metadata. */
function isClutter(name: string): boolean {
  return name.startsWith('__MACOSX/') || name === '.DS_Store' || name.endsWith('/.DS_Store');
}

/**
 * Reads every regular file of the zip into memory, keyed by its (checked) path. Throws
 * VALIDATION_ERROR with details.field 'file' and a message naming the problem for anything unsafe
 * or unreadable.
 */
export async function readZip(
  data: Uint8Array,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): Promise<Map<string, Uint8Array>> {
  const zip = await open(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  // A guard for errors emitted between our own listeners; each read below has its own listener.
  zip.on('error', () => undefined);
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw bad(`zip has ${zip.entryCount} entries; at most ${limits.maxEntries} are allowed`, {
        reason: 'too_many_entries',
      });
    }
    const files = new Map<string, Uint8Array>();
    let declaredTotal = 0;
    let inflatedTotal = 0;
    for (let entry = await nextEntry(zip); entry; entry = await nextEntry(zip)) {
      const name = entryName(entry);
      if (isClutter(name)) continue;
      checkKind(entry, name);
      const isFolder = name.endsWith('/');
      checkFilePath(isFolder ? name.slice(0, -1) : name);
      if (isFolder) continue;
      if (files.has(name)) throw bad(`zip contains ${JSON.stringify(name)} twice`, { path: name });

      declaredTotal += entry.uncompressedSize;
      if (declaredTotal > limits.maxTotalBytes) {
        throw bad(`zip expands to more than ${mib(limits.maxTotalBytes)}; refusing to unpack it`, {
          reason: 'too_large_uncompressed',
          path: name,
        });
      }
      const ratioCap = ratioCapOf(entry.compressedSize, limits);
      if (entry.uncompressedSize > ratioCap) {
        throw bad(
          `zip entry ${JSON.stringify(name)} is compressed more than ${limits.maxRatio}:1 ` +
            `(${mib(entry.uncompressedSize)} from ${entry.compressedSize} bytes); this looks like a zip bomb`,
          { reason: 'compression_ratio', path: name },
        );
      }
      const budget = Math.min(limits.maxTotalBytes - inflatedTotal, ratioCap);
      const bytes = await inflate(zip, entry, name, budget, limits);
      inflatedTotal += bytes.length;
      files.set(name, bytes);
    }
    return files;
  } finally {
    zip.close();
  }
}

function ratioCapOf(compressedSize: number, limits: ZipLimits): number {
  return Math.max(limits.ratioFloorBytes, compressedSize * limits.maxRatio);
}

function open(buffer: Buffer): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    fromBuffer(
      buffer,
      // decodeStrings off: names are decoded and judged by entryName/checkFilePath, so a zip-slip
      // attempt gets our message naming the rule, not yauzl's.
      { lazyEntries: true, decodeStrings: false, validateEntrySizes: true },
      (err, zip) => (err ? reject(translate(err)) : resolve(zip)),
    );
  });
}

function nextEntry(zip: ZipFile): Promise<Entry | null> {
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: Entry): void => {
      settle();
      resolve(entry);
    };
    const onEnd = (): void => {
      settle();
      resolve(null);
    };
    const onError = (err: Error): void => {
      settle();
      reject(translate(err));
    };
    zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
    zip.readEntry();
  });
}

/**
 * The entry's name as the zip means it: UTF-8 when flagged (or from the Info-ZIP Unicode path
 * field), CP437 otherwise. Backslashes are kept, so that checkFilePath refuses them rather than
 * treating them as folder separators.
 */
function entryName(entry: Entry): string {
  return getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
}

/** Symlinks, devices and encrypted or exotically compressed entries are refused, not skipped. */
function checkKind(entry: Entry, name: string): void {
  const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
  const type = mode & S_IFMT;
  if (type === S_IFLNK) throw bad(`zip entry ${JSON.stringify(name)} is a symbolic link`, { path: name });
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    throw bad(`zip entry ${JSON.stringify(name)} is not a regular file`, { path: name });
  }
  if (entry.isEncrypted()) throw bad(`zip entry ${JSON.stringify(name)} is encrypted`, { path: name });
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw bad(
      `zip entry ${JSON.stringify(name)} uses compression method ${entry.compressionMethod}; ` +
        'only stored and deflate are supported',
      { path: name },
    );
  }
}

/**
 * Inflates one entry, counting the bytes that really come out: the stream is destroyed as soon as
 * they pass `budget`, whatever the header said, so memory stays bounded by the caps.
 */
async function inflate(
  zip: ZipFile,
  entry: Entry,
  name: string,
  budget: number,
  limits: ZipLimits,
): Promise<Uint8Array> {
  let stream: Readable;
  try {
    stream = await zip.openReadStreamPromise(entry);
  } catch (err) {
    throw translate(err);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > budget) {
        throw bad(
          `zip entry ${JSON.stringify(name)} inflates past the limits (${mib(limits.maxTotalBytes)} in ` +
            `total, ${limits.maxRatio}:1 per file); refusing to unpack it`,
          { reason: 'inflated_past_limit', path: name },
        );
      }
      chunks.push(chunk);
    }
  } catch (err) {
    stream.destroy();
    if (err instanceof Error && err.message.startsWith('too many bytes in the stream')) {
      // yauzl counts inflated bytes against the declared size and stops at the first excess.
      throw bad(
        `zip entry ${JSON.stringify(name)} inflates to more than the ${entry.uncompressedSize} bytes ` +
          'its header declares; this looks like a zip bomb',
        { reason: 'size_mismatch', path: name },
      );
    }
    throw translate(err);
  }
  return Buffer.concat(chunks, size);
}

/** yauzl's and zlib's errors say what is wrong with the archive; they become the user's error. */
function translate(err: unknown): EunhaError {
  if (err instanceof EunhaError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return bad(`invalid zip: ${message}`);
}
