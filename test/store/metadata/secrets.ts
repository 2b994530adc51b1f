// Contract: rewriting a function's sealed secret variables (a key rotation) — its record and every
// one of its deployments in one atomic step, nothing else about them changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FunctionRecord } from '../../../src/core/types.js';
import type { MetadataStore } from '../../../src/store/ports.js';
import { deployment, fn, workspace } from '../fixtures.js';
import type { WithStore } from './harness.js';

/** A function holding {TOKEN: 'f'}, with version 1 holding {TOKEN: 'v1'} and active version 2 none. */
async function withSecrets(store: MetadataStore): Promise<FunctionRecord> {
  const ws = workspace();
  await store.createWorkspace(ws);
  const f = fn(ws.id, { secretEnvironmentVariables: { TOKEN: 'f' } });
  await store.createFunction(f);
  const config = (sealed?: Record<string, string>) => ({
    ...deployment(f).config,
    ...(sealed ? { secretEnvironmentVariables: sealed } : {}),
  });
  await store.createDeployment(deployment(f, { config: config({ TOKEN: 'v1' }) }));
  await store.createDeployment(deployment(f, { config: config() }));
  await store.activateDeployment(f.id, 2);
  return f;
}

const sealedOf = async (store: MetadataStore, f: FunctionRecord) => [
  (await store.getFunction(f.workspaceId, f.id))?.secretEnvironmentVariables,
  ...(await store.listDeployments(f.id)).map((d) => d.config.secretEnvironmentVariables),
];

export function sealedSecretTests(withStore: WithStore): void {
  test('rewriteSecrets: the record and each deployment holding secrets, nothing else about them', () =>
    withStore(async (store) => {
      const f = await withSecrets(store);
      const before = await store.getFunction(f.workspaceId, f.id);
      const seen: Array<Record<string, string>> = [];
      const n = await store.rewriteSecrets(f.workspaceId, f.id, (sealed) => {
        seen.push(sealed);
        return sealed.TOKEN === 'f' ? undefined : { TOKEN: `${sealed.TOKEN}!` };
      });
      assert.deepEqual(seen, [{ TOKEN: 'f' }, { TOKEN: 'v1' }], 'maps that hold secrets only');
      assert.equal(n, 1);
      assert.deepEqual(await sealedOf(store, f), [{ TOKEN: 'f' }, undefined, { TOKEN: 'v1!' }]);
      assert.deepEqual(await store.getFunction(f.workspaceId, f.id), before, 'left as it was');
      const active = await store.listActiveDeployments();
      assert.deepEqual(
        active.filter((d) => d.functionId === f.id).map((d) => d.version),
        [2],
        'the active version is still the active one',
      );
      assert.equal(await store.rewriteSecrets(f.workspaceId, f.id, (s) => ({ TOKEN: `${s.TOKEN}?` })), 2);
      const after = await store.getFunction(f.workspaceId, f.id);
      assert.deepEqual(
        after,
        { ...before, secretEnvironmentVariables: { TOKEN: 'f?' } },
        'lastModified kept',
      );
      assert.equal(await store.rewriteSecrets(f.workspaceId, 'fn-none', () => ({})), 0);
    }));

  test('rewriteSecrets: all or nothing, an exception from the change included', () =>
    withStore(async (store) => {
      const f = await withSecrets(store);
      const before = await sealedOf(store, f);
      let calls = 0;
      await assert.rejects(
        store.rewriteSecrets(f.workspaceId, f.id, (sealed) => {
          // The record's new map is accepted, then the deployment's step fails.
          if (++calls === 2) throw new Error('cannot open');
          return { TOKEN: `${sealed.TOKEN}!` };
        }),
        /cannot open/,
      );
      assert.equal(calls, 2);
      assert.deepEqual(await sealedOf(store, f), before, 'the record not rewritten without its deployments');
    }));
}
