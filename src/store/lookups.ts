// Lookups that must find their record or say exactly what is missing: a function under a
// workspace answers "workspace not found" when the workspace is the missing part. Every service
// asks through these, so the 404s of the API are one rule.

import { notFound } from '../core/errors.js';
import type { BuildTask, FunctionRecord, Workspace } from '../core/types.js';
import type { MetadataStore } from './ports.js';

export async function requireWorkspace(meta: MetadataStore, workspaceId: string): Promise<Workspace> {
  const ws = await meta.getWorkspace(workspaceId);
  if (!ws) throw notFound('Workspace', workspaceId);
  return ws;
}

export async function requireFunction(
  meta: MetadataStore,
  workspaceId: string,
  functionId: string,
): Promise<FunctionRecord> {
  const fn = await meta.getFunction(workspaceId, functionId);
  if (fn) return fn;
  await requireWorkspace(meta, workspaceId);
  throw notFound('Function', functionId);
}

/**
 * Every task of the workspace, newest first, a page at a time: a workspace may hold thousands,
 * each up to ~64 KiB of error text. A task deleted or updated meanwhile does not move the walk.
 */
export async function* eachTask(
  meta: Pick<MetadataStore, 'listTasks'>,
  workspaceId: string,
  pageSize = 200,
): AsyncGenerator<BuildTask> {
  let before: { createdAt: string; taskId: string } | undefined;
  for (;;) {
    const page = await meta.listTasks(workspaceId, { limit: pageSize, before });
    yield* page;
    const last = page.at(-1);
    if (page.length < pageSize || last === undefined) return;
    before = { createdAt: last.createdAt, taskId: last.taskId };
  }
}
