// The multipart build forms enforce the maxLength their documented schema (build-schemas.ts) gives
// each text field, as the JSON /push does: registry_url once took 3,000 characters. The service is
// not started, so accepted uploads stay pending and nothing here waits on a build.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BuildAndPushForm, BuildForm } from '../../src/api/routes/build-schemas.js';
import { SAMPLE_HANDLER } from '../helpers/platform.js';
import { multipart, startBuildHarness, type BuildHarness } from './harness.js';

const limitOf = (schema: { properties: Record<string, unknown> }, name: string): number => {
  const max = (schema.properties[name] as { maxLength?: number }).maxLength;
  assert.equal(typeof max, 'number', `${name} documents no maxLength`);
  return max as number;
};

describe('build form limits', () => {
  let h: BuildHarness;
  before(async () => {
    h = await startBuildHarness({ check: async () => ({ ok: true }) }, { start: false });
  });
  after(async () => h.close());

  const post = (url: string, fields: Record<string, string>) => {
    const body = multipart(fields, { filename: 'app.py', data: SAMPLE_HANDLER });
    return h.app.inject({ method: 'POST', url, payload: body.payload, headers: body.headers });
  };

  // Values valid in form at their longest, so a refusal can only be the length check.
  const fill: Record<string, (n: number) => string> = {
    registry_url: (n) => `local${'x'.repeat(n - 5)}`,
    username: (n) => 'u'.repeat(n),
    password: (n) => 'p'.repeat(n),
    tag: (n) => 't'.repeat(n),
    app_name: (n) => 'a'.repeat(n),
    workspace_id: (n) => `ws-${'w'.repeat(n - 3)}`,
  };

  const cases: Array<[string, { properties: Record<string, unknown> }, string[]]> = [
    ['/api/v1/build', BuildForm, ['app_name', 'workspace_id']],
    [
      '/api/v1/build-and-push',
      BuildAndPushForm,
      ['registry_url', 'username', 'tag', 'app_name', 'workspace_id', 'password'],
    ],
  ];

  for (const [url, schema, fields] of cases) {
    test(`${url}: one character over a field's documented maxLength is 400 on that field`, async () => {
      for (const name of fields) {
        const max = limitOf(schema, name);
        const base: Record<string, string> = url.endsWith('push') ? { registry_url: 'local' } : {};
        const res = await post(url, { ...base, [name]: fill[name]!(max + 1) });
        assert.equal(res.statusCode, 400, `${name}: ${res.body.slice(0, 300)}`);
        const error = res.json().error;
        assert.equal(error.code, 'VALIDATION_ERROR', name);
        assert.equal(error.details.field, name);
        assert.ok(res.body.length < 400, `${name}: the answer echoes the value`);
      }
    });
  }

  test('registry_url of 3,000 characters is refused; 2,048 is not refused for its length', async () => {
    assert.equal(limitOf(BuildAndPushForm, 'registry_url'), 2048);
    const long = await post('/api/v1/build-and-push', { registry_url: 'r'.repeat(3000) });
    assert.equal(long.statusCode, 400, long.body.slice(0, 300));
    assert.equal(long.json().error.details.field, 'registry_url');
    assert.match(long.json().error.message, /2048/);
    const atLimit = await post('/api/v1/build-and-push', { registry_url: 'r'.repeat(2048) });
    assert.equal(atLimit.statusCode, 202, atLimit.body.slice(0, 300));
  });

  test('fields at their limit are accepted', async () => {
    // Only ws-default is created on first use; a workspace with the longest id must exist already.
    const workspaceId = fill.workspace_id!(limitOf(BuildAndPushForm, 'workspace_id'));
    await h.meta.createWorkspace({
      id: workspaceId,
      name: 'long',
      description: null,
      createdAt: new Date(0).toISOString(),
    });
    const res = await post('/api/v1/build-and-push', {
      registry_url: 'local',
      username: fill.username!(limitOf(BuildAndPushForm, 'username')),
      tag: fill.tag!(limitOf(BuildAndPushForm, 'tag')),
      app_name: fill.app_name!(limitOf(BuildAndPushForm, 'app_name')),
      workspace_id: workspaceId,
    });
    assert.equal(res.statusCode, 202, res.body.slice(0, 300));
  });

  test('lengths count characters, not bytes', async () => {
    const max = limitOf(BuildAndPushForm, 'username');
    const res = await post('/api/v1/build-and-push', { registry_url: 'local', username: 'é'.repeat(max) });
    assert.equal(res.statusCode, 202, res.body.slice(0, 300));
  });
});
