// The storage quota of workspaces (core/storage-quota.ts): what each keeps in the blob store, its
// functions' code, the uploads of its build tasks and its artifacts (every deployment's is kept,
// for rollback), counted together in bytes and in files. Without a cap one tenant at the rate limit filled a disk for everyone (a review
// stored 151 MB in 9 s). Checked before each upload, artifact and code is stored; what is held for
// a store under way counts too, so stores racing each other cannot pass the cap together.

import { buildBlobPrefixes } from '../build/index.js';
import { EunhaError } from '../core/errors.js';
import type { StorageLimits, StorageNeed, StorageQuota, StorageReport } from '../core/storage-quota.js';
import type { BlobOwners, MeteredBlobStore } from '../store/metered-blobs.js';
import { codeKeyPrefix } from './deps.js';

const OWNED = new Set(['code', 'artifacts', 'build-sources']);

/** Blob keys by workspace: `code/{ws}/…`, `artifacts/{ws}/…`, `build-sources/{ws}/…`. */
export const workspaceBlobOwners: BlobOwners = {
  ownerOf(key) {
    const [top, ws] = key.split('/');
    return top !== undefined && OWNED.has(top) && ws ? ws : undefined;
  },
  prefixesOf: (ws) => [codeKeyPrefix(ws), ...buildBlobPrefixes(ws)],
};

/** In the unit that shows it: "0.0 MiB more would take it past its 0.1 MiB" said nothing. */
const size = (n: number): string =>
  n < 1024
    ? `${n} bytes`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 ** 2).toFixed(1)} MiB`;

export class WorkspaceStorage implements StorageQuota {
  /** Room held per workspace for stores under way. */
  private readonly held = new Map<string, StorageNeed>();

  constructor(
    private readonly meter: Pick<MeteredBlobStore, 'usageOf'>,
    readonly limits: StorageLimits,
  ) {}

  async report(workspaceId: string): Promise<StorageReport> {
    const used = await this.meter.usageOf(workspaceId);
    return {
      usedBytes: used.bytes,
      maxBytes: this.limits.maxBytes,
      usedFiles: used.blobs,
      maxFiles: this.limits.maxFiles,
    };
  }

  async reserve(workspaceId: string, need: StorageNeed): Promise<() => void> {
    const used = await this.meter.usageOf(workspaceId);
    const held = this.held.get(workspaceId) ?? { bytes: 0, blobs: 0 };
    const bytes = used.bytes + held.bytes;
    const files = used.blobs + held.blobs;
    if (need.bytes > 0 && bytes + need.bytes > this.limits.maxBytes) {
      throw exceeded(
        workspaceId,
        'bytes',
        `${size(need.bytes)} more would take it past its ${size(this.limits.maxBytes)} (it stores ${size(bytes)})`,
        { limit: this.limits.maxBytes, used: bytes, requested: need.bytes },
      );
    }
    if (need.blobs > 0 && files + need.blobs > this.limits.maxFiles) {
      throw exceeded(
        workspaceId,
        'files',
        `${need.blobs} more files would take it past its ${this.limits.maxFiles} (it stores ${files})`,
        { limit: this.limits.maxFiles, used: files, requested: need.blobs },
      );
    }
    this.held.set(workspaceId, { bytes: held.bytes + need.bytes, blobs: held.blobs + need.blobs });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = this.held.get(workspaceId) ?? { bytes: 0, blobs: 0 };
      const left = { bytes: now.bytes - need.bytes, blobs: now.blobs - need.blobs };
      if (left.bytes <= 0 && left.blobs <= 0) this.held.delete(workspaceId);
      else this.held.set(workspaceId, left);
    };
  }
}

function exceeded(
  workspaceId: string,
  resource: 'bytes' | 'files',
  why: string,
  numbers: { limit: number; used: number; requested: number },
): EunhaError {
  return new EunhaError(
    'QUOTA_EXCEEDED',
    `workspace '${workspaceId}' is out of storage: ${why}. Delete deployments, build tasks or ` +
      'functions it no longer needs (GET /api/workspaces/{ws}/storage shows what it stores)',
    { workspace: workspaceId, resource, ...numbers },
  );
}
