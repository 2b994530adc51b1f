// Access rules proved on every route of the live route table (recorded by the guard's onRoute
// hook), so a route added later is covered without being listed here: no key → 401, malformed or
// revoked key → 401, another workspace's key → 404 exactly like a missing resource (403 on
// admin-only routes), and no stored data changes on any refused attempt.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify';
import { ApiKeyService } from '../../src/auth/api-keys.js';
import { installGuard, type RouteEntry } from '../../src/auth/guard.js';
import { Authenticator } from '../../src/auth/principal.js';
import { RateLimiter } from '../../src/auth/rate-limit.js';
import { installErrorHandling } from '../../src/api/errors.js';
import { randomIds } from '../../src/core/ids.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';
import { startTestPlatform } from '../helpers/platform.js';
import {
  ADMIN_KEY,
  METRICS_TOKEN,
  MISSING,
  bearer,
  fillPath,
  sampleBody,
  startWorld,
  type Tenant,
  type World,
} from './world.js';

const PUBLIC_ROUTES = new Set([
  '/health',
  '/ready',
  '/',
  '/openapi.json',
  '/redoc',
  '/redoc/redoc.standalone.js',
]);

const MALFORMED = [
  'Bearer',
  'Bearer ',
  'Bearer  ',
  'bearer',
  'Basic YWRtaW46YWRtaW4=',
  'Token ' + ADMIN_KEY,
  ADMIN_KEY,
  `Bearer ${ADMIN_KEY} extra`,
  `Bearer ${ADMIN_KEY}x`,
  `Bearer ${ADMIN_KEY.slice(0, -1)}`,
  'Bearer eunha_',
  'Bearer eunha_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'Bearer ' + 'a'.repeat(600),
  'Bearer <script>',
];

describe('access rules on every route', () => {
  let w: World;
  let routes: RouteEntry[];
  before(async () => {
    w = await startWorld();
    routes = w.p.app.routeTable;
  });
  after(async () => w?.close());

  const controlPlane = () =>
    routes.filter((r) => r.policy.access !== 'public' && r.policy.access !== 'function-url');
  const request = (
    r: RouteEntry,
    t: Tenant,
    headers: Record<string, string>,
  ): Promise<LightMyRequestResponse> => {
    const body = sampleBody(r.method, r.url, t);
    return w.p.app.inject({
      method: r.method as InjectOptions['method'],
      url: fillPath(r.url, t),
      ...body,
      headers: { ...body.headers, ...headers },
    });
  };
  const name = (r: RouteEntry) => `${r.method} ${r.url}`;
  type Operation = { responses: Record<string, unknown>; security?: unknown[] };
  /** The route's operation in the OpenAPI document; undefined when it is not documented. */
  /** A route's URL as the document spells it (the ingress's wildcard is its `{path}` parameter). */
  const docPath = (url: string): string => url.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');
  const operation = (r: RouteEntry): Operation | undefined => {
    const paths = (w.p.app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> })
      .paths;
    return paths[docPath(r.url)]?.[r.method.toLowerCase()];
  };
  const declared = (r: RouteEntry): string[] | undefined => {
    const op = operation(r);
    return op && Object.keys(op.responses);
  };
  const assertDeclared = (r: RouteEntry, status: number): void => {
    const statuses = declared(r);
    if (statuses)
      assert.ok(
        statuses.includes(String(status)),
        `${name(r)} answers ${status}; the document lists ${statuses}`,
      );
  };
  const code = (res: LightMyRequestResponse): string | undefined =>
    res.body ? (res.json() as { error?: { code?: string } }).error?.code : undefined;

  test('the document says which routes need no key, and which may answer 401, 403 and 429', () => {
    let documented = 0;
    for (const r of routes) {
      const op = operation(r);
      if (!op) continue;
      documented++;
      const statuses = Object.keys(op.responses);
      if (r.policy.access === 'function-url') {
        // Public unless the function asks for a key.
        assert.deepEqual(op.security, [{}, { bearerAuth: [] }], name(r));
        for (const status of ['401', '403', '404', '405', '413', '429', '502', '504'])
          assert.ok(statuses.includes(status), `${name(r)}: ${status}`);
        continue;
      }
      if (r.policy.access === 'public') {
        assert.deepEqual(op.security, [], `${name(r)} is public`);
        continue;
      }
      assert.equal(op.security, undefined, `${name(r)} needs a key (the document's default)`);
      for (const status of ['401', '429']) assert.ok(statuses.includes(status), `${name(r)}: ${status}`);
      // Every keyed route refuses the metrics token, so each may answer 403.
      assert.ok(statuses.includes('403'), `${name(r)}: 403`);
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method)) {
        for (const status of ['400', '413', '415'])
          assert.ok(statuses.includes(status), `${name(r)}: ${status}`);
      } else {
        for (const status of ['413', '415'])
          assert.ok(!statuses.includes(status), `${name(r)} reads no body: ${status}`);
      }
    }
    assert.ok(documented >= 28, `only ${documented} documented operations`);
  });

  test('the route table is complete and only the documented routes are public', () => {
    assert.ok(routes.length >= 30, `only ${routes.length} routes recorded`);
    const documented = Object.keys((w.p.app.swagger() as { paths: Record<string, unknown> }).paths);
    for (const path of documented) {
      assert.ok(
        routes.some((r) => docPath(r.url) === path),
        `${path} is not in the guard's route table`,
      );
    }
    for (const r of routes.filter((x) => x.policy.access === 'public')) {
      assert.ok(
        PUBLIC_ROUTES.has(r.url) || r.url === '/docs' || r.url.startsWith('/docs/'),
        `${name(r)} is public`,
      );
    }
    const fnUrl = routes.filter((r) => r.policy.access === 'function-url').map((r) => r.url);
    assert.deepEqual([...new Set(fnUrl)].sort(), ['/fn/:function_id', '/fn/:function_id/*']);
  });

  test('no key → 401 with WWW-Authenticate on every non-public route', async () => {
    for (const r of controlPlane()) {
      const res = await request(r, w.b, {});
      assert.equal(res.statusCode, 401, `${name(r)}: ${res.body}`);
      assertDeclared(r, 401);
      assert.match(String(res.headers['www-authenticate']), /^Bearer/, name(r));
      if (r.method !== 'HEAD') assert.equal(code(res), 'UNAUTHORIZED', name(r));
    }
  });

  test('malformed Authorization headers → 401 on every non-public route', async () => {
    for (const r of controlPlane()) {
      for (const header of MALFORMED) {
        const res = await request(r, w.b, { authorization: header });
        assert.equal(res.statusCode, 401, `${name(r)} with '${header.slice(0, 40)}': ${res.body}`);
      }
    }
  });

  test("another workspace's key → 404 exactly like a missing resource (403 on admin-only routes), and nothing changes", async () => {
    const before = await w.p.meta.dumpKeys();
    let checked = 0;
    for (const r of controlPlane()) {
      const res = await request(r, w.b, bearer(w.a.key));
      if (r.policy.access === 'admin' || r.policy.access === 'metrics') {
        assert.equal(res.statusCode, 403, `${name(r)}: ${res.body}`);
        assertDeclared(r, 403);
        if (r.method !== 'HEAD') assert.equal(code(res), 'FORBIDDEN');
        continue;
      }
      if (r.policy.access === 'any-key') continue; // checked below (its own answer filters)
      checked++;
      assert.equal(res.statusCode, 404, `${name(r)}: ${res.body}`);
      assertDeclared(r, 404);
      if (r.method === 'HEAD') continue;
      // The same request by the admin on ids that exist nowhere: the route's own "missing" answer.
      const missing = await request(r, MISSING, w.admin);
      assert.equal(
        missing.statusCode,
        404,
        `${name(r)} on missing ids (give it a sampleBody?): ${missing.body}`,
      );
      const normalize = (res: LightMyRequestResponse, t: Tenant) => {
        const body = res.json() as {
          error: { code: string; message: string; details: Record<string, unknown> };
        };
        let text = JSON.stringify(body);
        for (const [k, v] of Object.entries(t)) text = text.split(String(v)).join(`<${k}>`);
        return text;
      };
      assert.equal(
        normalize(res, w.b),
        normalize(missing, MISSING),
        `${name(r)}: a foreign resource must look missing`,
      );
    }
    assert.ok(checked >= 20, `only ${checked} workspace-scoped routes`);
    assert.deepEqual(await w.p.meta.dumpKeys(), before, 'a refused request changed stored data');
  });

  test('the metrics token reads GET /metrics and is refused (403) everywhere else, and nothing changes', async () => {
    const before = await w.p.meta.dumpKeys();
    const token = bearer(METRICS_TOKEN);
    let scrapes = 0;
    for (const r of controlPlane()) {
      const res = await request(r, w.a, token);
      if (r.url === '/metrics') {
        assert.equal(res.statusCode, 200, `${name(r)}: ${res.body}`);
        scrapes++;
        continue;
      }
      assert.equal(res.statusCode, 403, `${name(r)}: ${res.body}`);
      assertDeclared(r, 403);
      if (r.method !== 'HEAD') assert.equal(code(res), 'FORBIDDEN', name(r));
    }
    assert.equal(scrapes, 2, 'GET and HEAD /metrics');
    const scrape = await w.p.app.inject({ method: 'GET', url: '/metrics', headers: token });
    assert.match(scrape.body, /gateway_function_invocation_total/);
    assert.deepEqual(await w.p.meta.dumpKeys(), before, 'a refused request changed stored data');
  });

  test('a revoked key → 401 everywhere, at once', async () => {
    const created = await w.newKey();
    const own = await w.p.app.inject({
      method: 'GET',
      url: `/api/workspaces/${w.a.ws}`,
      headers: bearer(created.key),
    });
    assert.equal(own.statusCode, 200);
    const del = await w.p.app.inject({
      method: 'DELETE',
      url: `/api/workspaces/${w.a.ws}/keys/${created.id}`,
      headers: bearer(created.key),
    });
    assert.equal(del.statusCode, 204);
    for (const r of controlPlane()) {
      const res = await request(r, w.a, bearer(created.key));
      assert.equal(res.statusCode, 401, `${name(r)}: ${res.body}`);
    }
  });

  test('a workspace key reaches its own workspace on every GET route', async () => {
    for (const r of controlPlane().filter((x) => x.method === 'GET' && x.policy.access === 'workspace')) {
      const res = await request(r, w.a, bearer(w.a.key));
      assert.ok(res.statusCode < 400, `${name(r)}: ${res.statusCode} ${res.body}`);
    }
  });

  test('mixing ids: own workspace with another workspace’s function answers like a missing function', async () => {
    for (const r of controlPlane().filter(
      (x) => x.url.includes(':workspace_id') && x.url.includes(':function_id') && x.method !== 'HEAD',
    )) {
      const foreign = await request(r, { ...w.a, fn: w.b.fn }, bearer(w.a.key));
      const missing = await request(r, { ...w.a, fn: MISSING.fn }, bearer(w.a.key));
      assert.equal(foreign.statusCode, 404, `${name(r)}: ${foreign.body}`);
      assert.equal(
        foreign.body.split(w.b.fn).join('<fn>'),
        missing.body.split(MISSING.fn).join('<fn>'),
        name(r),
      );
    }
  });

  test('POST /api/v1/deploy without function_id names the field, for the admin and a workspace key', async () => {
    // Its access scope looks the function up; absent, it answered 404 for a function ''.
    for (const headers of [w.admin, bearer(w.a.key)]) {
      const res = await w.p.app.inject({
        method: 'POST',
        url: '/api/v1/deploy',
        headers,
        payload: { namespace: 'default', image_ref: w.a.image },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error.details.field, 'function_id');
    }
  });

  test('a workspace key lists only its own workspace; only the admin creates workspaces', async () => {
    const list = await w.p.app.inject({ method: 'GET', url: '/api/workspaces', headers: bearer(w.a.key) });
    assert.deepEqual(
      (list.json() as Array<{ id: string }>).map((x) => x.id),
      [w.a.ws],
    );
    const all = await w.p.app.inject({ method: 'GET', url: '/api/workspaces', headers: w.admin });
    assert.ok((all.json() as Array<{ id: string }>).length >= 2);
    const create = await w.p.app.inject({
      method: 'POST',
      url: '/api/workspaces',
      headers: bearer(w.a.key),
      payload: { name: 'x' },
    });
    assert.equal(create.statusCode, 403);
  });

  test('public routes answer without a key, and with a bad one; unknown paths do not (fail closed)', async () => {
    for (const url of ['/health', '/ready', '/', '/openapi.json', '/docs', '/redoc']) {
      const res = await w.p.app.inject({ method: 'GET', url });
      assert.ok(res.statusCode < 400, `${url}: ${res.statusCode}`);
      // A probe that carries a revoked or malformed key is not turned away: nothing is checked.
      for (const authorization of ['Bearer eunha_revoked', 'Basic abc']) {
        const withKey = await w.p.app.inject({ method: 'GET', url, headers: { authorization } });
        assert.ok(withKey.statusCode < 400, `${url} with ${authorization}: ${withKey.statusCode}`);
      }
    }
    assert.equal((await w.p.app.inject({ method: 'GET', url: '/no/such/route' })).statusCode, 401);
    assert.equal((await w.p.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal(
      (await w.p.app.inject({ method: 'GET', url: '/metrics', headers: bearer(w.a.key) })).statusCode,
      403,
    );
    assert.equal(
      (await w.p.app.inject({ method: 'GET', url: '/metrics', headers: w.admin })).statusCode,
      200,
    );
  });

  test('keys: shown once, listed by prefix, and never stored in clear', async () => {
    const created = await w.p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${w.a.ws}/keys`,
      headers: bearer(w.a.key),
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.headers['cache-control'], 'no-store');
    const k = created.json() as { id: string; key: string; prefix: string };
    assert.match(k.key, /^eunha_[A-Za-z0-9_-]{43}$/);
    assert.ok(k.key.startsWith(k.prefix));
    const list = await w.p.app.inject({
      method: 'GET',
      url: `/api/workspaces/${w.a.ws}/keys`,
      headers: w.admin,
    });
    assert.ok(!list.body.includes(k.key));
    const listed = (list.json() as Array<{ id: string; prefix: string }>).find((x) => x.id === k.id);
    assert.equal(listed?.prefix, k.prefix);
    const other = await w.p.app.inject({
      method: 'GET',
      url: `/api/workspaces/${w.a.ws}/keys`,
      headers: bearer(w.b.key),
    });
    assert.equal(other.statusCode, 404);
  });
});

describe('browsers', () => {
  test('a CORS preflight (which carries no credentials) is answered with auth on', async () => {
    const p = await startTestPlatform({
      EUNHA_ADMIN_KEY: ADMIN_KEY,
      CORS_ORIGINS: '["https://console.example"]',
    });
    try {
      const res = await p.app.inject({
        method: 'OPTIONS',
        url: '/api/workspaces',
        headers: {
          origin: 'https://console.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      assert.equal(res.statusCode, 204, res.body);
      assert.equal(res.headers['access-control-allow-origin'], 'https://console.example');
      assert.match(String(res.headers['access-control-allow-headers']), /authorization/);
      const real = await p.app.inject({
        method: 'GET',
        url: '/api/workspaces',
        headers: { origin: 'https://console.example' },
      });
      assert.equal(real.statusCode, 401);
    } finally {
      await p.cleanup();
    }
  });
});

describe('a route registered without a policy', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  before(async () => {
    const meta = await openSqliteMetadataStore(':memory:');
    const keys = new ApiKeyService({ meta, clock: () => new Date(), ids: randomIds });
    await meta.createWorkspace({
      id: 'ws-a',
      name: 'a',
      description: null,
      createdAt: new Date().toISOString(),
    });
    const key = await keys.create('ws-a', null);
    app = Fastify({ logger: false }) as unknown as FastifyInstance;
    installErrorHandling(app);
    installGuard(app, { auth: new Authenticator(ADMIN_KEY, keys), limiter: new RateLimiter(0) });
    app.get('/added-later', async () => ({ ok: true }));
    await app.ready();
    close = async () => {
      await app.close();
      await meta.close();
    };
    wsKey = key.key;
  });
  let wsKey = '';
  after(async () => close?.());

  test('is admin-only: 401 without a key, 403 with a workspace key, 200 with the admin key', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/added-later' })).statusCode, 401);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/added-later', headers: bearer(wsKey) })).statusCode,
      403,
    );
    assert.equal(
      (await app.inject({ method: 'GET', url: '/added-later', headers: bearer(ADMIN_KEY) })).statusCode,
      200,
    );
    assert.equal(app.routeTable.find((r) => r.url === '/added-later')?.policy.access, 'admin');
  });
});
