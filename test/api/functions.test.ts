// Contract tests of /api/workspaces/{ws}/functions: happy and unhappy paths through app.inject().

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LIMITS } from '../../src/core/schemas.js';
import { MAX_FUNCTIONS_PER_WORKSPACE } from '../../src/services/functions.js';
import { b64, SAMPLE_HANDLER, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('functions API', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform();
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'fns' } })).json().id;
  });
  after(async () => p.cleanup());

  const base = () => `/api/workspaces/${ws}/functions`;
  const create = (body: Record<string, unknown>) =>
    p.app.inject({ method: 'POST', url: base(), payload: body });

  test('create applies the seed defaults and stores the code', async () => {
    const res = await create({ name: 'hello', code: b64(SAMPLE_HANDLER) });
    assert.equal(res.statusCode, 201);
    const fn = res.json();
    assert.match(fn.id, /^fn-[a-z0-9]{8}$/);
    assert.equal(fn.workspaceId, ws);
    assert.equal(fn.runtime, 'Python 3.12');
    assert.equal(fn.memory, 256);
    assert.equal(fn.timeout, 30);
    assert.deepEqual(fn.httpMethods, ['GET']);
    assert.deepEqual(fn.environmentVariables, {});
    assert.equal(Buffer.from(fn.code, 'base64').toString(), SAMPLE_HANDLER);
    assert.equal(fn.status, 'active');
    assert.equal(fn.invocationUrl, null);
    assert.equal(fn.lastDeployed, null);
    assert.equal(fn.description, null);
    assert.deepEqual([fn.invocations24h, fn.errors24h, fn.avgDuration], [0, 0, 0]);
    const blobs = await p.blobs.list(`code/${ws}/${fn.id}`);
    assert.equal(blobs.length, 1);
    assert.equal(Buffer.from((await p.blobs.get(blobs[0]!))!).toString(), SAMPLE_HANDLER);
  });

  test('all fields round-trip; methods are normalised', async () => {
    const res = await create({
      name: 'full',
      description: 'd',
      runtime: 'python',
      memory: 1024,
      timeout: 900,
      httpMethods: ['post', 'GET', 'POST'],
      environmentVariables: { A: '1', LONG_NAME_2: 'two' },
      code: b64('print(1)\n'),
    });
    assert.equal(res.statusCode, 201);
    const fn = res.json();
    assert.deepEqual(fn.httpMethods, ['POST', 'GET']);
    assert.equal(fn.runtime, 'python');
    assert.deepEqual(fn.environmentVariables, { A: '1', LONG_NAME_2: 'two' });
    const got = (await p.app.inject({ method: 'GET', url: `${base()}/${fn.id}` })).json();
    assert.deepEqual(got, fn);
  });

  test('every bound of the contract is enforced with details.field', async () => {
    const good = { name: 'b', code: b64('x = 1\n') };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...good, memory: 127 }, 'memory'],
      [{ ...good, memory: 1025 }, 'memory'],
      [{ ...good, memory: 256.5 }, 'memory'],
      [{ ...good, memory: '256' }, 'memory'],
      [{ ...good, timeout: 0 }, 'timeout'],
      [{ ...good, timeout: 901 }, 'timeout'],
      [{ ...good, httpMethods: [] }, 'httpMethods'],
      [{ ...good, httpMethods: ['FETCH'] }, 'httpMethods'],
      [{ ...good, httpMethods: 'GET' }, 'httpMethods'],
      [{ ...good, code: 'not base64!!' }, 'code'],
      [{ ...good, code: b64('x').slice(0, 3) }, 'code'],
      [{ ...good, code: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') }, 'code'],
      [{ name: 'b' }, 'code'],
      [{ ...good, name: '' }, 'name'],
      [{ ...good, runtime: 'nodejs18' }, 'runtime'],
      [{ ...good, environmentVariables: { '1BAD': 'x' } }, 'environmentVariables'],
      [{ ...good, environmentVariables: { OK: 1 } }, 'environmentVariables.OK'],
      [{ ...good, surprise: 1 }, 'surprise'],
    ];
    for (const [body, field] of cases) {
      const res = await create(body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().error.code, 'VALIDATION_ERROR', JSON.stringify(body));
      assert.equal(res.json().error.details.field, field, JSON.stringify(body));
    }
    const unknownRuntime = await create({ ...good, runtime: 'ruby' });
    assert.match(unknownRuntime.json().error.message, /supported: Python 3\.12/);
    assert.ok(Array.isArray(unknownRuntime.json().error.details.supported));
  });

  test('a function’s environment holds at most LIMITS.envTotalMax bytes, plain and secret together', async () => {
    // Every deployment version keeps a copy: a review's 4.8 MB of variables added 4.8 MB per deploy.
    const value = 'v'.repeat(30 * 1024);
    const plain = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`P${i}`, value]));
    const refused = (res: Awaited<ReturnType<typeof create>>, field: string) => {
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error.details.field, field);
      assert.equal(res.json().error.details.limit, LIMITS.envTotalMax);
      assert.match(res.json().error.message, /plain and secret together/);
    };
    refused(
      await create({ name: 'env', code: b64('x = 1\n'), environmentVariables: plain(5) }),
      'environmentVariables',
    );
    const made = await create({ name: 'env', code: b64('x = 1\n'), environmentVariables: plain(3) });
    assert.equal(made.statusCode, 201);
    const url = `${base()}/${made.json().id}`;
    const patch = (payload: Record<string, unknown>) => p.app.inject({ method: 'PATCH', url, payload });
    refused(
      await patch({ secretEnvironmentVariables: { S1: value, S2: value } }),
      'secretEnvironmentVariables',
    );
    assert.equal((await patch({ secretEnvironmentVariables: { S1: value } })).statusCode, 200);
    // The stored secret counts, though only its sealed form is at hand.
    refused(
      await patch({ environmentVariables: { ...plain(3), EXTRA: 'v'.repeat(8 * 1024) } }),
      'environmentVariables',
    );
    const now = (await p.app.inject({ method: 'GET', url })).json();
    assert.deepEqual(Object.keys(now.environmentVariables), ['P0', 'P1', 'P2']);
    assert.deepEqual(Object.keys(now.secretEnvironmentVariables), ['S1']);
  });

  test('invalid input stores nothing', async () => {
    const before = (await p.app.inject({ method: 'GET', url: base() })).json().length;
    await create({ name: 'x', code: b64('a'), memory: 5 });
    await create({ name: 'x', code: '%%%' });
    const after = (await p.app.inject({ method: 'GET', url: base() })).json().length;
    assert.equal(after, before);
  });

  test('patch: the console sends status, invocationUrl and lastDeployed after a deploy', async () => {
    const fn = (await create({ name: 'patchme', code: b64('x = 1\n') })).json();
    const res = await p.app.inject({
      method: 'PATCH',
      url: `${base()}/${fn.id}`,
      payload: {
        status: 'active',
        invocationUrl: 'example.com/fn/abc',
        lastDeployed: '2026-11-26T12:30:00Z',
      },
    });
    assert.equal(res.statusCode, 200);
    const up = res.json();
    assert.equal(up.invocationUrl, 'http://example.com/fn/abc');
    assert.equal(up.lastDeployed, '2026-11-26T12:30:00.000Z');
    assert.equal(up.name, 'patchme');

    const disabled = await p.app.inject({
      method: 'PATCH',
      url: `${base()}/${fn.id}`,
      payload: { status: 'disabled', memory: 512, name: null },
    });
    assert.equal(disabled.json().status, 'disabled');
    assert.equal(disabled.json().memory, 512);
    assert.equal(disabled.json().name, 'patchme');

    for (const [payload, field] of [
      [{ status: 'paused' }, 'status'],
      [{ lastDeployed: 'yesterday' }, 'lastDeployed'],
      [{ invocationUrl: 'ftp://x.y/z' }, 'invocationUrl'],
      [{ memory: 2048 }, 'memory'],
      [{ id: 'fn-hijack00' }, 'id'],
    ] as const) {
      const bad = await p.app.inject({ method: 'PATCH', url: `${base()}/${fn.id}`, payload });
      assert.equal(bad.statusCode, 400, JSON.stringify(payload));
      assert.equal(bad.json().error.details.field, field);
      if (field === 'status')
        assert.equal(bad.json().error.message, 'status must be one of active, disabled');
    }
  });

  test('patching code replaces the stored blob and removes the old one', async () => {
    const fn = (await create({ name: 'recode', code: b64('v = 1\n') })).json();
    const res = await p.app.inject({
      method: 'PATCH',
      url: `${base()}/${fn.id}`,
      payload: { code: b64('v = 2\n') },
    });
    assert.equal(Buffer.from(res.json().code, 'base64').toString(), 'v = 2\n');
    const keys = await p.blobs.list(`code/${ws}/${fn.id}`);
    assert.equal(keys.length, 1);
  });

  test('a function whose code is missing from the blob store shows empty code, and the others as ever; a PATCH of its code mends it', async () => {
    // What a restore gives when its blobs were copied after a PATCH had replaced the code.
    const lost = (await create({ name: 'lost', code: b64('v = 1\n') })).json();
    const kept = (await create({ name: 'kept', code: b64('v = 2\n') })).json();
    for (const key of await p.blobs.list(`code/${ws}/${lost.id}`)) await p.blobs.delete(key);
    const listed = await p.app.inject({ method: 'GET', url: base() });
    assert.equal(listed.statusCode, 200, 'one function used to fail the whole listing');
    const byId = new Map((listed.json() as Array<{ id: string; code: string }>).map((f) => [f.id, f.code]));
    assert.equal(byId.get(lost.id), '');
    assert.equal(byId.get(kept.id), b64('v = 2\n'));
    const patched = await p.app.inject({
      method: 'PATCH',
      url: `${base()}/${lost.id}`,
      payload: { memory: 512 },
    });
    assert.equal(patched.statusCode, 200, 'a PATCH that was applied answered 500');
    assert.equal(patched.json().memory, 512);
    const deploy = await p.app.inject({ method: 'POST', url: `${base()}/${lost.id}/deployments` });
    assert.equal(deploy.statusCode, 500);
    assert.match(
      deploy.json().error.message,
      /missing from the blob store; PATCH its code to store it again/,
    );
    // The very code it had: stored again, though its key is the one the record names.
    const mended = await p.app.inject({
      method: 'PATCH',
      url: `${base()}/${lost.id}`,
      payload: { code: b64('v = 1\n') },
    });
    assert.equal(mended.statusCode, 200, mended.body);
    assert.equal(
      (await p.app.inject({ method: 'GET', url: `${base()}/${lost.id}` })).json().code,
      b64('v = 1\n'),
    );
  });

  test('concurrent PATCHes of one function: each applies in full, and only the current code blob is kept', async () => {
    const fn = (await create({ name: 'racer', code: b64('v = 0\n') })).json();
    const patch = (payload: object) => p.app.inject({ method: 'PATCH', url: `${base()}/${fn.id}`, payload });
    for (let round = 1; round <= 5; round++) {
      const both = await Promise.all([
        patch({ code: b64(`v = ${round}.1\n`), secretEnvironmentVariables: { [`A${round}`]: 'a' } }),
        patch({ code: b64(`v = ${round}.2\n`), secretEnvironmentVariables: { [`B${round}`]: 'b' } }),
        p.app.inject({ method: 'DELETE', url: `${base()}/fn-missing0` }),
      ]);
      assert.deepEqual(
        both.map((r) => r.statusCode),
        [200, 200, 404],
      );
    }
    const now = (await p.app.inject({ method: 'GET', url: `${base()}/${fn.id}` })).json();
    // Neither PATCH's secret was lost to the other's read-modify-write.
    assert.deepEqual(Object.keys(now.secretEnvironmentVariables).sort(), [
      'A1',
      'A2',
      'A3',
      'A4',
      'A5',
      'B1',
      'B2',
      'B3',
      'B4',
      'B5',
    ]);
    const kept = await p.blobs.list(`code/${ws}/${fn.id}`);
    assert.equal(kept.length, 1, `one code blob, the current one: ${kept.join(', ')}`);
    const current = Buffer.from(now.code, 'base64').toString();
    assert.match(current, /^v = 5\.[12]\n$/);
    assert.equal(Buffer.from((await p.blobs.get(kept[0]!))!).toString(), current);
  });

  test('a workspace holds at most MAX_FUNCTIONS_PER_WORKSPACE functions (409 beyond), even when creates arrive at once', async () => {
    const own = (
      await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'full' } })
    ).json().id;
    const make = () =>
      p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${own}/functions`,
        payload: { name: 'f', code: b64('x = 1\n') },
      });
    let first = '';
    for (let i = 0; i < MAX_FUNCTIONS_PER_WORKSPACE - 5; i++) {
      const res = await make();
      assert.equal(res.statusCode, 201, res.body);
      first ||= res.json().id;
    }
    // Sent at once, near the cap: exactly the room left is taken.
    const burst = await Promise.all(Array.from({ length: 30 }, make));
    assert.equal(burst.filter((r) => r.statusCode === 201).length, 5);
    const over = await make();
    assert.equal(over.statusCode, 409);
    assert.equal(over.json().error.details.limit, MAX_FUNCTIONS_PER_WORKSPACE);
    assert.equal((await p.blobs.list(`code/${own}`)).length, MAX_FUNCTIONS_PER_WORKSPACE, 'nothing stored');
    await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${own}/functions/${first}` });
    assert.equal((await make()).statusCode, 201);
  });

  test('missing workspace or function → 404 NOT_FOUND naming the resource', async () => {
    const miss = await p.app.inject({
      method: 'POST',
      url: '/api/workspaces/ws-missing0/functions',
      payload: { name: 'x', code: b64('x') },
    });
    assert.equal(miss.statusCode, 404);
    assert.equal(miss.json().error.details.resource, 'workspace');
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await p.app.inject({
        method,
        url: `${base()}/fn-missing0`,
        ...(method === 'PATCH' ? { payload: { name: 'y' } } : {}),
      });
      assert.equal(res.statusCode, 404, method);
      assert.equal(res.json().error.details.resource, 'function');
    }
    const list = await p.app.inject({ method: 'GET', url: '/api/workspaces/ws-missing0/functions' });
    assert.equal(list.statusCode, 404);
  });

  test('a function is only reachable under its own workspace', async () => {
    const other = (
      await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'other' } })
    ).json().id;
    const fn = (await create({ name: 'mine', code: b64('x = 1\n') })).json();
    const res = await p.app.inject({ method: 'GET', url: `/api/workspaces/${other}/functions/${fn.id}` });
    assert.equal(res.statusCode, 404);
    const del = await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${other}/functions/${fn.id}` });
    assert.equal(del.statusCode, 404);
    assert.equal((await p.app.inject({ method: 'GET', url: `${base()}/${fn.id}` })).statusCode, 200);
  });

  test('DELETE with a content type (JSON, text/plain, anything) and no body still works', async () => {
    for (const type of ['application/json', 'text/plain;charset=UTF-8', 'application/x-anything']) {
      const fn = (await create({ name: 'bye', code: b64('x = 1\n') })).json();
      const res = await p.app.inject({
        method: 'DELETE',
        url: `${base()}/${fn.id}`,
        headers: { 'content-type': type, 'content-length': '0' },
      });
      assert.equal(res.statusCode, 204, `${type}: ${res.body}`);
      assert.deepEqual(await p.blobs.list(`code/${ws}/${fn.id}`), []);
    }
  });
});
