// Reading execution logs (one per invocation) for the API: per function, per workspace, and the
// API shape the seed's console reads.

import type { ExecutionLog, LogTailPage } from '../core/types.js';
import { requireFunction, requireWorkspace } from '../store/lookups.js';
import type { MetadataStore } from '../store/ports.js';

/**
 * Stored bytes one page of logs may hold: fewer than `limit` entries come back when they are large
 * (a log keeps up to 64 KiB of printed lines and two bodies of EUNHA_LOG_BODY_BYTES).
 */
export const PAGE_MAX_BYTES = 4 * 1024 * 1024;

export class ExecutionLogService {
  constructor(private readonly meta: MetadataStore) {}

  /** NOT_FOUND unless the function exists in the workspace (a tail's checks: no logs are read). */
  async requireFunction(workspaceId: string, functionId: string): Promise<void> {
    await requireFunction(this.meta, workspaceId, functionId);
  }

  async forFunction(
    workspaceId: string,
    functionId: string,
    limit: number,
  ): Promise<{ logs: ExecutionLog[]; total: number }> {
    await requireFunction(this.meta, workspaceId, functionId);
    const [logs, total] = await Promise.all([
      this.meta.listFunctionLogs(functionId, limit, PAGE_MAX_BYTES),
      this.meta.countFunctionLogs(functionId),
    ]);
    return { logs, total };
  }

  /**
   * A live tail's backlog: the newest `limit` logs, or with `afterSeq` (a client's Last-Event-ID)
   * the newest `limit` of those stored after it. An id past the store's last sequence number was
   * not given by this store (a restored backup, another server behind the same address): the
   * tail starts afresh instead of waiting for numbers it may already have passed.
   */
  async tail(
    workspaceId: string,
    functionId: string,
    afterSeq: number | undefined,
    limit: number,
  ): Promise<{ page: LogTailPage; resumed: boolean }> {
    await requireFunction(this.meta, workspaceId, functionId);
    if (afterSeq !== undefined) {
      const page = await this.meta.tailFunctionLogs(functionId, afterSeq, limit, PAGE_MAX_BYTES);
      if (afterSeq <= page.last) return { page, resumed: true };
    }
    return { page: await this.meta.tailFunctionLogs(functionId, 0, limit, PAGE_MAX_BYTES), resumed: false };
  }

  async forWorkspace(workspaceId: string, limit: number): Promise<ExecutionLog[]> {
    await requireWorkspace(this.meta, workspaceId);
    return this.meta.listWorkspaceLogs(workspaceId, limit, PAGE_MAX_BYTES);
  }
}
