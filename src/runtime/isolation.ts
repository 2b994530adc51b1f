// How sandbox host processes are started: the OS layer of the sandbox. Every host gets an empty
// environment and an empty, read-only working directory. As root we also put it in a fresh
// network namespace (`unshare --net`: only a downed loopback) and drop it to a uid of its own
// with no capabilities and no_new_privs (`setpriv`), after checking that such a uid can still read
// the files the host needs. Whatever cannot be had is reported as a warning, never skipped silently.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

/**
 * Hosts run under their own user id from this range (no passwd entry needed): two sandboxes never
 * share a uid, so even a sandbox that escaped into its JavaScript realm cannot signal, ptrace or
 * read /proc/<pid>/mem of another one (this kernel has no Yama ptrace restrictions).
 */
export const SANDBOX_UID_BASE = 200_000;
export const SANDBOX_UID_COUNT = 60_000;

export interface Isolation {
  hostScript: string;
  cwd: string;
  netIsolated: boolean;
  privilegesDropped: boolean;
  warnings: string[];
}

export interface HostCommand {
  command: string;
  args: string[];
  uid: number | null;
}

/**
 * V8 flags for every host: no eval/new Function (a guest that reaches JS cannot compile code),
 * a bounded JS heap, and memory savers: Liftoff-only wasm (no second, optimised copy of the
 * interpreter's machine code: ~30 MB less per process) and a small young generation.
 */
export const HOST_NODE_FLAGS = [
  '--disallow-code-generation-from-strings',
  '--max-old-space-size=256',
  '--max-semi-space-size=1',
  '--liftoff-only',
  '--no-warnings',
  '--expose-gc',
];

export function hostScriptPath(): string {
  return fileURLToPath(new URL('./host/host.js', import.meta.url));
}

export function pyodideDir(): string {
  const require = createRequire(import.meta.url);
  return join(require.resolve('pyodide'), '..');
}

function works(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { env: {}, stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

function dropArgs(uid: number): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
}

function readableProbe(paths: string[]): string {
  return `const fs=require('fs');for(const p of ${JSON.stringify(paths)})fs.accessSync(p,fs.constants.R_OK)`;
}

let cached: Isolation | null = null;
let nextUid = 0;

export function detectIsolation(): Isolation {
  if (cached) return cached;
  const hostScript = hostScriptPath();
  const cwd = mkdtempSync(join(tmpdir(), 'eunha-sandbox-'));
  chmodSync(cwd, 0o555);
  const warnings: string[] = [];
  let netIsolated = false;
  let privilegesDropped = false;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    warnings.push('not running as root: sandbox hosts keep this user id and the host network (no unshare/setpriv)');
  } else {
    netIsolated = works('unshare', ['--net', '--', 'true']);
    if (!netIsolated) warnings.push('unshare --net is not available: sandbox hosts share the host network namespace');
    // An unprivileged uid must still be able to read the host script, Pyodide's files and node.
    const files = [hostScript, join(pyodideDir(), 'pyodide.asm.wasm'), join(pyodideDir(), 'python_stdlib.zip')];
    const probe = [...dropArgs(SANDBOX_UID_BASE), process.execPath, '-e', readableProbe(files)];
    privilegesDropped = works(probe[0]!, probe.slice(1));
    if (!privilegesDropped) warnings.push('cannot run sandbox hosts under their own uid (setpriv missing or files unreadable): they run as root');
  }
  cached = { hostScript, cwd, netIsolated, privilegesDropped, warnings };
  return cached;
}

/** The command line for one new host: `[unshare --net --] [setpriv --reuid=N … --] node <flags> host.js`. */
export function hostCommand(iso: Isolation, nodeFlags: readonly string[]): HostCommand {
  let argv = [process.execPath, ...nodeFlags, iso.hostScript];
  let uid: number | null = null;
  if (iso.privilegesDropped) {
    uid = SANDBOX_UID_BASE + (nextUid++ % SANDBOX_UID_COUNT);
    argv = [...dropArgs(uid), ...argv];
  }
  if (iso.netIsolated) argv = ['unshare', '--net', '--', ...argv];
  return { command: argv[0]!, args: argv.slice(1), uid };
}
