// /health, /, /openapi.json, Swagger UI and ReDoc — all served locally, nothing from a CDN.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

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
