// Entry point of the filesystem blob adapter.
import { mkdir, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BlobStore } from '../ports.js';
import { FsBlobStore } from './store.js';

/**
 * Opens (creating if needed) a blob store rooted at `rootDir`, and removes the temp files of
 * writes a crashed process left (FsBlobStore.removeStrayTemps).
 */
export async function openFsBlobStore(rootDir: string): Promise<BlobStore> {
  const absolute = resolve(rootDir);
  await mkdir(absolute, { recursive: true });
  // The real path, so containment checks compare like with like even if rootDir is a symlink.
  const store = new FsBlobStore(await realpath(absolute));
  await store.removeStrayTemps();
  return store;
}
