// Contract tests of /api/workspaces: happy and unhappy paths through app.inject().

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('workspaces API', () => {
  let p: TestPlatform;
  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => p.cleanup());

  const create = (body: unknown) =>
    p.app.inject({ method: 'POST', url: '/api/workspaces', payload: body as object });

  test('create answers 201 with the seed fields and zero statistics', async () => {
    const res = await create({ name: 'payments', description: 'Payment webhooks' });
    assert.equal(res.statusCode, 201);
    const ws = res.json();
    assert.match(ws.id, /^ws-[a-z0-9]{8}$/);
    assert.equal(ws.name, 'payments');
    assert.equal(ws.description, 'Payment webhooks');
    assert.equal(ws.createdAt, '2026-11-26T12:00:00.000Z');
    assert.deepEqual(
      [ws.functionCount, ws.invocations24h, ws.errorRate, ws.errors24h, ws.avgDuration],
      [0, 0, 0, 0, 0],
    );
  });

  test('description is optional and null when missing', async () => {
    const res = await create({ name: 'solo' });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().description, null);
  });

  test('get, list, patch, delete', async () => {
    const ws = (await create({ name: 'crud' })).json();
    const got = await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}` });
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().name, 'crud');

    const list = (await p.app.inject({ method: 'GET', url: '/api/workspaces' })).json() as Array<{
      id: string;
    }>;
    assert.ok(list.some((w) => w.id === ws.id));

    const patched = await p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${ws.id}`,
      payload: { name: 'renamed' },
    });
    assert.equal(patched.statusCode, 200);
    assert.equal(patched.json().name, 'renamed');
    assert.equal(patched.json().createdAt, ws.createdAt);

    const cleared = await p.app.inject({
      method: 'PATCH',
      url: `/api/workspaces/${ws.id}`,
      payload: { description: null },
    });
    assert.equal(cleared.json().description, null);
    assert.equal(cleared.json().name, 'renamed');

    const del = await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws.id}` });
    assert.equal(del.statusCode, 204);
    assert.equal(del.body, '');
    const gone = await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}` });
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().error.code, 'NOT_FOUND');
  });

  test('unknown ids answer 404 NOT_FOUND on every verb', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await p.app.inject({
        method,
        url: '/api/workspaces/ws-nothere0',
        ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}),
      });
      assert.equal(res.statusCode, 404, method);
      const body = res.json();
      assert.equal(body.error.code, 'NOT_FOUND');
      assert.equal(typeof body.error.message, 'string');
      assert.equal(typeof body.error.details, 'object');
    }
  });

  test('invalid bodies answer 400 VALIDATION_ERROR naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 42 }, 'name'],
      [{ name: 'ok', description: 5 }, 'description'],
      [{ name: 'ok', extra: true }, 'extra'],
      [[], 'body'],
      [{ name: 'x'.repeat(129) }, 'name'],
    ];
    for (const [body, field] of cases) {
      const res = await create(body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().error.code, 'VALIDATION_ERROR');
      assert.equal(res.json().error.details.field, field, JSON.stringify(body));
    }
  });

  test('patch with an empty name or unknown field is refused and changes nothing', async () => {
    const ws = (await create({ name: 'keep' })).json();
    for (const payload of [{ name: '' }, { colour: 'red' }]) {
      const res = await p.app.inject({ method: 'PATCH', url: `/api/workspaces/${ws.id}`, payload });
      assert.equal(res.statusCode, 400);
    }
    assert.equal(
      (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}` })).json().name,
      'keep',
    );
  });
});
