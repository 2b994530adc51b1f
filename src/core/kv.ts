// The key-value port that a function's `spin_sdk.key_value` stores persist through. Declared in
// core so that the runtime (which may import only core) and the store adapters share one shape.
// Keys are scoped by the caller: (functionId, storeName) pairs never see each other's data.

export interface KeyValueScope {
  functionId: string;
  store: string;
}

export interface KeyValuePort {
  get(scope: KeyValueScope, key: string): Promise<Uint8Array | undefined>;
  /** NOT_FOUND when the function does not exist (it may have been deleted mid-invocation). */
  set(scope: KeyValueScope, key: string, value: Uint8Array): Promise<void>;
  delete(scope: KeyValueScope, key: string): Promise<void>;
  exists(scope: KeyValueScope, key: string): Promise<boolean>;
  keys(scope: KeyValueScope): Promise<string[]>;
}
