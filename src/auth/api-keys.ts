// Workspace API keys: generated here (256 random bits, shown once), stored only as their sha256,
// looked up by that hash through the store's index. A high-entropy key needs no slow hash: the
// hash only has to be one-way, and nobody can guess a 256-bit preimage.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EunhaError, notFound } from '../core/errors.js';
import { KeyedLock } from '../core/keyed-lock.js';
import type { Clock, IdSource } from '../core/ids.js';
import type { ApiKey } from '../core/types.js';
import type { MetadataStore } from '../store/ports.js';
import { requireWorkspace } from '../store/lookups.js';

export const KEY_PREFIX = 'eunha_';
/** Keys one workspace may hold: enough for every service and person, not a table to fill. */
export const MAX_KEYS_PER_WORKSPACE = 50;
/** Characters of a key shown in listings: the fixed prefix plus 6 random ones. */
const SHOWN = KEY_PREFIX.length + 6;

export const generateKey = (): string => KEY_PREFIX + randomBytes(32).toString('base64url');
export const hashKey = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** Equal-time comparison of two keys (by their hashes, so lengths never differ). */
export function sameKey(a: string, b: string): boolean {
  return timingSafeEqual(hashKey(a), hashKey(b));
}

export interface ApiKeyView {
  id: string;
  name: string | null;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const view = (k: ApiKey): ApiKeyView => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
});

/** Keys remembered past which the stale ones are dropped. */
const TOUCHED_SWEEP_AT = 1024;

export class ApiKeyService {
  /**
   * Last time a use was written, per key: lastUsedAt is refreshed at most once a minute. Entries
   * older than that say no more than the key's own lastUsedAt, and go once there are many: keys
   * deleted with their workspace stayed here for good (a soak review).
   */
  private readonly touched = new Map<string, number>();
  private sweptAt = 0;
  private readonly creates = new KeyedLock();

  constructor(
    private readonly deps: {
      meta: MetadataStore;
      clock: Clock;
      ids: IdSource;
      touchIntervalMs?: number;
    },
  ) {}

  /**
   * Creates a key; the answer is the only place the key itself ever appears. Creates in one
   * workspace run one at a time, so the cap's count cannot go stale.
   */
  create(workspaceId: string, name: string | null): Promise<ApiKeyView & { key: string }> {
    return this.creates.run(workspaceId, () => this.createAlone(workspaceId, name));
  }

  private async createAlone(workspaceId: string, name: string | null): Promise<ApiKeyView & { key: string }> {
    const existing = await this.deps.meta.listApiKeys(workspaceId);
    if (existing.length >= MAX_KEYS_PER_WORKSPACE) {
      throw new EunhaError(
        'CONFLICT',
        `this workspace has ${existing.length} API keys, the most allowed; revoke one first`,
        { limit: MAX_KEYS_PER_WORKSPACE },
      );
    }
    const key = generateKey();
    const record: ApiKey = {
      id: `key-${this.deps.ids.opaque()}`,
      workspaceId,
      name,
      prefix: key.slice(0, SHOWN),
      hash: hashKey(key).toString('hex'),
      createdAt: this.deps.clock().toISOString(),
      lastUsedAt: null,
    };
    await this.deps.meta.createApiKey(record);
    return { ...view(record), key };
  }

  async list(workspaceId: string): Promise<ApiKeyView[]> {
    await requireWorkspace(this.deps.meta, workspaceId);
    return (await this.deps.meta.listApiKeys(workspaceId)).map(view);
  }

  async delete(workspaceId: string, id: string): Promise<void> {
    if (!(await this.deps.meta.deleteApiKey(workspaceId, id))) {
      await requireWorkspace(this.deps.meta, workspaceId);
      throw notFound('API key', id);
    }
    this.touched.delete(id);
  }

  /** The stored key a presented key names, or undefined. */
  async authenticate(presented: string): Promise<ApiKey | undefined> {
    if (!presented.startsWith(KEY_PREFIX)) return undefined;
    const hash = hashKey(presented);
    const found = await this.deps.meta.findApiKeyByHash(hash.toString('hex'));
    // The index lookup found it by this very hash; the equal-time check keeps a corrupted or
    // truncated index entry from ever matching another key.
    if (!found || !timingSafeEqual(Buffer.from(found.hash, 'hex'), hash)) return undefined;
    this.recordUse(found);
    return found;
  }

  private recordUse(key: ApiKey): void {
    const now = this.deps.clock().getTime();
    const last = this.touched.get(key.id) ?? (key.lastUsedAt ? Date.parse(key.lastUsedAt) : 0);
    const interval = this.deps.touchIntervalMs ?? 60_000;
    if (now - last < interval) return;
    this.touched.set(key.id, now);
    // At most once an interval: past the threshold with that many keys in use, a sweep at every
    // write would walk the whole map once per key a minute.
    if (this.touched.size > TOUCHED_SWEEP_AT && now - this.sweptAt >= interval) {
      this.sweptAt = now;
      for (const [id, at] of this.touched) if (now - at >= interval) this.touched.delete(id);
    }
    // Best effort and off the request path: a failed write only leaves lastUsedAt older.
    void this.deps.meta
      .touchApiKey(key.workspaceId, key.id, new Date(now).toISOString())
      .catch(() => undefined);
  }
}
