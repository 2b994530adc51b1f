// API keys: WS#{ws}/KEY#{id}, found by the key's sha256 through gsi1 APIKEY#{hash}/METADATA. Only
// the hash is stored. Keys sit in the workspace partition, so a workspace delete removes them.
import { EunhaError, notFound } from '../../core/errors.js';
import type { ApiKey } from '../../core/types.js';
import { API_KEY_SK_PREFIX, METADATA_SK, apiKeyGsiPk, apiKeySk, prefixEnd, wsPk } from '../keys.js';
import { type Items, isPrimaryKeyConflict, parseRecord } from './items.js';
import type { Workspaces } from './workspaces.js';

const byCreation = (a: ApiKey, b: ApiKey): number =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

export class ApiKeys {
  constructor(
    private readonly items: Items,
    private readonly workspaces: Workspaces,
  ) {}

  private write(key: ApiKey, mode: 'insert' | 'upsert'): void {
    this.items[mode]({
      pk: wsPk(key.workspaceId),
      sk: apiKeySk(key.id),
      kind: 'apikey',
      data: JSON.stringify(key),
      gsi1pk: apiKeyGsiPk(key.hash),
      gsi1sk: METADATA_SK,
    });
  }

  /** Call inside a transaction: the workspace and uniqueness checks and the insert are one step. */
  create(key: ApiKey): void {
    if (!this.workspaces.exists(key.workspaceId)) throw notFound('Workspace', key.workspaceId);
    const conflict = () =>
      new EunhaError('CONFLICT', `API key '${key.id}' already exists`, { resource: 'apikey', id: key.id });
    if (this.findByHash(key.hash)) throw conflict();
    try {
      this.write(key, 'insert');
    } catch (err) {
      if (isPrimaryKeyConflict(err)) throw conflict();
      throw err;
    }
  }

  list(workspaceId: string): ApiKey[] {
    return this.items
      .range(wsPk(workspaceId), API_KEY_SK_PREFIX, prefixEnd(API_KEY_SK_PREFIX))
      .map((r) => JSON.parse(r.data ?? 'null') as ApiKey)
      .sort(byCreation);
  }

  findByHash(hash: string): ApiKey | undefined {
    return parseRecord<ApiKey>(this.items.getByGsi(apiKeyGsiPk(hash), METADATA_SK)?.data);
  }

  /** Call inside a transaction: read-merge-write. */
  touch(workspaceId: string, id: string, lastUsedAt: string): ApiKey | undefined {
    const current = parseRecord<ApiKey>(this.items.getData(wsPk(workspaceId), apiKeySk(id)));
    if (!current) return undefined;
    const next = { ...current, lastUsedAt };
    this.write(next, 'upsert');
    return next;
  }

  delete(workspaceId: string, id: string): boolean {
    return this.items.delete(wsPk(workspaceId), apiKeySk(id)) > 0;
  }
}
