// Shared plumbing of the metadata contract sections: a fresh store per test on an injected clock,
// closed afterwards whatever happens, and a key filter for proving deletes leave nothing behind.
import type { MetadataStore } from '../../../src/store/ports.js';

export interface StoreOptions {
  /** The adapter's per-function key-value quota, in kvEntryBytes (core/kv.ts). */
  kvMaxBytesPerFunction?: number;
  /** The adapter's per-function quota on stored logs, in logEntryBytes (core/log-quota.ts). */
  logMaxBytesPerFunction?: number;
}

export type MakeMetadataStore = (opts: { now: () => Date } & StoreOptions) => Promise<MetadataStore>;

/** A clock the test moves by hand; the store sees it through opts.now. */
export class ManualClock {
  private t: Date;
  constructor(start = '2026-03-02T12:00:00.000Z') {
    this.t = new Date(start);
  }
  readonly now = (): Date => new Date(this.t.getTime());
  advance(ms: number): void {
    this.t = new Date(this.t.getTime() + ms);
  }
}

export type WithStore = (
  body: (store: MetadataStore, clock: ManualClock) => Promise<void>,
  opts?: StoreOptions,
) => Promise<void>;

export function withStoreOf(make: MakeMetadataStore): WithStore {
  return async (body, opts = {}) => {
    const clock = new ManualClock();
    const store = await make({ ...opts, now: clock.now });
    try {
      await body(store, clock);
    } finally {
      await store.close();
    }
  };
}

/** Keys naming any of the ids, in a fixed order (dumpKeys itself promises no order). */
export const mentions = (keys: Array<{ pk: string; sk: string }>, ids: string[]): string[] =>
  keys
    .filter((k) => ids.some((id) => k.pk.includes(id) || k.sk.includes(id)))
    .map((k) => `${k.pk} | ${k.sk}`)
    .sort();
