// Reading execution logs (one per invocation) for the API: per function, per workspace, and the
// API shape the seed's console reads.

import type { ExecutionLog, LogFilter, LogTailPage } from '../core/types.js';
import { requireFunction, requireWorkspace } from '../store/lookups.js';
import type { MetadataStore } from '../store/ports.js';
import { PAGE_MAX_BYTES, paged, type PageKey } from '../core/page-cursor.js';

export class ExecutionLogService {
  constructor(private readonly meta: MetadataStore) {}

  /** NOT_FOUND unless the function exists in the workspace (a tail's checks: no logs are read). */
  async requireFunction(workspaceId: string, functionId: string): Promise<void> {
    await requireFunction(this.meta, workspaceId, functionId);
  }

  /** A page of the function's logs, newest first; `total` counts all it has stored. */
  async forFunction(
    workspaceId: string,
    functionId: string,
    limit: number,
    filter: LogFilter = {},
  ): Promise<LogPage & { total: number }> {
    await requireFunction(this.meta, workspaceId, functionId);
    const list = (n: number, f: LogFilter) => this.meta.listFunctionLogs(functionId, n, f);
    const [page, total] = await Promise.all([
      pageOf(list, limit, filter),
      this.meta.countFunctionLogs(functionId),
    ]);
    return { ...page, total };
  }

  /**
   * A live tail's backlog: the newest `limit` logs, or with `afterSeq` (the number behind a
   * client's Last-Event-ID, tail-ids.ts) the newest `limit` of those stored after it. An id past
   * the store's last sequence number was not given by this store (a restored backup, another
   * server with the same secrets key behind the same address): the tail starts afresh instead of
   * waiting for numbers it may already have passed.
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

  /** A page of logs across the workspace's functions, newest first. */
  async forWorkspace(workspaceId: string, limit: number, filter: LogFilter = {}): Promise<LogPage> {
    await requireWorkspace(this.meta, workspaceId);
    return pageOf((n, f) => this.meta.listWorkspaceLogs(workspaceId, n, f), limit, filter);
  }
}

/** Up to `limit` logs, and where the next page starts when there is one (else null). */
export interface LogPage {
  logs: ExecutionLog[];
  next: string | null;
}

/** A page of `list` under the filter, each read capped at PAGE_MAX_BYTES. */
async function pageOf(
  list: (limit: number, filter: LogFilter) => Promise<ExecutionLog[]>,
  limit: number,
  filter: LogFilter,
): Promise<LogPage> {
  const read = (n: number, before: PageKey | undefined) =>
    list(n, { ...filter, before, maxBytes: PAGE_MAX_BYTES });
  const { items, next } = await paged(read, limit, filter.before, (l) => ({
    timestamp: l.timestamp,
    id: l.id,
  }));
  return { logs: items, next };
}
