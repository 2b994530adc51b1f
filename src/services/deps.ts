// What the control-plane services share: the storage ports plus the injectable clock and ids.

import type { SecretBox } from '../auth/secrets.js';
import type { Clock, IdSource } from '../core/ids.js';
import type { StorageQuota } from '../core/storage-quota.js';
import type { FunctionRecord } from '../core/types.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';

/** Who else must know when a function changes (the route table of the deploy target). */
export interface FunctionEvents {
  changed(fn: FunctionRecord): void;
  deleted(functionId: string): Promise<void>;
}

export interface ServiceDeps {
  meta: MetadataStore;
  blobs: BlobStore;
  clock: Clock;
  ids: IdSource;
  events?: FunctionEvents;
  /** Seals secret environment variables; without it, creating one is refused. */
  secrets?: SecretBox;
  /** Room in the workspace's storage for function code; without it, no limit. */
  quota?: StorageQuota;
  /** Removes the artifacts of deleted deployments that nothing else names (the build service). */
  artifacts?: { collectArtifacts(workspaceId: string, digests: Iterable<string>): Promise<number> };
  /** What the operator should know (a function's code missing from the blob store). */
  warn?: (fields: object, msg: string) => void;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

/** Start of the rolling 24-hour window that every *24h statistic covers. */
export function windowStart(clock: Clock): string {
  return new Date(clock().getTime() - DAY_MS).toISOString();
}

export const codeKeyPrefix = (workspaceId: string, functionId?: string): string =>
  functionId ? `code/${workspaceId}/${functionId}` : `code/${workspaceId}`;
