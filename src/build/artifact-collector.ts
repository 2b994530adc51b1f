// Removes artifacts no record names any more while the server runs: after a deployment, a build
// task or a function is deleted, its artifact goes unless another deployment or task of the
// workspace still names it. Without this, only the next start's sweep (services/orphan-blobs.ts)
// freed them, and a workspace at its storage quota had no way to make room.
//
// Storing or reading an artifact and naming it in a record are separate steps (a build stores it,
// then its task or deployment is written). So every store and read of an artifact runs through
// pin(): alone against a removal of that artifact, which then leaves it alone until the pin is
// released (once the record is written, or the attempt failed; at the latest after PIN_MS). A
// removal checks the pins and the records under the same lock, so a build can never store into an
// artifact a removal is taking away, nor a removal take one a build just stored.

import { KeyedLock } from '../core/keyed-lock.js';
import type { BuildTask } from '../core/types.js';
import { eachTask } from '../store/lookups.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { artifactPrefix, artifactsPrefix } from './artifact.js';
import { parseImageRef } from './image-ref.js';

/** A pin never released (a caller that lost it) ends after this long. */
export const PIN_MS = 10 * 60 * 1000;

type Meta = Pick<MetadataStore, 'listFunctions' | 'listDeployments' | 'listTasks'>;

/** The digest of the local artifact a task built (its image, or its manifest key), if any. */
export function digestOfTask(task: Pick<BuildTask, 'workspaceId' | 'result'>): string | undefined {
  const { image_url: image, wasm_path: manifest } = task.result ?? {};
  if (image) {
    try {
      const ref = parseImageRef(image);
      if (ref.workspaceId === task.workspaceId) return ref.digest;
    } catch {
      // Not a local image: it names no artifact here.
    }
  }
  const prefix = `${artifactsPrefix(task.workspaceId)}/`;
  if (manifest?.startsWith(prefix)) return manifest.slice(prefix.length).split('/')[0];
  return undefined;
}

/** Digests of the workspace's artifacts that a deployment (of any of its functions) or a task names. */
export async function artifactsNamed(meta: Meta, workspaceId: string): Promise<Set<string>> {
  const named = new Set<string>();
  for (const fn of await meta.listFunctions(workspaceId)) {
    for (const d of await meta.listDeployments(fn.id)) named.add(d.digest);
  }
  for await (const task of eachTask(meta, workspaceId)) {
    const digest = digestOfTask(task);
    if (digest !== undefined) named.add(digest);
  }
  return named;
}

/** What pin() answers: the work's value and the release of the pin. */
export interface Pinned<T> {
  value: T;
  release: () => void;
}

export class ArtifactCollector {
  private readonly lock = new KeyedLock();
  /** Artifact prefix → the ends (ms) of its pins not yet released. */
  private readonly pins = new Map<string, Set<{ until: number }>>();
  /**
   * How many pins were taken or released: a record naming an artifact is written between the two,
   * so while this stands still, records read earlier still name all they did. One count for every
   * workspace (a collect may read again for another's pin): a count per workspace stayed in
   * memory after the workspace was deleted, and one that restarted could meet its old value.
   */
  private pinMoves = 0;

  constructor(
    private readonly meta: Meta,
    private readonly blobs: Pick<BlobStore, 'deletePrefix'>,
    private readonly now: () => number,
  ) {}

  /**
   * Runs `work` (a store or a read of the artifact) alone against its removal, and pins the
   * artifact: call `release` once a record names it, or the attempt to name it failed.
   */
  async pin<T>(workspaceId: string, digest: string, work: () => Promise<T>): Promise<Pinned<T>> {
    const key = artifactPrefix(workspaceId, digest);
    return this.lock.run(key, async () => {
      const pin = { until: this.now() + PIN_MS };
      const held = this.pins.get(key) ?? new Set();
      held.add(pin);
      this.pins.set(key, held);
      this.pinMoves++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        held.delete(pin);
        if (held.size === 0 && this.pins.get(key) === held) this.pins.delete(key);
        this.pinMoves++;
      };
      try {
        return { value: await work(), release };
      } catch (err) {
        release();
        throw err;
      }
    });
  }

  /**
   * Removes those of the workspace's artifacts `digests` that no record names and no pin holds;
   * answers how many it removed. Call after deleting the record that named them.
   */
  async collect(workspaceId: string, digests: Iterable<string>): Promise<number> {
    let named: Set<string> | undefined;
    let readAt = -1;
    let removed = 0;
    for (const digest of new Set(digests)) {
      const key = artifactPrefix(workspaceId, digest);
      await this.lock.run(key, async () => {
        if (this.pinned(key)) return;
        // A record naming this digest is written while a pin of it is held. Held now: seen above.
        // Taken and released since the records were read (while an earlier digest was removed):
        // the count moved, and they are read again. Otherwise what was read still holds.
        if (named === undefined || this.pinMoves !== readAt) {
          readAt = this.pinMoves;
          named = await artifactsNamed(this.meta, workspaceId);
        }
        if (named.has(digest)) return;
        await this.blobs.deletePrefix(key);
        removed++;
      });
    }
    return removed;
  }

  private pinned(key: string): boolean {
    const held = this.pins.get(key);
    if (!held) return false;
    const now = this.now();
    for (const pin of held) if (pin.until <= now) held.delete(pin);
    if (held.size === 0) this.pins.delete(key);
    return held.size > 0;
  }
}
