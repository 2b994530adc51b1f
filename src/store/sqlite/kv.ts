// Key-value data of functions (spin_sdk.key_value): FN#{fn}/KV#{store}#{key}, value as raw bytes
// in the bin column. Living in the function's partition, it goes when the function goes, and only
// an existing function's data is written.
//
// Each function's entries count against a quota (kvEntryBytes): without one, guest code could fill
// the platform's disk for every tenant. The running total is one row, FN#{fn}/KVUSAGE, kept in the
// same transaction as each write; a file written before it existed gets its total summed once.
import { EunhaError, notFound } from '../../core/errors.js';
import {
  KV_ENTRY_OVERHEAD,
  KV_LIST_MAX_BYTES,
  KV_LIST_MAX_KEYS,
  type KeyValuePort,
  type KeyValueScope,
  kvEntryBytes,
} from '../../core/kv.js';
import { KV_SK_PREFIX, KV_USAGE_SK, fnPk, kvSk, kvStorePrefix, prefixEnd } from '../keys.js';
import type { Items } from './items.js';

type Run = <T>(fn: () => T) => Promise<T>;

/** Printable ASCII but the quote and the backslash: written in JSON as it is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

export class SqliteKeyValue implements KeyValuePort {
  private readonly getStmt;
  private readonly keysStmt;
  private readonly sizeStmt;
  private readonly sumStmt;

  /** `run` wraps each call in the store's open/error checks, `tx` in an immediate transaction too. */
  constructor(
    private readonly items: Items,
    private readonly run: Run,
    private readonly tx: Run,
    private readonly maxBytesPerFunction: number,
  ) {
    this.getStmt = items.db.prepare<[string, string], { bin: Buffer | null }>(
      "SELECT bin FROM items WHERE pk = ? AND sk = ? AND kind = 'kv'",
    );
    // One more than a listing may hold, so that a store past it is known without reading it all.
    this.keysStmt = items.db
      .prepare<[number, string, string, string], string>(
        "SELECT substr(sk, ?) FROM items WHERE pk = ? AND sk >= ? AND sk < ? AND kind = 'kv' " +
          `ORDER BY sk LIMIT ${KV_LIST_MAX_KEYS + 1}`,
      )
      .pluck();
    this.sizeStmt = items.db.prepare<[string, string], { n: number }>(
      "SELECT COALESCE(length(bin), 0) AS n FROM items WHERE pk = ? AND sk = ? AND kind = 'kv'",
    );
    // A sort key is 'KV#' + label + '#' + key, so its bytes less 4 are the label's and the key's
    // (labels that pass the bridge's check are never escaped).
    this.sumStmt = items.db.prepare<[number, string, string, string], { used: number }>(
      `SELECT COALESCE(SUM(? + length(CAST(sk AS BLOB)) - 4 + COALESCE(length(bin), 0)), 0) AS used
       FROM items WHERE pk = ? AND sk >= ? AND sk < ? AND kind = 'kv'`,
    );
  }

  get(scope: KeyValueScope, key: string): Promise<Uint8Array | undefined> {
    return this.run(() => {
      const row = this.getStmt.get(fnPk(scope.functionId), kvSk(scope.store, key));
      // A copy as a plain Uint8Array: callers compare and slice it without Buffer semantics.
      return row ? new Uint8Array(row.bin ?? new Uint8Array(0)) : undefined;
    });
  }

  set(scope: KeyValueScope, key: string, value: Uint8Array): Promise<void> {
    return this.tx(() => {
      // An invocation still running when its function was deleted writes nothing back.
      if (!this.items.functionExists(scope.functionId)) throw notFound('Function', scope.functionId);
      const pk = fnPk(scope.functionId);
      const sk = kvSk(scope.store, key);
      const used = this.usage(pk);
      const next = used - this.entrySize(scope, key) + kvEntryBytes(scope.store, key, value.byteLength);
      // A write that does not grow the total (an overwrite with less) is always allowed.
      if (next > this.maxBytesPerFunction && next > used) {
        throw new EunhaError(
          'QUOTA_EXCEEDED',
          `key-value quota exceeded: this function's data would count ${next} bytes, over its ` +
            `${this.maxBytesPerFunction}; delete keys to make room`,
          { functionId: scope.functionId, used, limit: this.maxBytesPerFunction },
        );
      }
      this.items.upsert({
        pk,
        sk,
        kind: 'kv',
        // better-sqlite3 binds Buffers as BLOBs; this view shares the caller's memory, no copy.
        bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      });
      this.setUsage(pk, next);
    });
  }

  delete(scope: KeyValueScope, key: string): Promise<void> {
    return this.tx(() => {
      const pk = fnPk(scope.functionId);
      const size = this.entrySize(scope, key);
      if (size === 0) return;
      const used = this.usage(pk);
      this.items.delete(pk, kvSk(scope.store, key));
      this.setUsage(pk, Math.max(0, used - size));
    });
  }

  exists(scope: KeyValueScope, key: string): Promise<boolean> {
    return this.run(() => this.getStmt.get(fnPk(scope.functionId), kvSk(scope.store, key)) !== undefined);
  }

  keys(scope: KeyValueScope): Promise<string[]> {
    return this.run(() => {
      const prefix = kvStorePrefix(scope.store);
      // substr counts characters from 1; labels that pass the bridge's check are ASCII.
      const rows = this.keysStmt.iterate(
        prefix.length + 1,
        fnPk(scope.functionId),
        prefix,
        prefixEnd(prefix),
      );
      const keys: string[] = [];
      let bytes = 2;
      // Row by row, so that a listing past the byte cap stops reading there.
      for (const key of rows) {
        // A printable ASCII key needs no escape: its JSON is its length and two quotes.
        bytes += (PLAIN.test(key) ? key.length + 2 : Buffer.byteLength(JSON.stringify(key))) + 1;
        if (bytes > KV_LIST_MAX_BYTES) break;
        keys.push(key);
      }
      if (keys.length > KV_LIST_MAX_KEYS || bytes > KV_LIST_MAX_BYTES) {
        throw new EunhaError(
          'QUOTA_EXCEEDED',
          `store '${scope.store}' holds more keys than one listing may return (${KV_LIST_MAX_KEYS} ` +
            `keys, ${KV_LIST_MAX_BYTES} bytes of them as JSON); keep fewer or shorter keys in it`,
          {
            functionId: scope.functionId,
            store: scope.store,
            maxKeys: KV_LIST_MAX_KEYS,
            maxBytes: KV_LIST_MAX_BYTES,
          },
        );
      }
      return keys;
    });
  }

  /** What an existing entry counts (0 when there is none). Call inside a transaction. */
  private entrySize(scope: KeyValueScope, key: string): number {
    const row = this.sizeStmt.get(fnPk(scope.functionId), kvSk(scope.store, key));
    return row ? kvEntryBytes(scope.store, key, row.n) : 0;
  }

  /** The function's entries' bytes, as its quota counts them. Call inside a transaction. */
  bytesOf(functionId: string): number {
    return this.usage(fnPk(functionId));
  }

  /** The function's running total; summed from its entries when the row is missing. */
  private usage(pk: string): number {
    const stored = this.items.getData(pk, KV_USAGE_SK);
    if (stored !== undefined) return Number(stored);
    return this.sumStmt.get(KV_ENTRY_OVERHEAD, pk, KV_SK_PREFIX, prefixEnd(KV_SK_PREFIX))?.used ?? 0;
  }

  private setUsage(pk: string, bytes: number): void {
    this.items.upsert({ pk, sk: KV_USAGE_SK, kind: 'kvusage', data: String(bytes) });
  }
}
