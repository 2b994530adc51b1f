// A workspace's room in the blob store: the limits (bytes and files its code, build uploads and
// artifacts may count together) and the port the build and function services check before they
// store anything. The workspace-wide count lives in services/storage-quota.ts.

export interface StorageLimits {
  maxBytes: number;
  maxFiles: number;
}

export const DEFAULT_STORAGE_LIMITS: StorageLimits = { maxBytes: 1024 ** 3, maxFiles: 20_000 };

/** Bytes and files, to store or stored. */
export interface StorageNeed {
  bytes: number;
  blobs: number;
}

/** What a workspace stores and may store (GET /api/workspaces/{ws}/storage). */
export interface StorageReport {
  usedBytes: number;
  maxBytes: number;
  usedFiles: number;
  maxFiles: number;
}

export interface StorageQuota {
  report(workspaceId: string): Promise<StorageReport>;
  /**
   * Holds room for `need` against what the workspace stores, or fails QUOTA_EXCEEDED. Call the
   * returned release once it is stored (or was not): it is counted by then.
   */
  reserve(workspaceId: string, need: StorageNeed): Promise<() => void>;
}
