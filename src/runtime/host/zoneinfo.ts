// The IANA time zone database for guest code. Python's zoneinfo looks for it in
// /usr/share/zoneinfo, which a sandbox's in-memory file system did not have, so every
// ZoneInfo("Europe/Paris") failed. A host's main thread reads the host's copy once (TZif files and
// the aliases between them, without the posix/ and right/ variants) and hands it to each sandbox it
// starts, which writes it into its own file system (~0.5 MB). Without a copy on the host, zoneinfo
// has no zones, as before.

import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { checkGuestPath, writeTree, type FSLike } from './pyodide-setup.js';

export const ZONEINFO_DIR = '/usr/share/zoneinfo';

export interface Zoneinfo {
  /** Zone name (`Europe/Paris`) → its TZif bytes. */
  files: Record<string, Uint8Array>;
  /** Alias (`US/Eastern`) → the zone name it stands for (a symlink in the host's tree). */
  links: Record<string, string>;
}

const TZIF_MAGIC = [0x54, 0x5a, 0x69, 0x66]; // "TZif"

function isTzif(data: Uint8Array): boolean {
  return TZIF_MAGIC.every((b, i) => data[i] === b);
}

function safeName(name: string): boolean {
  try {
    checkGuestPath(name);
    return true;
  } catch {
    return false;
  }
}

/** The host's zone files, or null if it has none. */
export function readZoneinfo(dir = ZONEINFO_DIR): Zoneinfo | null {
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    return null;
  }
  const out: Zoneinfo = { files: {}, links: {} };
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if ((!rel && (entry.name === 'posix' || entry.name === 'right')) || !safeName(name)) continue;
      const path = join(root, name);
      if (entry.isDirectory()) {
        walk(name);
      } else if (entry.isSymbolicLink()) {
        try {
          const target = realpathSync(path);
          if (target.startsWith(`${root}/`)) out.links[name] = target.slice(root.length + 1);
        } catch {
          // A dangling link: no zone.
        }
      } else if (entry.isFile()) {
        const data = readFileSync(path);
        if (isTzif(data)) out.files[name] = data;
      }
    }
  };
  try {
    walk('');
  } catch {
    return null;
  }
  for (const [alias, target] of Object.entries(out.links))
    if (!(target in out.files)) delete out.links[alias];
  return Object.keys(out.files).length > 0 ? out : null;
}

/** Writes the zones into a sandbox's file system, aliases as symlinks. */
export function installZoneinfo(FS: FSLike, zi: Zoneinfo): void {
  writeTree(FS, ZONEINFO_DIR, zi.files);
  for (const [alias, target] of Object.entries(zi.links)) {
    const parts = checkGuestPath(alias);
    FS.mkdirTree([ZONEINFO_DIR, ...parts.slice(0, -1)].join('/'));
    FS.symlink(`${ZONEINFO_DIR}/${checkGuestPath(target).join('/')}`, `${ZONEINFO_DIR}/${alias}`);
  }
}
