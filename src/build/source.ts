// Source intake: turns an upload (a single .py file or a .zip) into the files of an app, checked
// and laid out with the entry point `app.py` at the root. Everything wrong with an upload is a
// VALIDATION_ERROR with details.field 'file' and a message a user can act on.

import { invalid } from '../core/errors.js';
import { checkFilePath, checkNoFileFolderClash } from './paths.js';
import { DEFAULT_ZIP_LIMITS, readZip, type ZipLimits } from './zip.js';

/** The files of an app: path (relative, '/'-separated) → bytes. */
export type SourceFiles = Record<string, Uint8Array>;

/** The module the sandbox imports; it must define `IncomingHandler`. */
export const ENTRY_FILE = 'app.py';

export const DEFAULT_MAX_SOURCE_BYTES = 10 * 1024 * 1024;

export interface SourceLimits extends ZipLimits {
  /** Cap on the upload itself (the .py or the compressed .zip). */
  maxSourceBytes: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = {
  ...DEFAULT_ZIP_LIMITS,
  maxSourceBytes: DEFAULT_MAX_SOURCE_BYTES,
};

export type SourceKind = 'py' | 'zip';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The last component of a client-sent file name (browsers and curl may send a path). */
function baseName(filename: string): string {
  const parts = filename.split(/[\\/]/);
  return (parts[parts.length - 1] ?? '').trim();
}

/** `.py` or `.zip` (case-insensitive), otherwise VALIDATION_ERROR on 'file'. */
export function sourceKindOf(filename: string): SourceKind {
  const name = baseName(filename).toLowerCase();
  if (name.endsWith('.py')) return 'py';
  if (name.endsWith('.zip')) return 'zip';
  const given = baseName(filename) || filename;
  const shown = given.length > 80 ? `${given.slice(0, 80)}…` : given;
  throw invalid('file', `file must be a .py or a .zip, got ${JSON.stringify(shown)}`);
}

/**
 * The name under which an upload is kept in the blob store: the client's base name with anything
 * outside the blob-key alphabet replaced by '_', so "my app.py" is stored, not refused.
 */
export function storedUploadName(filename: string): string {
  const kind = sourceKindOf(filename);
  const ext = `.${kind}`;
  const base = baseName(filename);
  let stem = base.slice(0, base.length - ext.length).replace(/[^A-Za-z0-9._@=+-]/g, '_');
  if (stem === '' || /^\.+$/.test(stem)) stem = 'source';
  return `${stem.slice(0, 120)}${ext}`;
}

/** The client's file name without folder and extension (the default app name). */
export function uploadStem(filename: string): string {
  const base = baseName(filename);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/**
 * Reads an upload into the files of an app. A .py becomes `{ 'app.py': bytes }`; a .zip is
 * unpacked safely and must hold app.py at its root or inside one top-level folder (which is
 * stripped, as "Compress folder" tools produce).
 */
export async function readSource(
  filename: string,
  data: Uint8Array,
  limits: SourceLimits = DEFAULT_SOURCE_LIMITS,
): Promise<SourceFiles> {
  const kind = sourceKindOf(filename);
  if (data.byteLength === 0) throw invalid('file', 'file is empty');
  if (data.byteLength > limits.maxSourceBytes) {
    throw invalid('file', `file is larger than the ${limits.maxSourceBytes}-byte cap`);
  }
  if (kind === 'py') return checkSourceFiles({ [ENTRY_FILE]: data }, limits);
  const entries = await readZip(data, limits);
  if (entries.size === 0) throw invalid('file', 'zip contains no files');
  return checkSourceFiles(Object.fromEntries(stripSingleFolder(entries)), limits);
}

function stripSingleFolder(entries: Map<string, Uint8Array>): Map<string, Uint8Array> {
  if (entries.has(ENTRY_FILE)) return entries;
  const tops = new Set([...entries.keys()].map((p) => p.split('/')[0] ?? ''));
  const [top] = tops;
  const prefix = `${top}/`;
  if (tops.size !== 1 || !entries.has(`${prefix}${ENTRY_FILE}`)) {
    throw invalid(
      'file',
      `zip has no ${ENTRY_FILE} at its root or inside a single top-level folder; ` +
        `found: ${[...entries.keys()].slice(0, 10).join(', ')}${entries.size > 10 ? ', …' : ''}`,
    );
  }
  return new Map([...entries].map(([path, bytes]) => [path.slice(prefix.length), bytes]));
}

/**
 * Checks a complete set of app files, wherever they came from: safe paths that can coexist,
 * app.py present, Python files UTF-8, within the count and size caps. Returns the files.
 */
export function checkSourceFiles(
  files: SourceFiles,
  limits: Pick<ZipLimits, 'maxEntries' | 'maxTotalBytes'> = DEFAULT_ZIP_LIMITS,
): SourceFiles {
  const paths = Object.keys(files);
  if (paths.length > limits.maxEntries) {
    throw invalid('file', `an app may have at most ${limits.maxEntries} files, got ${paths.length}`);
  }
  let total = 0;
  for (const path of paths) {
    checkFilePath(path);
    const bytes = files[path] as Uint8Array;
    total += bytes.byteLength;
    if (path.endsWith('.py')) {
      try {
        utf8.decode(bytes);
      } catch {
        throw invalid('file', `${path} is not valid UTF-8 text`, { path });
      }
    }
  }
  if (total > limits.maxTotalBytes) {
    throw invalid('file', `the app's files add up to more than ${limits.maxTotalBytes} bytes`);
  }
  checkNoFileFolderClash(paths);
  if (!(ENTRY_FILE in files)) throw invalid('file', `the app has no ${ENTRY_FILE}`);
  return files;
}
