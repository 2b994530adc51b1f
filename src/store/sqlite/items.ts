// Row-level access to the single `items` table: the few statements every record kind shares
// (insert, upsert, point reads on either key, partition ranges, deletes). Record files build on
// these and never write SQL against another kind's rows.
import { METADATA_SK, fnGsiPk } from '../keys.js';
import type { Db } from './connection.js';

export type ItemKind =
  | 'workspace'
  | 'function'
  | 'task'
  | 'log'
  | 'logusage'
  | 'logseq'
  | 'logdeleted'
  | 'minute'
  | 'kv'
  | 'kvusage'
  | 'deployment'
  | 'deployfloor'
  | 'apikey';

export interface ItemRow {
  pk: string;
  sk: string;
  kind: ItemKind;
  data: string | null;
  bin: Uint8Array | null;
  gsi1pk: string | null;
  gsi1sk: string | null;
  ts: string | null;
  ws_id: string | null;
  is_error: number | null;
  duration_ms: number | null;
  cpu_ms: number | null;
  calls: number | null;
  seq: number | null;
}

/** Only the columns a kind uses need to be given; the rest are NULL. */
export type ItemInput = Pick<ItemRow, 'pk' | 'sk' | 'kind'> & Partial<Omit<ItemRow, 'pk' | 'sk' | 'kind'>>;

const COLUMNS = [
  'pk',
  'sk',
  'kind',
  'data',
  'bin',
  'gsi1pk',
  'gsi1sk',
  'ts',
  'ws_id',
  'is_error',
  'duration_ms',
  'cpu_ms',
  'calls',
  'seq',
];
const VALUES = COLUMNS.map((c) => `@${c}`).join(', ');

function fill(input: ItemInput): ItemRow {
  return {
    data: null,
    bin: null,
    gsi1pk: null,
    gsi1sk: null,
    ts: null,
    ws_id: null,
    is_error: null,
    duration_ms: null,
    cpu_ms: null,
    calls: null,
    seq: null,
    ...input,
  };
}

/** The statements shared by every record kind, prepared once per connection. */
export class Items {
  private readonly insertStmt;
  private readonly upsertStmt;
  private readonly getStmt;
  private readonly getByGsiStmt;
  private readonly rangeStmt;
  private readonly deleteStmt;
  private readonly deletePartitionStmt;
  private readonly dumpStmt;
  private readonly fnExistsStmt;

  constructor(readonly db: Db) {
    this.insertStmt = db.prepare<[ItemRow]>(`INSERT INTO items (${COLUMNS.join(', ')}) VALUES (${VALUES})`);
    this.upsertStmt = db.prepare<[ItemRow]>(
      `INSERT OR REPLACE INTO items (${COLUMNS.join(', ')}) VALUES (${VALUES})`,
    );
    this.getStmt = db.prepare<[string, string], { data: string | null }>(
      'SELECT data FROM items WHERE pk = ? AND sk = ?',
    );
    this.getByGsiStmt = db.prepare<[string, string], { pk: string; sk: string; data: string | null }>(
      'SELECT pk, sk, data FROM items WHERE gsi1pk = ? AND gsi1sk = ?',
    );
    this.rangeStmt = db.prepare<[string, string, string], { sk: string; data: string | null }>(
      'SELECT sk, data FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk',
    );
    this.deleteStmt = db.prepare<[string, string]>('DELETE FROM items WHERE pk = ? AND sk = ?');
    this.deletePartitionStmt = db.prepare<[string]>('DELETE FROM items WHERE pk = ?');
    this.dumpStmt = db.prepare<[], { pk: string; sk: string }>('SELECT pk, sk FROM items ORDER BY pk, sk');
    this.fnExistsStmt = db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM items WHERE gsi1pk = ? AND gsi1sk = ? LIMIT 1',
    );
  }

  /**
   * Rows under FN#{fn} (logs, key-value data) are written only while the function exists: a write
   * that lands after its delete would be left behind, where nothing can read or remove it.
   */
  functionExists(functionId: string): boolean {
    return this.fnExistsStmt.get(fnGsiPk(functionId), METADATA_SK) !== undefined;
  }

  /** Fails with SQLITE_CONSTRAINT_PRIMARYKEY when (pk, sk) exists. */
  insert(input: ItemInput): void {
    this.insertStmt.run(fill(input));
  }

  upsert(input: ItemInput): void {
    this.upsertStmt.run(fill(input));
  }

  getData(pk: string, sk: string): string | undefined {
    return this.getStmt.get(pk, sk)?.data ?? undefined;
  }

  /** Point read on the secondary key; the first match (callers keep gsi1 keys unique per kind). */
  getByGsi(gsi1pk: string, gsi1sk: string): { pk: string; sk: string; data: string | null } | undefined {
    return this.getByGsiStmt.get(gsi1pk, gsi1sk);
  }

  /** Rows of a partition with from <= sk < to, in sort-key order. */
  range(pk: string, from: string, to: string): Array<{ sk: string; data: string | null }> {
    return this.rangeStmt.all(pk, from, to);
  }

  delete(pk: string, sk: string): number {
    return this.deleteStmt.run(pk, sk).changes;
  }

  deletePartition(pk: string): number {
    return this.deletePartitionStmt.run(pk).changes;
  }

  dumpKeys(): Array<{ pk: string; sk: string }> {
    return this.dumpStmt.all();
  }
}

export function parseRecord<T>(data: string | null | undefined): T | undefined {
  return data == null ? undefined : (JSON.parse(data) as T);
}

/** Drops keys whose value is undefined, so a patch never erases a field by accident. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function isPrimaryKeyConflict(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    'code' in err &&
    (err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err.code === 'SQLITE_CONSTRAINT_UNIQUE')
  );
}
