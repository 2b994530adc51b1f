// Blobs that no record names, removed once at start-up. Records go first and blobs after them (a
// record must never point at a missing blob), so a crash in between leaves blobs behind that
// nothing would ever remove: a retried DELETE is a 404. The same holds for a build killed after it
// stored its artifact but before a task or deployment named it. At start-up nothing else runs
// yet (no build, deploy or request), so whatever no record names is garbage.
//
//   code/{ws}/{fn}/{file}           kept while it is that function's current code
//   artifacts/{ws}/{digest}/…       kept while a deployment or a build task of {ws} names {digest}
//   build-sources/{ws}/{task}/…     kept while task {task} of {ws} exists, or a task's sourcePath is in it
// Other top-level prefixes are not this module's and are left alone.

import { artifactPrefix, digestOfTask, sourceDir, sourcePrefix } from '../build/index.js';
import { eachTask } from '../store/lookups.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { codeKeyPrefix } from './deps.js';

export interface SweepResult {
  code: number;
  artifacts: number;
  sources: number;
  /** Deletes that failed (left for the next start): clean-up must not stop the server starting. */
  failed: number;
}

/** The blob keys and prefixes the records name, read once. */
async function references(meta: MetadataStore): Promise<Set<string>> {
  const named = new Set<string>();
  for (const ws of await meta.listWorkspaces()) {
    for (const fn of await meta.listFunctions(ws.id)) {
      named.add(fn.codeKey);
      for (const d of await meta.listDeployments(fn.id)) named.add(artifactPrefix(ws.id, d.digest));
    }
    for await (const task of eachTask(meta, ws.id)) {
      named.add(sourcePrefix(ws.id, task.taskId));
      // A push builds an earlier upload, which stays under that upload's task (maybe deleted since).
      if (task.sourcePath) named.add(sourceDir(task.sourcePath));
      const digest = digestOfTask(task);
      if (digest !== undefined) named.add(artifactPrefix(ws.id, digest));
    }
  }
  return named;
}

export async function sweepOrphanBlobs(meta: MetadataStore, blobs: BlobStore): Promise<SweepResult> {
  const named = await references(meta);
  const result: SweepResult = { code: 0, artifacts: 0, sources: 0, failed: 0 };
  const remove = async (what: 'code' | 'artifacts' | 'sources', step: Promise<void>) => {
    try {
      await step;
      result[what]++;
    } catch {
      result.failed++;
    }
  };
  const gone = new Set<string>();
  const removePrefix = async (what: 'artifacts' | 'sources', prefix: string) => {
    if (gone.has(prefix)) return;
    gone.add(prefix);
    await remove(what, blobs.deletePrefix(prefix));
  };
  for (const key of await blobs.list('')) {
    const [, ws, id] = key.split('/');
    if (ws === undefined || id === undefined) continue;
    const artifact = artifactPrefix(ws, id);
    const source = sourcePrefix(ws, id);
    if (key.startsWith(`${codeKeyPrefix(ws)}/`)) {
      if (!named.has(key)) await remove('code', blobs.delete(key));
    } else if (key.startsWith(`${artifact}/`)) {
      if (!named.has(artifact)) await removePrefix('artifacts', artifact);
    } else if (key.startsWith(`${source}/`)) {
      if (!named.has(source)) await removePrefix('sources', source);
    }
  }
  return result;
}
