// Key-value data of functions (spin_sdk.key_value): FN#{fn}/KV#{store}#{key}, value as raw bytes
// in the bin column. Living in the function's partition, it goes when the function goes, and only
// an existing function's data is written.
import { notFound } from '../../core/errors.js';
import type { KeyValuePort, KeyValueScope } from '../../core/kv.js';
import { fnPk, kvSk, kvStorePrefix, prefixEnd } from '../keys.js';
import type { Items } from './items.js';

export class SqliteKeyValue implements KeyValuePort {
  private readonly getStmt;
  private readonly keysStmt;

  /** `guard` runs each call with the store's open/error checks (see store.ts). */
  constructor(
    private readonly items: Items,
    private readonly guard: <T>(fn: () => T) => Promise<T>,
  ) {
    this.getStmt = items.db.prepare<[string, string], { bin: Buffer | null }>(
      "SELECT bin FROM items WHERE pk = ? AND sk = ? AND kind = 'kv'",
    );
    this.keysStmt = items.db.prepare<[string, string, string], { sk: string }>(
      "SELECT sk FROM items WHERE pk = ? AND sk >= ? AND sk < ? AND kind = 'kv' ORDER BY sk",
    );
  }

  get(scope: KeyValueScope, key: string): Promise<Uint8Array | undefined> {
    return this.guard(() => {
      const row = this.getStmt.get(fnPk(scope.functionId), kvSk(scope.store, key));
      // A copy as a plain Uint8Array: callers compare and slice it without Buffer semantics.
      return row ? new Uint8Array(row.bin ?? new Uint8Array(0)) : undefined;
    });
  }

  set(scope: KeyValueScope, key: string, value: Uint8Array): Promise<void> {
    return this.guard(() => {
      // An invocation still running when its function was deleted writes nothing back.
      if (!this.items.functionExists(scope.functionId)) throw notFound('Function', scope.functionId);
      this.items.upsert({
        pk: fnPk(scope.functionId),
        sk: kvSk(scope.store, key),
        kind: 'kv',
        // better-sqlite3 binds Buffers as BLOBs; this view shares the caller's memory, no copy.
        bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      });
    });
  }

  delete(scope: KeyValueScope, key: string): Promise<void> {
    return this.guard(() => {
      this.items.delete(fnPk(scope.functionId), kvSk(scope.store, key));
    });
  }

  exists(scope: KeyValueScope, key: string): Promise<boolean> {
    return this.guard(() => this.getStmt.get(fnPk(scope.functionId), kvSk(scope.store, key)) !== undefined);
  }

  keys(scope: KeyValueScope): Promise<string[]> {
    return this.guard(() => {
      const prefix = kvStorePrefix(scope.store);
      return this.keysStmt
        .all(fnPk(scope.functionId), prefix, prefixEnd(prefix))
        .map((r) => r.sk.slice(prefix.length));
    });
  }
}
