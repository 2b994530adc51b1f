// Thousands of generated malformed requests (fast-check) against every route of the table: random
// methods, paths with random or real ids, JSON and non-JSON bodies, content types, headers, query
// strings and Authorization values. Without a valid key nothing may be stored or changed; with
// any key nothing may answer a 5xx of the platform's fault (a function's own failure, e.g.
// FUNCTION_ERROR, is the user's fault in the catalogue) or crash the process.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { ERROR_CATALOGUE, type ErrorCode } from '../../src/core/errors.js';
import { multipart } from '../build/harness.js';
import { ADMIN_KEY, MISSING, bearer, startWorld, type Tenant, type World } from './world.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=----x',
  'application/octet-stream',
  'application/xml',
  '*/*',
  'json',
  ';;;',
  '',
];

/** A path parameter: an id of a tenant, of nobody, or junk (percent-encoded, so it stays one segment). */
const idArb = (ids: string[]) =>
  fc.oneof(
    fc.constantFrom(...ids),
    fc.string({ maxLength: 40 }).map((s) => encodeURIComponent(s)),
    fc.constantFrom(
      '..',
      '%2e%2e',
      '%00',
      'ws-default',
      '-1',
      '0',
      '99999999999',
      'a'.repeat(300),
      '%F0%9F%98%80',
      '%ff',
    ),
  );

const bodyArb = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc
    .record({ name: fc.string({ maxLength: 20 }), code: fc.string({ maxLength: 40 }) })
    .map((o) => JSON.stringify(o)),
  fc
    .record({ workspace_id: fc.string({ maxLength: 20 }), registry_url: fc.constantFrom('local', 'x') })
    .map((f) => multipart(f)),
  fc
    .record({ app_name: fc.string({ maxLength: 10 }), data: fc.string({ maxLength: 100 }) })
    .map((f) => multipart({ app_name: f.app_name }, { filename: 'app.py', data: f.data })),
);

const headerName = fc.stringMatching(/^x-[a-z0-9-]{1,20}$/);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/);

export interface FuzzRequest {
  method: (typeof METHODS)[number];
  url: string;
  body: unknown;
  contentType: string | undefined;
  headers: Record<string, string>;
  auth: string | undefined;
}

function requestArb(
  urls: string[],
  ids: string[],
  auths: fc.Arbitrary<string | undefined>,
): fc.Arbitrary<FuzzRequest> {
  const path = fc.oneof(
    {
      weight: 9,
      arbitrary: fc
        .tuple(fc.constantFrom(...urls), fc.array(idArb(ids), { minLength: 4, maxLength: 4 }))
        .map(([url, vals]) => {
          let i = 0;
          return url.replace(/:[A-Za-z_]+|\*/g, () => vals[i++ % vals.length]!);
        }),
    },
    { weight: 1, arbitrary: fc.webPath() },
  );
  const query = fc
    .dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), fc.string({ maxLength: 20 }), { maxKeys: 3 })
    .map((q) => {
      const s = new URLSearchParams(q).toString();
      return s ? `?${s}` : '';
    });
  return fc.record({
    method: fc.constantFrom(...METHODS),
    url: fc.tuple(path, query).map(([p, q]) => `${p.startsWith('/') ? p : `/${p}`}${q}`),
    body: bodyArb,
    contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
    headers: fc.dictionary(headerName, headerValue, { maxKeys: 3 }),
    auth: auths,
  });
}

function toInject(r: FuzzRequest): InjectOptions {
  const headers: Record<string, string> = { ...r.headers };
  let payload: InjectOptions['payload'];
  if (r.body && typeof r.body === 'object' && 'payload' in r.body && 'headers' in r.body) {
    const form = r.body as { payload: Buffer; headers: Record<string, string> };
    payload = form.payload;
    Object.assign(headers, form.headers);
  } else if (r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD') {
    payload = (
      Buffer.isBuffer(r.body) || typeof r.body === 'string' ? r.body : JSON.stringify(r.body)
    ) as InjectOptions['payload'];
  }
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  if (r.auth !== undefined) headers.authorization = r.auth;
  return { method: r.method, url: r.url, headers, ...(payload !== undefined ? { payload } : {}) };
}

/**
 * Every refusal answers the error envelope with a catalogue code; a 5xx is allowed only when the
 * catalogue puts it on the user's side (their function failed).
 */
function platformFault(res: LightMyRequestResponse): string | undefined {
  // @fastify/cors answers a malformed preflight itself, in plain text, before any route runs.
  const preflight = res.statusCode === 400 && res.body === 'Invalid Preflight Request';
  if (res.statusCode >= 400 && res.body !== '' && !preflight) {
    let code: unknown;
    try {
      code = (res.json() as { error?: { code?: unknown } }).error?.code;
    } catch {
      code = undefined;
    }
    if (typeof code !== 'string' || !(code in ERROR_CATALOGUE))
      return `a ${res.statusCode} without the error envelope`;
  }
  if (res.statusCode < 500) return undefined;
  let code: string | undefined;
  try {
    code = (res.json() as { error?: { code?: string } }).error?.code;
  } catch {
    return `a ${res.statusCode} without the error envelope`;
  }
  const spec = code ? ERROR_CATALOGUE[code as ErrorCode] : undefined;
  return spec?.fault === 'user' ? undefined : `${res.statusCode} ${code}`;
}

describe('fuzzing every route', () => {
  let w: World;
  let urls: string[];
  let ids: string[];
  before(async () => {
    w = await startWorld();
    // The ingress gets junk ids only: a real public function may legitimately store its run's log.
    urls = [...new Set(w.p.app.routeTable.map((r) => r.url))];
    const idsOf = (t: Tenant) => [t.ws, t.fn, t.task, t.keyId, '1'];
    ids = [...idsOf(w.a), ...idsOf(w.b), ...idsOf(MISSING)];
  });
  after(async () => w?.close());

  test('without a valid key: no 5xx, no crash, and no stored data changes', { timeout: 60_000 }, async () => {
    const revoked = await w.newKey();
    await w.p.app.inject({
      method: 'DELETE',
      url: `/api/workspaces/${w.a.ws}/keys/${revoked.id}`,
      headers: w.admin,
    });
    await w.p.writer.flush();
    const before = await w.p.meta.dumpKeys();
    const auths = fc.oneof(
      fc.constant(undefined),
      fc.constant(`Bearer ${revoked.key}`),
      fc.constant(`Bearer ${ADMIN_KEY}x`),
      headerValue,
      headerValue.map((v) => `Bearer ${v}`),
      fc.stringMatching(/^eunha_[A-Za-z0-9_-]{43}$/).map((k) => `Bearer ${k}`),
    );
    const safeUrls = urls.filter((u) => !u.startsWith('/fn/'));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(requestArb(safeUrls, ids, auths), async (r) => {
        n++;
        const res = await w.p.app.inject(toInject(r));
        const fault = platformFault(res);
        assert.equal(fault, undefined, `${r.method} ${r.url}: ${fault} ${res.body.slice(0, 300)}`);
      }),
      { numRuns: 5000 },
    );
    // Ingress with junk ids, anonymous.
    await fc.assert(
      fc.asyncProperty(
        requestArb(
          ['/fn/:function_id', '/fn/:function_id/*'],
          [MISSING.fn, 'fn-', ''],
          fc.constant(undefined),
        ),
        async (r) => {
          n++;
          const res = await w.p.app.inject(toInject(r));
          assert.equal(platformFault(res), undefined, `${r.method} ${r.url}: ${res.body.slice(0, 300)}`);
        },
      ),
      { numRuns: 300 },
    );
    await w.p.writer.flush();
    assert.deepEqual(await w.p.meta.dumpKeys(), before, 'a request without a valid key changed stored data');
    assert.ok(n >= 5300);
    assert.equal((await w.p.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'still serving');
  });

  test("with A's key: no 5xx, and nothing of B changes", { timeout: 60_000 }, async () => {
    await w.p.writer.flush();
    const ofB = async () =>
      (await w.p.meta.dumpKeys()).filter((k) =>
        [w.b.ws, w.b.fn, w.b.task, w.b.keyId].some((id) => k.pk.includes(id) || k.sk.includes(id)),
      );
    const before = await ofB();
    await fc.assert(
      fc.asyncProperty(
        requestArb(
          urls.filter((u) => !u.startsWith('/fn/')),
          ids,
          fc.constant(`Bearer ${w.a.key}`),
        ),
        async (r) => {
          const res = await w.p.app.inject(toInject(r));
          const fault = platformFault(res);
          assert.equal(fault, undefined, `${r.method} ${r.url}: ${fault} ${res.body.slice(0, 300)}`);
        },
      ),
      { numRuns: 3000 },
    );
    await w.p.writer.flush();
    assert.deepEqual(await ofB(), before, "A's key changed B's data");
  });

  test('with the admin key: no 5xx of the platform’s fault, no crash', { timeout: 60_000 }, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb(urls, ids, fc.constant(bearer(ADMIN_KEY).authorization)), async (r) => {
        const res = await w.p.app.inject(toInject(r));
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const fault = platformFault(res);
        assert.equal(fault, undefined, `${r.method} ${r.url}: ${fault} ${res.body.slice(0, 300)}`);
      }),
      { numRuns: 3000 },
    );
    // The requests must reach the handlers, not stop at one layer: successes and several refusals.
    const ok = [...statuses].filter(([s]) => s < 300).reduce((a, [, c]) => a + c, 0);
    assert.ok(ok >= 20 && statuses.size >= 5, `statuses seen: ${JSON.stringify([...statuses])}`);
    assert.equal((await w.p.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  });
});
