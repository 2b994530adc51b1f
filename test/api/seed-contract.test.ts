// The Blue FaaS contract, checked against the seed's own OpenAPI file (a copy in test/fixtures):
// every workspace/function path+method there is served here, and every property name of its
// request and response schemas exists in ours (ours may add fields, never drop or rename one).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

type Json = Record<string, unknown>;
interface OpenApi {
  paths: Record<string, Record<string, Json>>;
  components?: { schemas?: Record<string, Json> };
}

const seed = parse(
  readFileSync(new URL('../../../test/fixtures/blue-faas-openapi.yaml', import.meta.url), 'utf8'),
) as OpenApi;

function resolve(doc: OpenApi, schema: unknown): Json | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const s = schema as Json;
  if (typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop()!;
    return resolve(doc, doc.components?.schemas?.[name]);
  }
  return s;
}

/** Property names of an object schema, looking through anyOf/oneOf/allOf and arrays. */
function propertyNames(doc: OpenApi, schema: unknown): Set<string> {
  const s = resolve(doc, schema);
  const out = new Set<string>();
  if (!s) return out;
  if (s.properties && typeof s.properties === 'object') for (const k of Object.keys(s.properties)) out.add(k);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = s[key];
    if (Array.isArray(list)) for (const sub of list) for (const k of propertyNames(doc, sub)) out.add(k);
  }
  if (s.items) for (const k of propertyNames(doc, s.items)) out.add(k);
  return out;
}

function requestSchema(op: Json): unknown {
  const body = op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined;
  return body?.content?.['application/json']?.schema;
}

function successSchema(op: Json): unknown {
  const responses = (op.responses ?? {}) as Record<
    string,
    { content?: Record<string, { schema?: unknown }> }
  >;
  const code = Object.keys(responses).find((c) => c.startsWith('2'));
  return code ? responses[code]?.content?.['application/json']?.schema : undefined;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('seed OpenAPI contract', () => {
  let p: TestPlatform;
  let ours: OpenApi;
  before(async () => {
    p = await startTestPlatform();
    ours = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApi;
  });
  after(async () => p.cleanup());

  const seedOps = Object.entries(seed.paths)
    .filter(([path]) => path.startsWith('/api/workspaces'))
    .flatMap(([path, ops]) => METHODS.filter((m) => ops[m]).map((m) => ({ path, method: m, op: ops[m]! })));

  test('the fixture really has the workspace and function operations', () => {
    assert.ok(seedOps.length >= 11, `only ${seedOps.length} operations found in the seed file`);
  });

  for (const { path, method, op } of seedOps) {
    test(`${method.toUpperCase()} ${path} is served with the seed's field names`, () => {
      const mine = ours.paths[path]?.[method];
      assert.ok(mine, `${method.toUpperCase()} ${path} is missing from /openapi.json`);
      const seedReq = propertyNames(seed, requestSchema(op));
      const ourReq = propertyNames(ours, requestSchema(mine));
      for (const name of seedReq)
        assert.ok(ourReq.has(name), `request field '${name}' of ${method} ${path} is missing`);
      const seedRes = propertyNames(seed, successSchema(op));
      const ourRes = propertyNames(ours, successSchema(mine));
      for (const name of seedRes)
        assert.ok(ourRes.has(name), `response field '${name}' of ${method} ${path} is missing`);
      const seedCodes = Object.keys((op.responses ?? {}) as object).filter((c) => c.startsWith('2'));
      const ourCodes = Object.keys((mine.responses ?? {}) as object).filter((c) => c.startsWith('2'));
      assert.deepEqual(ourCodes, seedCodes, `success status of ${method} ${path}`);
      const seedParams = ((op.parameters ?? []) as Array<{ name: string; in: string }>)
        .map((x) => `${x.in}:${x.name}`)
        .sort();
      const ourParams = ((mine.parameters ?? []) as Array<{ name: string; in: string }>).map(
        (x) => `${x.in}:${x.name}`,
      );
      for (const param of seedParams)
        assert.ok(ourParams.includes(param), `parameter ${param} of ${method} ${path}`);
    });
  }

  test('the document has descriptions and examples', () => {
    const create = ours.paths['/api/workspaces/{workspace_id}/functions']?.post;
    assert.ok(create?.summary && create.description);
    assert.match(JSON.stringify(create), /"examples?"/);
  });
});
