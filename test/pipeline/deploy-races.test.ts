// Deploys, activations and deletes of one function at the same time, with the real runtime: the
// version that answers is the version recorded as active, losers are unloaded, a deploy that ends
// after a delete brings nothing back, and requests waiting for an instance of a version that a
// redeploy unloads run on the new one if its config admits them.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const CODE = `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        if "longnap" in request.uri:
            time.sleep(1.0)
        elif "nap" in request.uri:
            time.sleep(0.3)
        return Response(200, {"content-type": "text/plain"}, b"ok")
`;

describe('concurrent deploys and deletes', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    // Requests here wait in line for a redeploy (a build and a load): under a loaded CI run that
    // took longer than the default 5-s queue wait, and a waiting request got 429 instead.
    p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1', EUNHA_QUEUE_TIMEOUT_MS: '30000' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'races' } })).json()
      .id;
  });
  after(async () => p.cleanup());

  const createFn = async (extra: Record<string, unknown> = {}): Promise<string> => {
    const res = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name: 'race', code: b64(CODE), ...extra },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id;
  };
  const deploy = (fn: string) =>
    p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/functions/${fn}/deployments` });
  const loadedVersions = (fn: string): string[] =>
    Object.keys(p.runtime.stats().versions).filter((k) => k.startsWith(`${fn}@`));
  /**
   * A function whose v1's module code naps `seconds` (so rolling back to it holds the function's
   * line that long) and whose v2, active, does not.
   */
  const slowV1FastV2 = async (seconds: number) => {
    const fn = await createFn();
    const code = (c: string) =>
      p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${fn}`,
        payload: { code: b64(c) },
      });
    const slow = CODE.replace('import time', `import time\ntime.sleep(${seconds})`);
    assert.equal((await code(slow)).statusCode, 200);
    assert.equal((await deploy(fn)).statusCode, 201);
    assert.equal((await code(CODE)).statusCode, 200);
    const v2 = await deploy(fn);
    assert.equal(v2.statusCode, 201, v2.body);
    return { fn, v2 };
  };
  /** The deployment version that served a request, from its execution log. */
  const servedVersion = async (fn: string): Promise<number> => {
    const res = await p.app.inject({ method: 'GET', url: `/fn/${fn}` });
    assert.equal(res.statusCode, 200, res.body);
    await p.writer.flush();
    const logs = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs?limit=1` })
    ).json();
    return logs.logs[0].deploymentVersion;
  };

  test('parallel deploys and activations: what answers is what is recorded active, and only it is loaded', async () => {
    const fn = await createFn();
    assert.equal((await deploy(fn)).statusCode, 201);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([
        deploy(fn),
        deploy(fn),
        p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/functions/${fn}/deployments/1/activate` }),
        deploy(fn),
      ]);
      for (const r of results) assert.ok(r.statusCode === 200 || r.statusCode === 201, r.body);
      const list = (
        await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/deployments` })
      ).json();
      const active = list.filter((d: { active: boolean }) => d.active);
      assert.equal(active.length, 1, `round ${round}`);
      assert.equal(await servedVersion(fn), active[0].version, `round ${round}`);
      assert.deepEqual(loadedVersions(fn).length, 1, `round ${round}: ${loadedVersions(fn).join(', ')}`);
    }
  });

  test('an activation that a delete overtakes leaves no function answering and nothing loaded', async () => {
    for (const delayMs of [0, 50, 150, 300]) {
      const fn = await createFn();
      assert.equal((await deploy(fn)).statusCode, 201);
      assert.equal((await deploy(fn)).statusCode, 201);
      // Rolling back to v1 loads it (a few hundred ms) while the delete goes through.
      const activating = p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn}/deployments/1/activate`,
      });
      await new Promise((r) => setTimeout(r, delayMs));
      const del = await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${fn}` });
      assert.equal(del.statusCode, 204);
      const a = await activating;
      assert.ok([200, 404].includes(a.statusCode), `${delayMs} ms: ${a.statusCode} ${a.body}`);
      const res = await p.app.inject({ method: 'GET', url: `/fn/${fn}` });
      assert.equal(res.statusCode, 404, `${delayMs} ms: the deleted function answered ${res.statusCode}`);
      assert.deepEqual(loadedVersions(fn), [], `${delayMs} ms`);
    }
  });

  test('a deploy racing a PATCH of the code deploys one version or the other, never a missing blob', async () => {
    const fn = await createFn();
    for (let round = 1; round <= 5; round++) {
      const [patched, deployed] = await Promise.all([
        p.app.inject({
          method: 'PATCH',
          url: `/api/workspaces/${ws}/functions/${fn}`,
          payload: { code: b64(`${CODE}\n# round ${round}\n`) },
        }),
        deploy(fn),
      ]);
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal(deployed.statusCode, 201, deployed.body);
    }
  });

  test('requests waiting for an instance when a redeploy unloads their version run on the new one', async () => {
    const fn = await createFn({ maxInstances: 1 });
    assert.equal((await deploy(fn)).statusCode, 201);
    const calls = Array.from({ length: 6 }, () => p.app.inject({ method: 'GET', url: `/fn/${fn}/nap` }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await deploy(fn)).statusCode, 201);
    const statuses = (await Promise.all(calls)).map((r) => r.statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
  });

  test('a request moved to the new version is admitted by its config: a method it no longer accepts is refused', async () => {
    const fn = await createFn({ maxInstances: 1 });
    assert.equal((await deploy(fn)).statusCode, 201);
    // 12 s of naps in line at one instance: the redeploy (a build check and a load) took more than
    // the 5 s of a line of 6 on a loaded CI machine, and no request was left to move.
    const calls = Array.from({ length: 12 }, () => p.app.inject({ method: 'GET', url: `/fn/${fn}/longnap` }));
    await new Promise((r) => setTimeout(r, 100));
    const patch = await p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${ws}/functions/${fn}`,
      payload: { httpMethods: ['POST'] },
    });
    assert.equal(patch.statusCode, 200, patch.body);
    assert.equal((await deploy(fn)).statusCode, 201);
    const statuses = (await Promise.all(calls)).map((r) => r.statusCode);
    assert.ok(statuses.includes(405), `some requests waited for the redeploy: ${statuses.join(' ')}`);
    assert.ok(
      statuses.every((s) => s === 200 || s === 405),
      statuses.join(' '),
    );
    await p.writer.flush();
    const logs = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/logs?limit=50` })
    ).json().logs as Array<{ deploymentVersion: number }>;
    assert.equal(logs.length, statuses.filter((s) => s === 200).length);
    assert.ok(
      logs.every((l) => l.deploymentVersion === 1),
      'nothing ran on the version that refuses GET',
    );
  });

  test('deleting a version its deploy has recorded but not yet made live leaves the function as it was', async () => {
    // v1 loads slowly (module code naps), so its activation holds the function's line while the
    // deploy below records v3 and the delete of v3 queues ahead of v3's going live.
    // v1's nap outlasts v3's load: /api/v1/deploy loads the image before it records v3.
    const { fn, v2 } = await slowV1FastV2(2.5);
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // In the line: the activation (≈ 3 s: v1's module naps), then the delete of v3 (sent before
    // v3 exists; it finds it when its turn comes), then v3's going live.
    const activate = p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn}/deployments/1/activate`,
    });
    await pause(200);
    const del = p.app.inject({
      method: 'DELETE',
      url: `/api/workspaces/${ws}/functions/${fn}/deployments/3`,
    });
    await pause(50);
    const image = p.app.inject({
      method: 'POST',
      url: '/api/v1/deploy',
      payload: { namespace: 'default', image_ref: v2.json().imageRef, function_id: fn },
    });
    const [a, d, r] = await Promise.all([activate, image, del]);
    assert.equal(a.statusCode, 200, a.body);
    assert.equal(r.statusCode, 204, r.body);
    assert.equal(d.statusCode, 404, d.body);
    assert.equal(d.json().error.details.resource, 'deployment', 'the version is missing, not the function');
    const list = (
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/functions/${fn}/deployments` })
    ).json() as Array<{ version: number; active: boolean }>;
    assert.deepEqual(
      list.map((x) => [x.version, x.active]),
      [
        [2, false],
        [1, true],
      ],
    );
    assert.equal(await servedVersion(fn), 1, 'still routed to the active version');
  });

  test('deploys sent while a slow activation holds the function keep at most one version waiting to go live', async () => {
    // v1's module code naps 3 s, so rolling back to it holds the function's line that long. The
    // deploys sent meanwhile each loaded their version (their check) and then waited for the line,
    // so the function held one loaded version per waiting deploy.
    const { fn } = await slowV1FastV2(3);
    const activate = p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions/${fn}/deployments/1/activate`,
    });
    let mostWaiting = 0;
    const watch = setInterval(() => {
      // One of them may be the routed version (v2 and later were one-call deploys).
      const waiting = loadedVersions(fn).filter((k) => k.includes('@new-')).length;
      mostWaiting = Math.max(mostWaiting, waiting);
    }, 20);
    try {
      const deploys = await Promise.all([deploy(fn), deploy(fn), deploy(fn)]);
      for (const d of deploys) assert.equal(d.statusCode, 201, d.body);
      assert.equal((await activate).statusCode, 200);
    } finally {
      clearInterval(watch);
    }
    assert.ok(mostWaiting <= 2, `${mostWaiting} one-call versions loaded at once (routed or waiting)`);
    assert.equal(loadedVersions(fn).length, 1, loadedVersions(fn).join(', '));
    // They went live in the order they were sent, after the rollback: the last one answers.
    assert.equal(await servedVersion(fn), 5);
  });
});
