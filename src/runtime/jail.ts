// The filesystem jail of a sandbox host (root only): a shell script, run by `unshare --mount`,
// that builds a fresh read-only root holding only what the host needs (node and its libraries,
// the runtime's compiled files, Pyodide, /dev/null and /dev/urandom) and chroots into it. The
// host then sees no other host file at all, even if guest code escaped into its JavaScript realm.

import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface JailPlan {
  /** Mount point of the jail's tmpfs root (an empty directory of the parent's). */
  root: string;
  dirs: string[];
  files: string[];
  links: [path: string, target: string][];
}

/** The nearest package.json above `file`: Node reads its "type" to load our .js files as ESM. */
function packageJsonOf(file: string): string | null {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'package.json');
  }
  return null;
}

export function jailPlan(root: string, hostScript: string, pyodideDir: string): JailPlan {
  const dirs: string[] = [];
  const links: [string, string][] = [];
  for (const top of ['/usr', '/bin', '/lib', '/lib64', '/sbin']) {
    if (!existsSync(top)) continue;
    if (lstatSync(top).isSymbolicLink()) links.push([top, readlinkSync(top)]);
    else dirs.push(top);
  }
  const nodeDir = dirname(process.execPath);
  if (!dirs.some((d) => nodeDir.startsWith(d + '/'))) dirs.push(nodeDir);
  // dist/src/runtime holds host.js and everything it imports.
  dirs.push(dirname(dirname(hostScript)), pyodideDir);
  const files = ['/dev/null', '/dev/urandom'];
  const pkg = packageJsonOf(hostScript);
  if (pkg) files.push(pkg);
  return { root, dirs, files, links };
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `sh -c <script> sh <argv…>`: builds the jail, then `exec chroot <root> <argv…>`. */
export function jailScript(plan: JailPlan): string {
  const R = q(plan.root);
  const lines = [
    'set -e',
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    `mount -t tmpfs -o mode=0755,size=1m eunha-jail ${R}`,
  ];
  // One mkdir and one touch for everything: each command here is a fork+exec on the boot path.
  const targets = [...plan.dirs, ...plan.files.map((f) => dirname(f))].map((d) => `${R}${q(d)}`);
  lines.push(`mkdir -p ${targets.join(' ')}`, `touch ${plan.files.map((f) => `${R}${q(f)}`).join(' ')}`);
  for (const [path, target] of plan.links) lines.push(`ln -s ${q(target)} ${R}${q(path)}`);
  for (const p of [...plan.dirs, ...plan.files]) lines.push(`mount --bind -o ro ${q(p)} ${R}${q(p)}`);
  // sh exports PWD on its own; the host must start with an empty environment.
  lines.push(`mount -o remount,ro ${R}`, 'unset PWD OLDPWD', `exec chroot ${R} "$@"`);
  return lines.join('\n');
}
