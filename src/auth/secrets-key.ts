// Where the secrets key comes from: EUNHA_SECRETS_KEY in production; in the embedded default, a
// key generated once into {dataDir}/secrets.key (mode 0600) so `npm start` needs no setup. The
// generated file sits beside the database it protects, which guards against a leaked database file
// or backup but not against a stolen data directory: production must set EUNHA_SECRETS_KEY.

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/config.js';

export interface LoadedKey {
  key: Buffer;
  /** 'config', or the path of the key file and whether it was created now. */
  source: 'config' | { path: string; created: boolean };
}

export function loadSecretsKey(configured: Buffer | undefined, dataDir: string): LoadedKey {
  if (configured) return { key: configured, source: 'config' };
  const path = join(dataDir, 'secrets.key');
  // Written whole to a temporary file and synced, then linked into place: link fails when the
  // file exists, so two processes never write different keys over each other, and a crash
  // leaves either no key file or a whole one (an empty one used to stop every later start).
  const key = randomBytes(32);
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
    return { key, source: { path, created: true } };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(temp, { force: true });
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
