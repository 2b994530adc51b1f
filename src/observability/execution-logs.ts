// Reading execution logs (one per invocation) for the API: per function, per workspace, and the
// API shape the seed's console reads.

import { notFound } from '../core/errors.js';
import type { ExecutionLog } from '../core/types.js';
import type { MetadataStore } from '../store/ports.js';

export class ExecutionLogService {
  constructor(private readonly meta: MetadataStore) {}

  async forFunction(
    workspaceId: string,
    functionId: string,
    limit: number,
  ): Promise<{ logs: ExecutionLog[]; total: number }> {
    const fn = await this.meta.getFunction(workspaceId, functionId);
    if (!fn) {
      if (!(await this.meta.getWorkspace(workspaceId))) throw notFound('Workspace', workspaceId);
      throw notFound('Function', functionId);
    }
    const [logs, total] = await Promise.all([
      this.meta.listFunctionLogs(functionId, limit),
      this.meta.countFunctionLogs(functionId),
    ]);
    return { logs, total };
  }

  async forWorkspace(workspaceId: string, limit: number): Promise<ExecutionLog[]> {
    if (!(await this.meta.getWorkspace(workspaceId))) throw notFound('Workspace', workspaceId);
    return this.meta.listWorkspaceLogs(workspaceId, limit);
  }
}
