// Contract: API keys — stored by hash, found by hash through the index, listed per workspace,
// touched, deleted, and gone with their workspace.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { ApiKey } from '../../../src/core/types.js';
import { eunhaError, uid, workspace } from '../fixtures.js';
import { type WithStore, mentions } from './harness.js';

export function apiKey(workspaceId: string, overrides: Partial<ApiKey> = {}): ApiKey {
  const id = overrides.id ?? uid('key');
  return {
    id,
    workspaceId,
    name: 'ci',
    prefix: 'eunha_abcdef',
    hash: createHash('sha256').update(id).digest('hex'),
    createdAt: '2026-03-01T00:00:00.000Z',
    lastUsedAt: null,
    ...overrides,
  };
}

export function apiKeyTests(withStore: WithStore): void {
  test('api key: create, find by hash, list oldest first', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const b = apiKey(ws.id, { createdAt: '2026-03-01T02:00:00.000Z' });
      const a = apiKey(ws.id, { createdAt: '2026-03-01T01:00:00.000Z', name: null });
      await store.createApiKey(b);
      await store.createApiKey(a);
      assert.deepEqual(await store.findApiKeyByHash(a.hash), a);
      assert.equal(await store.findApiKeyByHash('0'.repeat(64)), undefined);
      assert.deepEqual(await store.listApiKeys(ws.id), [a, b]);
      assert.deepEqual(await store.listApiKeys(uid('other')), []);
    }));

  test('api key: a missing workspace is NOT_FOUND; a reused id or hash is a CONFLICT', () =>
    withStore(async (store) => {
      await assert.rejects(store.createApiKey(apiKey(uid('ghost'))), eunhaError('NOT_FOUND'));
      const ws = workspace();
      await store.createWorkspace(ws);
      const k = apiKey(ws.id);
      await store.createApiKey(k);
      await assert.rejects(store.createApiKey({ ...k, hash: 'f'.repeat(64) }), eunhaError('CONFLICT'));
      await assert.rejects(store.createApiKey({ ...k, id: uid('key') }), eunhaError('CONFLICT'));
      assert.equal((await store.listApiKeys(ws.id)).length, 1);
    }));

  test('api key: touch records the last use; delete removes it and its index entry', () =>
    withStore(async (store) => {
      const ws = workspace();
      await store.createWorkspace(ws);
      const k = apiKey(ws.id);
      await store.createApiKey(k);
      const touched = await store.touchApiKey(ws.id, k.id, '2026-03-02T00:00:00.000Z');
      assert.equal(touched?.lastUsedAt, '2026-03-02T00:00:00.000Z');
      assert.equal((await store.findApiKeyByHash(k.hash))?.lastUsedAt, '2026-03-02T00:00:00.000Z');
      assert.equal(await store.touchApiKey(uid('other'), k.id, '2026-03-02T00:00:00.000Z'), undefined);
      assert.equal(await store.deleteApiKey(uid('other'), k.id), false, 'scoped to its workspace');
      assert.equal(await store.deleteApiKey(ws.id, k.id), true);
      assert.equal(await store.deleteApiKey(ws.id, k.id), false);
      assert.equal(await store.findApiKeyByHash(k.hash), undefined);
      assert.deepEqual(mentions(await store.dumpKeys(), [k.id]), []);
    }));

  test('api key: deleting the workspace deletes its keys', () =>
    withStore(async (store) => {
      const [w1, w2] = [workspace(), workspace()];
      await store.createWorkspace(w1);
      await store.createWorkspace(w2);
      const gone = apiKey(w1.id);
      const kept = apiKey(w2.id);
      await store.createApiKey(gone);
      await store.createApiKey(kept);
      await store.deleteWorkspace(w1.id);
      assert.equal(await store.findApiKeyByHash(gone.hash), undefined);
      assert.deepEqual(mentions(await store.dumpKeys(), [w1.id, gone.id]), []);
      assert.deepEqual(await store.findApiKeyByHash(kept.hash), kept);
    }));
}
