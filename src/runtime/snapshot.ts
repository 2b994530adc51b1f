// The Pyodide memory snapshot that every sandbox boots from: made once by a host in
// `makeSnapshot` mode (interpreter booted, spin_sdk and common stdlib already imported) and cached
// on disk under a name keyed by the Pyodide version and a digest of everything baked into it.
// The file carries its own digest (snapshot-format.ts), checked once per process before any host
// gets it: one that does not match is made again.

import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { processAlive } from '../core/process-alive.js';
import { SNAPSHOT_MARKER, SNAPSHOT_TRAILER_BYTES } from './snapshot-format.js';
import { HostProcess } from './host-process.js';
import { detectIsolation, pyodideDir } from './isolation.js';
import { SPIN_SDK_FILES } from './python/spin-sdk.js';
import { GUEST_FILES, PREIMPORT } from './python/guest.js';

export function pyodideVersion(): string {
  const pkg = JSON.parse(readFileSync(join(pyodideDir(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function snapshotPath(cacheDir: string): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify([
        SPIN_SDK_FILES,
        GUEST_FILES,
        PREIMPORT,
        process.version,
        'worker-thread',
        SNAPSHOT_MARKER,
      ]),
    )
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir, `pyodide-${pyodideVersion()}-${digest}.snapshot`);
}

const inFlight = new Map<string, Promise<string>>();

/** Paths checked whole by this process (a cached file is read and hashed once, ~30 MB). */
const checked = new Set<string>();

/** The path of a usable snapshot, making it first if the cache has none, or a damaged one. */
export function ensureSnapshot(cacheDir: string): Promise<string> {
  const path = snapshotPath(cacheDir);
  if (checked.has(path)) return Promise.resolve(path);
  let p = inFlight.get(path);
  if (!p) {
    p = (async () => {
      if (!(await isWhole(path))) await makeSnapshot(path);
      checked.add(path);
      return path;
    })().finally(() => inFlight.delete(path));
    inFlight.set(path, p);
  }
  return p;
}

/** How old a half-written snapshot in a shared cache must be to be taken for a dead writer's. */
const STALE_TMP_MS = 3_600_000;

/**
 * How old another build's snapshot in a cache this server owns may be: nothing else boots from it
 * (the data directory is locked to one server), but a downgrade soon after an upgrade finds it.
 */
const OTHER_SNAPSHOT_TTL_MS = 7 * 86_400_000;

/**
 * Removes what the cache no longer needs: half-written snapshots of processes that died while
 * writing them (a review's SIGKILL left 6 MB for good), and, when `ownsCache` (the data
 * directory's own cache, which no other installation uses), other builds' snapshots over a week
 * old: every Node or Eunha upgrade left its predecessor's 31 MB behind. A cache shared by
 * EUNHA_CACHE_DIR keeps those: a server still on the older build may boot from them.
 */
export function sweepSnapshotCache(cacheDir: string, ownsCache: boolean, now = Date.now()): string[] {
  const current = snapshotPath(cacheDir);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const path = join(cacheDir, name);
    if (!name.startsWith('pyodide-') || path === current) continue;
    const tmp = /\.snapshot\.(\d+)\.tmp$/.exec(name);
    try {
      // A writer's pid means nothing in another container sharing the cache: there, only a file
      // far older than any write (seconds) is taken for a dead one's.
      const age = now - statSync(path).mtimeMs;
      if (
        tmp
          ? !processAlive(Number(tmp[1])) && (ownsCache || age > STALE_TMP_MS)
          : ownsCache && name.endsWith('.snapshot') && age > OTHER_SNAPSHOT_TTL_MS
      ) {
        rmSync(path, { force: true });
        removed.push(name);
      }
    } catch {
      // Gone meanwhile, or not ours to remove: left as it is.
    }
  }
  return removed;
}

/** The file at `path` is gone or suspect: the next ensureSnapshot checks it again (and remakes it). */
export function forgetSnapshot(path: string): void {
  checked.delete(path);
}

/** The file ends with the marker and the digest of what comes before it. */
export async function isWhole(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  const file = await readFile(path);
  if (file.length <= SNAPSHOT_TRAILER_BYTES) return false;
  const end = file.length - SNAPSHOT_TRAILER_BYTES;
  const marker = file.subarray(end, end + 16).toString('latin1');
  const digest = createHash('sha256').update(file.subarray(0, end)).digest();
  return marker === SNAPSHOT_MARKER && digest.equals(file.subarray(end + 16));
}

async function makeSnapshot(path: string): Promise<string> {
  const host = HostProcess.spawn(detectIsolation(), 1, undefined, false);
  try {
    const f = await host.start({ makeSnapshot: true })!.next();
    if (f.header.t !== 'snapshot')
      throw new Error(`snapshot host answered ${JSON.stringify(f.header).slice(0, 500)}`);
    mkdirSync(dirname(path), { recursive: true });
    // Whole or absent: written and synced under a temporary name, then renamed into place.
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      for (const part of [
        f.body,
        Buffer.from(SNAPSHOT_MARKER, 'latin1'),
        createHash('sha256').update(f.body).digest(),
      ]) {
        for (let off = 0; off < part.length;) off += writeSync(fd, part, off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
    return path;
  } finally {
    host.kill();
  }
}
