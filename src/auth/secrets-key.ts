// Where the secrets key comes from: EUNHA_SECRETS_KEY in production; in the embedded default, a
// key generated once into {dataDir}/secrets.key (mode 0600) so `npm start` needs no setup. The
// generated file sits beside the database it protects, which guards against a leaked database file
// or backup but not against a stolen data directory: production must set EUNHA_SECRETS_KEY.

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../config/config.js';

export interface LoadedKey {
  key: Buffer;
  /** 'config', or the path of the key file and whether it was created now. */
  source: 'config' | { path: string; created: boolean };
}

export function loadSecretsKey(configured: Buffer | undefined, dataDir: string): LoadedKey {
  if (configured) return { key: configured, source: 'config' };
  const path = join(dataDir, 'secrets.key');
  if (!existsSync(path)) {
    const key = randomBytes(32);
    if (createWhole(path, `${key.toString('base64')}\n`)) return { key, source: { path, created: true } };
  }
  const existing = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (existing.length !== 32) {
    throw new ConfigError(
      'EUNHA_SECRETS_KEY',
      `${path} does not hold a 32-byte base64 key; set EUNHA_SECRETS_KEY`,
    );
  }
  chmodSync(path, 0o600);
  return { key: existing, source: { path, created: false } };
}

/**
 * A key generated now beside a database that already existed is not the key its sealed values
 * need: the file was lost. Starting would leave every function with secrets unable to run (and
 * to be redeployed) until its secrets were set again. Unless nothing is sealed, the new key file
 * goes and the start is refused, saying how to go on. `sealedCount` reads the store.
 */
export async function requireKeyForSealed(
  loaded: LoadedKey,
  databaseExisted: boolean,
  sealedCount: () => Promise<number>,
): Promise<void> {
  if (loaded.source === 'config' || !loaded.source.created || !databaseExisted) return;
  const sealed = await sealedCount();
  if (sealed === 0) return;
  rmSync(loaded.source.path, { force: true });
  throw new ConfigError(
    'EUNHA_SECRETS_KEY',
    `${loaded.source.path} is missing, but ${sealed} functions or deployments hold secret variables sealed ` +
      'with it. Restore the file from a backup (or set EUNHA_SECRETS_KEY to the key it held). If it is ' +
      'lost for good, start with EUNHA_SECRETS_KEY set to a new key (openssl rand -base64 32) and set ' +
      "those functions' secrets again.",
  );
}

/**
 * EUNHA_SECRETS_KEY_PREVIOUS must name the key being retired, not the one in use. Equal to
 * EUNHA_SECRETS_KEY, loadConfig refuses it; equal to the secrets.key read because
 * EUNHA_SECRETS_KEY is unset (the operator set only the old key), it is refused here: the start
 * would re-seal nothing, and the leaked key would stay the one in use.
 */
export function requireNewKey(loaded: LoadedKey, previous: Buffer | undefined): void {
  if (!previous?.equals(loaded.key)) return;
  const holder = loaded.source === 'config' ? 'EUNHA_SECRETS_KEY' : loaded.source.path;
  throw new ConfigError(
    'EUNHA_SECRETS_KEY_PREVIOUS',
    `is the key ${holder} holds, which is still the current key: set EUNHA_SECRETS_KEY to the new key ` +
      '(openssl rand -base64 32)',
  );
}

/**
 * The secrets.key beside the database when EUNHA_SECRETS_KEY is set: never read then, so after a
 * rotation away from it, it only keeps the old key on disk, and would become the key again (every
 * secret failing) were EUNHA_SECRETS_KEY ever unset.
 */
export function unreadKeyFile(loaded: LoadedKey, dataDir: string): string | undefined {
  const path = join(dataDir, 'secrets.key');
  return loaded.source === 'config' && existsSync(path) ? path : undefined;
}

/**
 * Creates `path` holding `text`, whole or not at all; false if it already exists (another process
 * won: two never write different keys over each other). The text goes to a temporary file that is
 * synced and then linked into place, and the directory is synced too: a crash leaves no key file
 * or a whole one (an empty one used to stop every later start), and a key the database already
 * depends on survives a power loss. Where hard links are not supported, create-if-absent.
 */
function createWhole(path: string, text: string): boolean {
  const temp = `${path}.${process.pid}.tmp`;
  writeSynced(temp, 'w', text);
  try {
    linkSync(temp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    try {
      writeSynced(path, 'wx', text);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    rmSync(temp, { force: true });
  }
  syncDir(dirname(path));
  return true;
}

function writeSynced(path: string, flags: string, text: string): void {
  const fd = openSync(path, flags, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Best effort: some platforms cannot fsync a directory. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The key file itself is whole either way.
  }
}
