// The Pyodide memory snapshot that every sandbox boots from: made once by a host in
// `makeSnapshot` mode (interpreter booted, spin_sdk and common stdlib already imported) and cached
// on disk under a name keyed by the Pyodide version and a digest of everything baked into it.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    .update(JSON.stringify([SPIN_SDK_FILES, GUEST_FILES, PREIMPORT, process.version, 'worker-thread']))
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir, `pyodide-${pyodideVersion()}-${digest}.snapshot`);
}

const inFlight = new Map<string, Promise<string>>();

/** The path of a usable snapshot, making it first if the cache has none. */
export function ensureSnapshot(cacheDir: string): Promise<string> {
  const path = snapshotPath(cacheDir);
  if (existsSync(path)) return Promise.resolve(path);
  let p = inFlight.get(path);
  if (!p) {
    p = makeSnapshot(path).finally(() => inFlight.delete(path));
    inFlight.set(path, p);
  }
  return p;
}

async function makeSnapshot(path: string): Promise<string> {
  const host = HostProcess.spawn(detectIsolation(), 1, undefined, false);
  try {
    const f = await host.start({ makeSnapshot: true })!.next();
    if (f.header.t !== 'snapshot')
      throw new Error(`snapshot host answered ${JSON.stringify(f.header).slice(0, 500)}`);
    mkdirSync(join(path, '..'), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.body);
    renameSync(tmp, path);
    return path;
  } finally {
    host.kill();
  }
}
