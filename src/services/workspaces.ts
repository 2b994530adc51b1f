// Workspace use cases: create, read with true rolling-24h statistics, update, and a delete that
// leaves nothing behind (functions, their code blobs, tasks, logs, key-value data).

import { EunhaError, notFound } from '../core/errors.js';
import type { StorageReport } from '../core/storage-quota.js';
import type { InvocationStats, Workspace } from '../core/types.js';
import type { WorkspaceCreate, WorkspaceUpdate } from '../core/schemas.js';
import { codeKeyPrefix, windowStart, type ServiceDeps } from './deps.js';
import { requireWorkspace } from '../store/lookups.js';
import type { FunctionDataUsage } from '../store/ports.js';
import { purgeLogs } from './log-purge.js';

export interface WorkspaceView extends Workspace {
  functionCount: number;
  invocations24h: number;
  errors24h: number;
  errorRate: number;
  avgDuration: number;
}

/** Blob prefixes owned by a workspace besides function code (build sources, artifacts). */
export type WorkspaceBlobPrefixes = (workspaceId: string) => string[];

export function errorRate(stats: InvocationStats): number {
  if (stats.invocations === 0) return 0;
  return Math.round((stats.errors / stats.invocations) * 100 * 100) / 100;
}

export class WorkspaceService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly extraPrefixes: WorkspaceBlobPrefixes = () => [],
  ) {}

  async create(input: WorkspaceCreate): Promise<WorkspaceView> {
    const ws: Workspace = {
      id: this.deps.ids.workspace(),
      name: input.name.trim(),
      description: input.description ?? null,
      createdAt: this.deps.clock().toISOString(),
    };
    await this.deps.meta.createWorkspace(ws);
    return this.view(ws);
  }

  /** `visible`: which to show; the others' statistics are not worked out (a key sees one of many). */
  async list(visible: (id: string) => boolean = () => true): Promise<WorkspaceView[]> {
    const all = await this.deps.meta.listWorkspaces();
    return Promise.all(all.filter((ws) => visible(ws.id)).map((ws) => this.view(ws)));
  }

  async get(id: string): Promise<WorkspaceView> {
    return this.view(await this.require(id));
  }

  require(id: string): Promise<Workspace> {
    return requireWorkspace(this.deps.meta, id);
  }

  async update(id: string, patch: WorkspaceUpdate): Promise<WorkspaceView> {
    const changes: { name?: string; description?: string | null } = {};
    if (patch.name !== undefined && patch.name !== null) changes.name = patch.name.trim();
    if (patch.description !== undefined) changes.description = patch.description;
    const updated = await this.deps.meta.updateWorkspace(id, changes);
    if (!updated) throw notFound('Workspace', id);
    return this.view(updated);
  }

  async delete(id: string): Promise<void> {
    await requireWorkspace(this.deps.meta, id);
    for (const fn of await this.deps.meta.listFunctions(id)) await purgeLogs(this.deps.meta, fn.id);
    const removed = await this.deps.meta.deleteWorkspace(id);
    if (!removed) throw notFound('Workspace', id);
    for (const fn of removed) await this.deps.events?.deleted(fn.id);
    // Metadata went first, in one transaction: a crash between the two steps leaves orphan blobs
    // that no record points at (harmless, and removed by the prefix delete on a retry), never a
    // record that points at a missing blob.
    await this.deps.blobs.deletePrefix(codeKeyPrefix(id));
    for (const prefix of this.extraPrefixes(id)) await this.deps.blobs.deletePrefix(prefix);
  }

  /**
   * What the workspace keeps in the blob store, against its quota, and what its functions keep in
   * the database besides (logs, key-value entries: each within its function's own quota): the
   * report showed blobs only, and a tenant read a few KB where it kept gigabytes (a review).
   */
  async storage(id: string): Promise<StorageReport & FunctionDataUsage> {
    await requireWorkspace(this.deps.meta, id);
    if (!this.deps.quota) throw new EunhaError('INTERNAL_ERROR', 'no storage quota is configured');
    const report = await this.deps.quota.report(id);
    let logBytes = 0;
    let keyValueBytes = 0;
    for (const fn of await this.deps.meta.listFunctions(id)) {
      const used = await this.deps.meta.functionDataUsage(fn.id);
      logBytes += used.logBytes;
      keyValueBytes += used.keyValueBytes;
    }
    return { ...report, logBytes, keyValueBytes };
  }

  private async view(ws: Workspace): Promise<WorkspaceView> {
    const [functionCount, stats] = await Promise.all([
      this.deps.meta.countFunctions(ws.id),
      this.deps.meta.workspaceStats(ws.id, windowStart(this.deps.clock)),
    ]);
    return {
      ...ws,
      functionCount,
      invocations24h: stats.invocations,
      errors24h: stats.errors,
      errorRate: errorRate(stats),
      avgDuration: Math.round(stats.avgDuration * 1000) / 1000,
    };
  }
}
