// Function records: WS#{ws}/FN#{fn}, found by id alone through gsi1 FN#{fn}/METADATA.
// Function ids are global (the invocation path knows no workspace), so an id is refused when it
// exists in any workspace. Deleting a function also drops its FN#{fn} partition (logs, kv,
// deployments — with them the active-deployment index entry, which is a column of the same row).
import { EunhaError, notFound } from '../../core/errors.js';
import type { FunctionRecord } from '../../core/types.js';
import type { FunctionPatch } from '../ports.js';
import { FN_SK_PREFIX, METADATA_SK, fnGsiPk, fnPk, fnSk, prefixEnd, wsPk } from '../keys.js';
import { type Items, definedOnly, isPrimaryKeyConflict, parseRecord } from './items.js';
import type { Workspaces } from './workspaces.js';

const byCreation = (a: FunctionRecord, b: FunctionRecord): number =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

export class Functions {
  private readonly countStmt;

  constructor(
    private readonly items: Items,
    private readonly workspaces: Workspaces,
  ) {
    this.countStmt = items.db.prepare<[string, string, string], { n: number }>(
      'SELECT count(*) AS n FROM items WHERE pk = ? AND sk >= ? AND sk < ?',
    );
  }

  private write(fn: FunctionRecord, mode: 'insert' | 'upsert'): void {
    this.items[mode]({
      pk: wsPk(fn.workspaceId),
      sk: fnSk(fn.id),
      kind: 'function',
      data: JSON.stringify(fn),
      gsi1pk: fnGsiPk(fn.id),
      gsi1sk: METADATA_SK,
    });
  }

  /** Call inside a transaction, so the workspace check and the insert are one atomic step. */
  create(fn: FunctionRecord): void {
    if (!this.workspaces.exists(fn.workspaceId)) throw notFound('Workspace', fn.workspaceId);
    const conflict = () =>
      new EunhaError('CONFLICT', `function '${fn.id}' already exists`, { resource: 'function', id: fn.id });
    if (this.find(fn.id)) throw conflict();
    try {
      this.write(fn, 'insert');
    } catch (err) {
      if (isPrimaryKeyConflict(err)) throw conflict();
      throw err;
    }
  }

  get(workspaceId: string, functionId: string): FunctionRecord | undefined {
    return parseRecord<FunctionRecord>(this.items.getData(wsPk(workspaceId), fnSk(functionId)));
  }

  find(functionId: string): FunctionRecord | undefined {
    return parseRecord<FunctionRecord>(this.items.getByGsi(fnGsiPk(functionId), METADATA_SK)?.data);
  }

  /** One partition read, sorted here: a workspace holds few functions, as a DynamoDB query would. */
  list(workspaceId: string): FunctionRecord[] {
    return this.items
      .range(wsPk(workspaceId), FN_SK_PREFIX, prefixEnd(FN_SK_PREFIX))
      .map((r) => JSON.parse(r.data ?? 'null') as FunctionRecord)
      .sort(byCreation);
  }

  count(workspaceId: string): number {
    return this.countStmt.get(wsPk(workspaceId), FN_SK_PREFIX, prefixEnd(FN_SK_PREFIX))?.n ?? 0;
  }

  /** Call inside a transaction: read-merge-write. */
  update(
    workspaceId: string,
    functionId: string,
    given: FunctionPatch | ((current: FunctionRecord) => FunctionPatch),
  ): FunctionRecord | undefined {
    const current = this.get(workspaceId, functionId);
    if (!current) return undefined;
    const patch = typeof given === 'function' ? given(current) : given;
    // The key fields are pinned even if an untyped caller sends them.
    const next: FunctionRecord = {
      ...current,
      ...definedOnly(patch),
      id: current.id,
      workspaceId: current.workspaceId,
      createdAt: current.createdAt,
    };
    this.write(next, 'upsert');
    return next;
  }

  /** Call inside a transaction. */
  delete(
    workspaceId: string,
    functionId: string,
    check?: (current: FunctionRecord) => void,
  ): FunctionRecord | undefined {
    const current = this.get(workspaceId, functionId);
    if (!current) return undefined;
    check?.(current);
    this.items.delete(wsPk(workspaceId), fnSk(functionId));
    this.items.deletePartition(fnPk(functionId));
    return current;
  }
}
