// /health, /, /openapi.json, Swagger UI and ReDoc — all served locally, nothing from a CDN.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { toOpenApi30 } from '../../src/api/openapi30.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const { validate: validateOpenApi } = createRequire(import.meta.url)('oas-validator') as {
  validate(doc: unknown, options: object): Promise<unknown>;
};

describe('system and documentation routes', () => {
  let p: TestPlatform;
  before(async () => {
    p = await startTestPlatform({ CORS_ORIGINS: '["http://console.local:3000"]', ENVIRONMENT: 'test' });
  });
  after(async () => p.cleanup());

  test('health and root', async () => {
    assert.deepEqual((await p.app.inject({ method: 'GET', url: '/health' })).json(), { status: 'healthy' });
    const root = (await p.app.inject({ method: 'GET', url: '/' })).json();
    assert.equal(root.status, 'ok');
    assert.equal(root.environment, 'test');
    assert.equal(typeof root.message, 'string');
  });

  test('openapi.json is OpenAPI 3 and lists the routes', async () => {
    const doc = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.paths['/api/workspaces']);
    assert.ok(doc.info.description.includes('VALIDATION_ERROR'));
    // The function URL, which the generator cannot describe, is written by hand: every method.
    for (const path of ['/fn/{function_id}', '/fn/{function_id}/{path}']) {
      assert.deepEqual(Object.keys(doc.paths[path]).sort(), [
        'delete',
        'get',
        'head',
        'options',
        'patch',
        'post',
        'put',
      ]);
      assert.equal(
        doc.paths[path].post.responses['405'].content['application/json'].schema.properties.error.type,
        'object',
      );
    }
  });

  test('openapi.json is valid OpenAPI 3.0.3, as it says', async () => {
    const doc = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.0.3');
    // JSON Schema's `examples` (a list) and `const` are not 3.0: a strict validator refused the
    // whole document over them (a review). oas-validator stops at the first fault it finds.
    await validateOpenApi(doc, { lint: false });
    const text = JSON.stringify(doc);
    assert.ok(!/"const":/.test(text));
    // A property named like a keyword is a name, not a keyword.
    assert.deepEqual(toOpenApi30({ properties: { const: { type: 'string', examples: ['x'] } } }), {
      properties: { const: { type: 'string', example: 'x' } },
    });
  });

  test('operations are named; bodies that may be left out are not required; every route lists what the HTTP parser answers', async () => {
    const doc = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const body = (path: string, method = 'post') => doc.paths[path][method].requestBody;
    assert.equal(body('/api/workspaces').required, true);
    for (const path of [
      '/api/workspaces/{workspace_id}/keys',
      '/api/workspaces/{workspace_id}/functions/{function_id}/invoke',
      '/api/workspaces/{workspace_id}/functions/{function_id}/deployments',
      '/api/workspaces/{workspace_id}/functions/{function_id}/deployments/{version}/activate',
    ]) {
      assert.equal(body(path).required, false, path);
      assert.equal(doc.paths[path].post['x-optional-body'], undefined, path);
    }
    const ids = Object.values(doc.paths).flatMap((item) =>
      Object.values(item as Record<string, { operationId?: string }>).map((op) => op.operationId),
    );
    assert.ok(
      ids.every((id) => typeof id === 'string'),
      'every operation has an operationId',
    );
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    assert.equal(
      doc.paths['/api/workspaces/{workspace_id}/functions/{function_id}'].get.operationId,
      'getApiWorkspacesByWorkspaceIdFunctionsByFunctionId',
    );
    const logs = doc.paths['/api/workspaces/{workspace_id}/functions/{function_id}/logs'].get.responses;
    assert.ok(logs['408'] && logs['431'], Object.keys(logs).join(' '));
  });

  test('Swagger UI and its assets come from this server', async () => {
    const page = await p.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.doesNotMatch(page.body, /https?:\/\/(?!127\.0\.0\.1|localhost)/);
    const bundle = await p.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(bundle.statusCode, 200);
    assert.ok(bundle.body.length > 100_000);
    const init = await p.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.equal(init.statusCode, 200);
    assert.match(init.body, /validatorUrl: null/);
  });

  test('ReDoc page and bundle come from this server', async () => {
    const page = await p.app.inject({ method: 'GET', url: '/redoc' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /src="\/redoc\/redoc\.standalone\.js"/);
    assert.doesNotMatch(page.body, /https?:\/\//);
    const bundle = await p.app.inject({ method: 'GET', url: '/redoc/redoc.standalone.js' });
    assert.equal(bundle.statusCode, 200);
    assert.ok(bundle.body.length > 500_000);
  });

  test('CORS allows the configured origin only', async () => {
    const ok = await p.app.inject({
      method: 'OPTIONS',
      url: '/api/workspaces',
      headers: { origin: 'http://console.local:3000', 'access-control-request-method': 'POST' },
    });
    assert.equal(ok.headers['access-control-allow-origin'], 'http://console.local:3000');
    const no = await p.app.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'http://evil.example' },
    });
    assert.equal(no.headers['access-control-allow-origin'], undefined);
  });
});
