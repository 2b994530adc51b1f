// Workspace records: WS#{ws}/METADATA, listed through gsi1 WORKSPACES/{createdAt}#{ws} so that
// listing never scans. Deleting a workspace cascades to everything it owns, in one transaction.
import { EunhaError } from '../../core/errors.js';
import type { FunctionRecord, Workspace } from '../../core/types.js';
import type { WorkspacePatch } from '../ports.js';
import {
  FN_SK_PREFIX,
  METADATA_SK,
  WORKSPACES_GSI_PK,
  fnPk,
  prefixEnd,
  workspaceGsiSk,
  wsLogsGsiPk,
  wsPk,
} from '../keys.js';
import { type Items, definedOnly, isPrimaryKeyConflict, parseRecord } from './items.js';

export class Workspaces {
  private readonly listStmt;
  private readonly deleteByGsiPkStmt;

  constructor(private readonly items: Items) {
    this.listStmt = items.db.prepare<[string], { data: string }>(
      'SELECT data FROM items WHERE gsi1pk = ? ORDER BY gsi1sk',
    );
    this.deleteByGsiPkStmt = items.db.prepare<[string]>('DELETE FROM items WHERE gsi1pk = ?');
  }

  private write(ws: Workspace, mode: 'insert' | 'upsert'): void {
    this.items[mode]({
      pk: wsPk(ws.id),
      sk: METADATA_SK,
      kind: 'workspace',
      data: JSON.stringify(ws),
      gsi1pk: WORKSPACES_GSI_PK,
      gsi1sk: workspaceGsiSk(ws.createdAt, ws.id),
    });
  }

  create(ws: Workspace): void {
    try {
      this.write(ws, 'insert');
    } catch (err) {
      if (isPrimaryKeyConflict(err)) {
        throw new EunhaError('CONFLICT', `workspace '${ws.id}' already exists`, {
          resource: 'workspace',
          id: ws.id,
        });
      }
      throw err;
    }
  }

  get(id: string): Workspace | undefined {
    return parseRecord<Workspace>(this.items.getData(wsPk(id), METADATA_SK));
  }

  exists(id: string): boolean {
    return this.items.getData(wsPk(id), METADATA_SK) !== undefined;
  }

  list(): Workspace[] {
    return this.listStmt.all(WORKSPACES_GSI_PK).map((r) => JSON.parse(r.data) as Workspace);
  }

  /** Call inside a transaction: read-merge-write. */
  update(id: string, patch: WorkspacePatch): Workspace | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    // id and createdAt are pinned: the gsi1 sort key is derived from them.
    const next: Workspace = {
      ...current,
      ...definedOnly(patch),
      id: current.id,
      createdAt: current.createdAt,
    };
    this.write(next, 'upsert');
    return next;
  }

  /**
   * Call inside a transaction. Removes the workspace partition (its record, functions and tasks),
   * each function's partition (execution logs, kv data, deployments), and any execution log still
   * indexed under the workspace (a log appended for a function that was already gone).
   */
  delete(id: string): FunctionRecord[] | undefined {
    if (!this.exists(id)) return undefined;
    const pk = wsPk(id);
    const functions = this.items
      .range(pk, FN_SK_PREFIX, prefixEnd(FN_SK_PREFIX))
      .map((r) => JSON.parse(r.data ?? 'null') as FunctionRecord);
    for (const fn of functions) this.items.deletePartition(fnPk(fn.id));
    this.deleteByGsiPkStmt.run(wsLogsGsiPk(id));
    this.items.deletePartition(pk);
    return functions;
  }
}
