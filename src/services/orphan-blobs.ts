// Blobs that no record names, removed once at start-up. Records go first and blobs after them (a
// record must never point at a missing blob), so a crash in between leaves blobs behind that
// nothing would ever remove: a retried DELETE is a 404. The same holds for a build killed after it
// stored its artifact but before a task or deployment named it. At start-up nothing else runs
// yet (no build, deploy or request), so whatever no record names is garbage.
//
//   code/{ws}/{fn}/{file}           kept while it is that function's current code
//   artifacts/{ws}/{digest}/…       kept while a deployment or a build task of {ws} names {digest}
//   build-sources/{ws}/{task}/…     kept while task {task} of {ws} exists
// Other top-level prefixes are not this module's and are left alone.

import type { BlobStore, MetadataStore } from '../store/ports.js';

export interface SweepResult {
  code: number;
  artifacts: number;
  sources: number;
  /** Deletes that failed (left for the next start): clean-up must not stop the server starting. */
  failed: number;
}

const DIGEST_IN = /(?:@sha256:|^artifacts\/[^/]+\/)([0-9a-f]{64})/;

/** What each workspace's records name, read once. */
async function references(meta: MetadataStore) {
  const codeKeys = new Set<string>();
  const digests = new Set<string>();
  const tasks = new Set<string>();
  for (const ws of await meta.listWorkspaces()) {
    for (const fn of await meta.listFunctions(ws.id)) {
      codeKeys.add(fn.codeKey);
      for (const d of await meta.listDeployments(fn.id)) digests.add(`${ws.id}/${d.digest}`);
    }
    for (const task of await meta.listTasks(ws.id)) {
      tasks.add(`${ws.id}/${task.taskId}`);
      for (const ref of [task.result?.image_url, task.result?.wasm_path]) {
        const digest = ref ? DIGEST_IN.exec(ref)?.[1] : undefined;
        if (digest) digests.add(`${ws.id}/${digest}`);
      }
    }
  }
  return { codeKeys, digests, tasks };
}

export async function sweepOrphanBlobs(meta: MetadataStore, blobs: BlobStore): Promise<SweepResult> {
  const refs = await references(meta);
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
  for (const key of await blobs.list('')) {
    const [top, ws, id] = key.split('/');
    if (ws === undefined || id === undefined) continue;
    if (top === 'code') {
      if (!refs.codeKeys.has(key)) await remove('code', blobs.delete(key));
    } else if (top === 'artifacts' || top === 'build-sources') {
      const owner = `${ws}/${id}`;
      const kept = top === 'artifacts' ? refs.digests.has(owner) : refs.tasks.has(owner);
      const prefix = `${top}/${owner}`;
      if (kept || gone.has(prefix)) continue;
      gone.add(prefix);
      await remove(top === 'artifacts' ? 'artifacts' : 'sources', blobs.deletePrefix(prefix));
    }
  }
  return result;
}
