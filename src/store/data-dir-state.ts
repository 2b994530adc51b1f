// What the data directory held before this start, read before anything in it is opened (opening
// creates a missing database). A start that finds blobs but no database must not go on as a fresh
// install: its orphan sweep would delete every blob, since no record names them, and with them
// what restoring the database from a backup would need.

import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirStateError extends Error {
  override name = 'DataDirStateError';
}

export interface DataDirState {
  /** eunha.db (or its write-ahead log) existed and was not empty. */
  databaseExisted: boolean;
  /** Some file was under blobs/. */
  blobsHeld: boolean;
}

const nonEmpty = (path: string): boolean => existsSync(path) && statSync(path).size > 0;

/** Depth first, stopping at the first regular file. */
function holdsAFile(dir: string): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const e of entries) {
    if (e.isFile()) return true;
    if (e.isDirectory() && holdsAFile(join(dir, e.name))) return true;
  }
  return false;
}

export function readDataDirState(dataDir: string): DataDirState {
  return {
    databaseExisted: nonEmpty(join(dataDir, 'eunha.db')) || nonEmpty(join(dataDir, 'eunha.db-wal')),
    blobsHeld: holdsAFile(join(dataDir, 'blobs')),
  };
}

/**
 * Refuses blobs without a database (see above); says what to do instead. `blobs` names where the
 * blobs are when they are not under the data directory (an S3 bucket and prefix).
 */
export function requireDatabaseForBlobs(state: DataDirState, dataDir: string, blobs?: string): void {
  if (state.databaseExisted || !state.blobsHeld) return;
  const where = blobs ?? join(dataDir, 'blobs');
  throw new DataDirStateError(
    `${join(dataDir, 'eunha.db')} is missing or empty, but ${where} holds data from an ` +
      'earlier run (code, artifacts, uploads). Starting would delete it as unreferenced. Restore eunha.db ' +
      `(with eunha.db-wal if there is one) from a backup, or move ${blobs ? 'those objects' : 'blobs/'} away to start afresh.`,
  );
}

/**
 * This installation's id, kept in the data directory (made at its first start): what marks an S3
 * key prefix as its own (store/s3/index.ts), so that another installation's start refuses it.
 */
export function installationId(dataDir: string): string {
  const path = join(dataDir, 'installation-id');
  if (existsSync(path)) {
    const id = readFileSync(path, 'utf8').trim();
    if (id !== '') return id;
  }
  const id = `eunha-${randomUUID()}`;
  writeFileSync(path, `${id}\n`, { mode: 0o600 });
  return id;
}
