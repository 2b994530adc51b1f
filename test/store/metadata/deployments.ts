// Contract: deployments — per-function version numbers allocated race-free, newest-first listing,
// exactly one active version per function found without a scan, and cascading deletes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Deployment, FunctionRecord } from '../../../src/core/types.js';
import type { MetadataStore } from '../../../src/store/ports.js';
import { deployment, eunhaError, fn, uid, workspace } from '../fixtures.js';
import { type WithStore, mentions } from './harness.js';

/** A workspace holding `count` functions, each stored. */
async function functionsIn(store: MetadataStore, count: number): Promise<FunctionRecord[]> {
  const ws = workspace();
  await store.createWorkspace(ws);
  const fns = Array.from({ length: count }, () => fn(ws.id));
  for (const f of fns) await store.createFunction(f);
  return fns;
}

/** `count` deployments of f, created one after the other (so versions 1..count). */
async function deploy(store: MetadataStore, f: FunctionRecord, count: number): Promise<Deployment[]> {
  const out: Deployment[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await store.createDeployment(deployment(f, { digest: `${i}`.padStart(64, 'd') })));
  }
  return out;
}

const versions = (ds: Deployment[]): number[] => ds.map((d) => d.version);
const activeVersions = async (store: MetadataStore, f: FunctionRecord): Promise<number[]> =>
  versions((await store.listDeployments(f.id)).filter((d) => d.active));
/** listActiveDeployments promises no order; compare by function id. */
const byFunction = (ds: Deployment[]): Deployment[] =>
  [...ds].sort((a, b) => (a.functionId < b.functionId ? -1 : a.functionId > b.functionId ? 1 : 0));

export function deploymentTests(withStore: WithStore): void {
  test('deployment: versions 1, 2, 3 are allocated in order, stored inactive under FN#/DEPLOY#', () =>
    withStore(async (store) => {
      const [f] = await functionsIn(store, 1);
      const input = deployment(f!, { createdAt: '2026-03-01T01:00:00.000Z' });
      const first = await store.createDeployment(input);
      assert.deepEqual(first, { ...input, version: 1, active: false });
      const [second, third] = await deploy(store, f!, 2);
      assert.deepEqual(
        [first, second, third].map((d) => [d?.version, d?.active]),
        [
          [1, false],
          [2, false],
          [3, false],
        ],
      );
      assert.deepEqual(
        mentions(await store.dumpKeys(), [f!.id]).filter((k) => k.includes('DEPLOY#')),
        [
          `FN#${f!.id} | DEPLOY#0000000001`,
          `FN#${f!.id} | DEPLOY#0000000002`,
          `FN#${f!.id} | DEPLOY#0000000003`,
        ],
      );
    }));

  test('deployment: versions sort numerically past 9 (zero-padded sort keys)', () =>
    withStore(async (store) => {
      const [f] = await functionsIn(store, 1);
      await deploy(store, f!, 11);
      assert.deepEqual(versions(await store.listDeployments(f!.id)), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      assert.equal((await store.createDeployment(deployment(f!))).version, 12);
    }));

  test('deployment: creating for a missing function, or in the wrong workspace, is NOT_FOUND', () =>
    withStore(async (store) => {
      const [f] = await functionsIn(store, 1);
      const before = await store.dumpKeys();
      const ghost = fn(f!.workspaceId);
      await assert.rejects(store.createDeployment(deployment(ghost)), eunhaError('NOT_FOUND'));
      await assert.rejects(
        store.createDeployment(deployment(f!, { workspaceId: uid('other-ws') })),
        eunhaError('NOT_FOUND'),
      );
      assert.deepEqual(await store.dumpKeys(), before, 'nothing written');
      assert.deepEqual(await store.listDeployments(ghost.id), []);
      assert.equal((await store.createDeployment(deployment(f!))).version, 1, 'no version was used up');
    }));

  test('deployment: list is newest first and per function; get by version', () =>
    withStore(async (store) => {
      const [f, g] = await functionsIn(store, 2);
      const fs = await deploy(store, f!, 3);
      const gs = await deploy(store, g!, 1);
      assert.deepEqual(await store.listDeployments(f!.id), [...fs].reverse());
      assert.deepEqual(await store.listDeployments(g!.id), gs);
      assert.deepEqual(await store.listDeployments(uid('missing')), []);
      assert.deepEqual(await store.getDeployment(f!.id, 2), fs[1]);
      assert.deepEqual(await store.getDeployment(g!.id, 1), gs[0]);
      assert.equal(await store.getDeployment(g!.id, 2), undefined);
      assert.equal(await store.getDeployment(f!.id, 0), undefined);
      assert.equal(await store.getDeployment(uid('missing'), 1), undefined);
    }));

  test('deployment: activate makes exactly one version active, and switching moves the flag', () =>
    withStore(async (store) => {
      const [f, g] = await functionsIn(store, 2);
      const fs = await deploy(store, f!, 3);
      await deploy(store, g!, 2);
      await store.activateDeployment(g!.id, 2);

      assert.deepEqual(await store.activateDeployment(f!.id, 1), { ...fs[0], active: true });
      assert.deepEqual(await activeVersions(store, f!), [1]);
      assert.equal((await store.getDeployment(f!.id, 1))?.active, true);

      assert.deepEqual(await store.activateDeployment(f!.id, 3), { ...fs[2], active: true });
      assert.deepEqual(await activeVersions(store, f!), [3]);
      assert.deepEqual(await store.getDeployment(f!.id, 1), fs[0], 'the old one is inactive again');

      // Rolling back to an older version, and activating the active one again, both keep one active.
      await store.activateDeployment(f!.id, 2);
      await store.activateDeployment(f!.id, 2);
      assert.deepEqual(await activeVersions(store, f!), [2]);
      assert.deepEqual(await activeVersions(store, g!), [2], 'another function is untouched');

      const created = await store.createDeployment(deployment(f!));
      assert.equal(created.active, false, 'a new deployment does not take over until activated');
      assert.deepEqual(await activeVersions(store, f!), [2]);
    }));

  test('deployment: activating an unknown version returns undefined and changes nothing', () =>
    withStore(async (store) => {
      const [f] = await functionsIn(store, 1);
      await deploy(store, f!, 2);
      await store.activateDeployment(f!.id, 1);
      const before = await store.listDeployments(f!.id);
      assert.equal(await store.activateDeployment(f!.id, 3), undefined);
      assert.equal(await store.activateDeployment(uid('missing'), 1), undefined);
      assert.deepEqual(await store.listDeployments(f!.id), before);
      assert.deepEqual(await store.listActiveDeployments(), [{ ...before[1], active: true }]);
    }));

  test('deployment: an inactive version can be deleted, the active one not; numbers are never given twice', () =>
    withStore(async (store) => {
      const [f] = await functionsIn(store, 1);
      const ds = await deploy(store, f!, 3);
      await store.activateDeployment(f!.id, 2);
      await assert.rejects(store.deleteDeployment(f!.id, 2), eunhaError('CONFLICT'));
      assert.deepEqual(await activeVersions(store, f!), [2], 'the refused delete changed nothing');
      assert.deepEqual(await store.deleteDeployment(f!.id, 3), ds[2]);
      assert.equal(await store.deleteDeployment(f!.id, 3), undefined, 'already gone');
      assert.equal(await store.deleteDeployment(uid('missing'), 1), undefined);
      assert.deepEqual(versions(await store.listDeployments(f!.id)), [2, 1]);
      assert.equal(await store.getDeployment(f!.id, 3), undefined);
      // v3 was the highest: the next is v4, not a second v3.
      assert.equal((await store.createDeployment(deployment(f!))).version, 4);
      assert.deepEqual(await store.deleteDeployment(f!.id, 1), ds[0]);
      assert.equal((await store.createDeployment(deployment(f!))).version, 5, 'a lower delete moves nothing');
      assert.deepEqual(versions(await store.listDeployments(f!.id)), [5, 4, 2]);
      // Deleting the function leaves nothing of its versions behind, the floor included.
      await store.deleteFunction(f!.workspaceId, f!.id);
      assert.deepEqual(mentions(await store.dumpKeys(), [f!.id]), []);
    }));

  test('deployment: listActiveDeployments returns the one active version of each function', () =>
    withStore(async (store) => {
      assert.deepEqual(await store.listActiveDeployments(), []);
      const [f, g] = await functionsIn(store, 2);
      const [h, never] = await functionsIn(store, 2);
      for (const x of [f!, g!, h!, never!]) await deploy(store, x, 2);
      await store.activateDeployment(f!.id, 1);
      await store.activateDeployment(f!.id, 2);
      await store.activateDeployment(g!.id, 1);
      await store.activateDeployment(h!.id, 2);
      const expected = [
        { ...(await store.getDeployment(f!.id, 2))!, active: true },
        { ...(await store.getDeployment(g!.id, 1))!, active: true },
        { ...(await store.getDeployment(h!.id, 2))!, active: true },
      ];
      assert.deepEqual(byFunction(await store.listActiveDeployments()), byFunction(expected));
    }));

  test('deployment: the config snapshot round-trips exactly and outlives later function edits', () =>
    withStore(async (store) => {
      const [f] = await functionsIn(store, 1);
      const environmentVariables = {
        A: '1',
        EMPTY: '',
        'WITH SPACE': 'x=y;z',
        UNICODE: 'é€😀',
        JSON: '{"k":[1]}',
      };
      const input = deployment(f!, {
        config: { runtime: 'python', memory: 256, timeout: 15, environmentVariables },
      });
      const created = await store.createDeployment(input);
      assert.deepEqual(created.config, input.config);
      await store.updateFunction(f!.workspaceId, f!.id, {
        environmentVariables: { A: 'changed' },
        memory: 1024,
      });
      assert.deepEqual((await store.getDeployment(f!.id, 1))?.config, input.config);
      const activated = await store.activateDeployment(f!.id, 1);
      assert.deepEqual(activated?.config, input.config);
      assert.deepEqual((await store.listActiveDeployments())[0]?.config, input.config);
      assert.deepEqual((await store.listDeployments(f!.id))[0], { ...input, version: 1, active: true });
    }));

  test('deployment: 50 concurrent creates for one function get versions 1..50 exactly', () =>
    withStore(async (store) => {
      const [f, g] = await functionsIn(store, 2);
      // g's creates interleave with f's: allocation is per function.
      const [fs, gs] = await Promise.all([
        Promise.all(Array.from({ length: 50 }, () => store.createDeployment(deployment(f!)))),
        Promise.all(Array.from({ length: 10 }, () => store.createDeployment(deployment(g!)))),
      ]);
      const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
      assert.deepEqual(
        versions(fs).sort((a, b) => a - b),
        range(50),
      );
      assert.deepEqual(
        versions(gs).sort((a, b) => a - b),
        range(10),
      );
      assert.deepEqual(versions(await store.listDeployments(f!.id)), range(50).reverse());
    }));

  test('cascade: deleting a function removes its deployments and its active entry, not its siblings', () =>
    withStore(async (store) => {
      const [gone, stays] = await functionsIn(store, 2);
      for (const x of [gone!, stays!]) {
        await deploy(store, x, 3);
        await store.activateDeployment(x.id, 2);
      }
      const staysBefore = mentions(await store.dumpKeys(), [stays!.id]);
      await store.deleteFunction(gone!.workspaceId, gone!.id);
      const after = await store.dumpKeys();
      assert.deepEqual(mentions(after, [gone!.id]), []);
      assert.deepEqual(mentions(after, [stays!.id]), staysBefore);
      assert.deepEqual(await store.listDeployments(gone!.id), []);
      assert.deepEqual(
        (await store.listActiveDeployments()).map((d) => [d.functionId, d.version]),
        [[stays!.id, 2]],
      );
      // Nothing of the old numbering survives: a function recreated under the id starts at 1.
      await store.createFunction(gone!);
      assert.equal((await store.createDeployment(deployment(gone!))).version, 1);
    }));

  test('cascade: deleting a workspace removes the deployments of all its functions', () =>
    withStore(async (store) => {
      const doomed = await functionsIn(store, 2);
      const kept = await functionsIn(store, 1);
      for (const x of [...doomed, ...kept]) {
        await deploy(store, x, 2);
        await store.activateDeployment(x.id, 1);
      }
      const keptIds = [kept[0]!.workspaceId, kept[0]!.id];
      const keptBefore = mentions(await store.dumpKeys(), keptIds);
      await store.deleteWorkspace(doomed[0]!.workspaceId);
      const after = await store.dumpKeys();
      assert.deepEqual(mentions(after, [doomed[0]!.workspaceId, ...doomed.map((x) => x.id)]), []);
      assert.deepEqual(mentions(after, keptIds), keptBefore);
      for (const x of doomed) assert.deepEqual(await store.listDeployments(x.id), []);
      assert.deepEqual(
        (await store.listActiveDeployments()).map((d) => [d.functionId, d.version]),
        [[kept[0]!.id, 1]],
      );
    }));
}
