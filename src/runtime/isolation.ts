// How sandbox host processes are started: the OS layer of the sandbox. Every host gets an empty
// environment and an empty, read-only working directory. As root we also put it in a fresh
// network namespace (`unshare --net`: only a downed loopback), jail it in a minimal read-only root
// (`unshare --mount` + chroot, see jail.ts) and drop it to a uid of its own with no capabilities
// and no_new_privs (`setpriv`). Each layer is probed first; whatever cannot be had is reported as a
// warning, never skipped silently.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { randomInt } from 'node:crypto';
import { hostWorkingDir } from './host-cwd.js';
import { jailPlan, jailScript } from './jail.js';

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
  /** The host runs chrooted in a read-only root holding only what it needs (jail.ts). */
  filesJailed: boolean;
  /**
   * Not a boundary, a scheduling hint: hosts run under SCHED_BATCH (`chrt --batch 0`, allowed
   * without privileges), so a host woken by a request does not preempt the parent that is still
   * dispatching others on the same core. +6% requests/s through /fn on 2 cores (bench/pipeline.ts).
   */
  batchScheduled: boolean;
  /**
   * Background boots run at nice 10, and a sandbox gets nice 0 back when an instance takes it.
   * Only where this process may lower a nice value (root, CAP_SYS_NICE or RLIMIT_NICE): without
   * that right a sandbox would serve its requests at nice 10 for life, so boots run at nice 0.
   */
  bootsNiced: boolean;
  warnings: string[];
}

export interface HostCommand {
  command: string;
  args: string[];
  uid: number | null;
}

/**
 * V8 flags for every host: no eval/new Function (a guest that reaches JS cannot compile code),
 * a bounded JS heap and a small young generation. Wasm tiers up from Liftoff to TurboFan for code
 * that runs hot, which cuts the interpreter's CPU per request by ~30%, for ~13 MB more per process
 * (the tiered code is shared by the process's sandbox threads) and ~0.1 s more CPU per boot. The
 * budget, 11× V8's default, measured ~0.1 s less CPU per boot than the default at the same
 * throughput. `--liftoff-only` saved the 13 MB; with it /fn served ~17% fewer requests/s (design
 * note 006).
 */
export const HOST_NODE_FLAGS = [
  '--disallow-code-generation-from-strings',
  '--max-old-space-size=256',
  '--max-semi-space-size=1',
  '--wasm-tiering-budget=20000000',
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
  return [
    'setpriv',
    `--reuid=${uid}`,
    `--regid=${uid}`,
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
  ];
}

function readableProbe(paths: string[]): string {
  return `const fs=require('fs');for(const p of ${JSON.stringify(paths)})fs.accessSync(p,fs.constants.R_OK)`;
}

let cached: Isolation | null = null;
// Unique within this runtime; a random start keeps two runtimes on one machine apart (likely, not
// guaranteed: 60,000 ids).
let nextUid = randomInt(SANDBOX_UID_COUNT);

export function detectIsolation(): Isolation {
  if (cached) return cached;
  const hostScript = hostScriptPath();
  const cwd = hostWorkingDir();
  const warnings: string[] = [];
  const iso: Isolation = {
    hostScript,
    cwd,
    netIsolated: false,
    privilegesDropped: false,
    filesJailed: false,
    batchScheduled: works('chrt', ['--batch', '0', 'true']),
    // Can a child raise its nice value and then lower it back?
    bootsNiced: works(process.execPath, [
      '-e',
      'const os = require("os"); os.setPriority(os.getPriority() + 1); os.setPriority(os.getPriority() - 1)',
    ]),
    warnings,
  };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    warnings.push(
      'not running as root: sandbox hosts keep this user id, the host network and the host files',
    );
    cached = iso;
    return iso;
  }
  // Each layer is probed with the exact command line hosts will get, then kept only if it works:
  // an unprivileged uid inside the jail must still be able to read what the host needs.
  const needed = [
    hostScript,
    join(pyodideDir(), 'pyodide.asm.wasm'),
    join(pyodideDir(), 'python_stdlib.zip'),
  ];
  const probe = (candidate: Isolation): boolean => {
    const cmd = commandFor(candidate, [process.execPath, '-e', readableProbe(needed)], SANDBOX_UID_BASE);
    return works(cmd.command, cmd.args);
  };
  iso.netIsolated = works('unshare', ['--net', '--', 'true']);
  if (!iso.netIsolated)
    warnings.push('unshare --net is not available: sandbox hosts share the host network namespace');
  iso.privilegesDropped = probe({ ...iso, privilegesDropped: true });
  if (!iso.privilegesDropped) {
    warnings.push(
      'cannot run sandbox hosts under their own uid (setpriv missing or files unreadable): they run as root',
    );
  }
  iso.filesJailed = probe({ ...iso, filesJailed: true });
  if (!iso.filesJailed)
    warnings.push(
      'cannot jail sandbox hosts in a minimal root (unshare --mount/chroot): they see the host files',
    );
  cached = iso;
  return iso;
}

function commandFor(iso: Isolation, tail: string[], uid: number | null): HostCommand {
  let argv = tail;
  if (iso.privilegesDropped && uid !== null) argv = [...dropArgs(uid), ...argv];
  if (iso.filesJailed) {
    const plan = jailPlan(iso.cwd, iso.hostScript, pyodideDir());
    argv = ['/bin/sh', '-c', jailScript(plan), 'sh', ...argv];
  }
  const ns = [...(iso.filesJailed ? ['--mount'] : []), ...(iso.netIsolated ? ['--net'] : [])];
  if (ns.length > 0) argv = ['unshare', ...ns, '--', ...argv];
  // The policy is inherited across the execs below it.
  if (iso.batchScheduled) argv = ['chrt', '--batch', '0', ...argv];
  return { command: argv[0]!, args: argv.slice(1), uid: iso.privilegesDropped ? uid : null };
}

/**
 * The command line for one new host: `[chrt --batch 0] [unshare --mount --net --]
 * [sh -c <jail> sh] [setpriv --reuid=N … --] node <flags> host.js`.
 */
export function hostCommand(iso: Isolation, nodeFlags: readonly string[]): HostCommand {
  const uid = iso.privilegesDropped ? SANDBOX_UID_BASE + (nextUid++ % SANDBOX_UID_COUNT) : null;
  return commandFor(iso, [process.execPath, ...nodeFlags, iso.hostScript], uid);
}
