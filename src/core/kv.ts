// The key-value port that a function's `spin_sdk.key_value` stores persist through. Declared in
// core so that the runtime (which may import only core) and the store adapters share one shape.
// Keys are scoped by the caller: (functionId, storeName) pairs never see each other's data. Each
// function's entries together have a byte quota, so guest code cannot fill the platform's disk.

export interface KeyValueScope {
  functionId: string;
  /** A Spin store label, [A-Za-z0-9_-]{1,64} (runtime/kv-bridge.ts refuses others). */
  store: string;
}

/** The default per-function quota (EUNHA_KV_MAX_BYTES). */
export const DEFAULT_KV_MAX_BYTES = 64 * 1024 * 1024;
/** What one entry counts against its function's quota; the overhead keeps empty values from being free. */
export const KV_ENTRY_OVERHEAD = 64;
export const kvEntryBytes = (store: string, key: string, valueBytes: number): number =>
  KV_ENTRY_OVERHEAD + Buffer.byteLength(store) + Buffer.byteLength(key) + valueBytes;

/**
 * How much one key listing may hold, counted as the keys' JSON text (what sending it costs: JSON
 * writes a control character as six). Listing, encoding and sending happen on the server's main
 * thread, so an unbounded one stalled every tenant: a review's 61,000 keys of 1 KiB were a
 * 378-MB string, 6–9 s of the event loop and 1 GB of memory.
 */
export const KV_LIST_MAX_BYTES = 4 * 1024 * 1024;
/** How many keys one listing may hold: per key, reading and encoding cost the main thread ~1–2 µs. */
export const KV_LIST_MAX_KEYS = 10_000;

export interface KeyValuePort {
  get(scope: KeyValueScope, key: string): Promise<Uint8Array | undefined>;
  /**
   * NOT_FOUND when the function does not exist (it may have been deleted mid-invocation);
   * QUOTA_EXCEEDED when it would take the function's entries (all its stores, counted by
   * kvEntryBytes) past the adapter's per-function limit. A write that does not grow the total is
   * always allowed.
   */
  set(scope: KeyValueScope, key: string, value: Uint8Array): Promise<void>;
  delete(scope: KeyValueScope, key: string): Promise<void>;
  exists(scope: KeyValueScope, key: string): Promise<boolean>;
  /**
   * The store's keys, sorted. QUOTA_EXCEEDED, having read no more than it must, when there are
   * more than KV_LIST_MAX_KEYS or they hold more than KV_LIST_MAX_BYTES as JSON text.
   */
  keys(scope: KeyValueScope): Promise<string[]>;
}
