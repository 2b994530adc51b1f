// Malformed requests get a clear 4xx in the seed's envelope, never a 500.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('bad input at the edge', () => {
  let p: TestPlatform;
  before(async () => {
    p = await startTestPlatform({ EUNHA_BODY_LIMIT_BYTES: '2048' });
  });
  after(async () => p.cleanup());

  const post = (payload: string | Buffer, contentType = 'application/json') =>
    p.app.inject({
      method: 'POST',
      url: '/api/workspaces',
      payload,
      headers: { 'content-type': contentType },
    });

  test('malformed JSON → 400 BAD_JSON', async () => {
    for (const body of ['{', '{"name": }', 'nul', '{"name":"a",}']) {
      const res = await post(body);
      assert.equal(res.statusCode, 400, body);
      assert.equal(res.json().error.code, 'BAD_JSON', body);
      assert.equal(res.json().error.details.field, 'body');
    }
  });

  test('a body that is not UTF-8 → 400 BAD_JSON, nothing stored', async () => {
    // Decoded leniently, \xff became U+FFFD and a workspace named "\ufffd" was created.
    for (const bytes of [
      Buffer.from([...Buffer.from('{"name":"'), 0xff, ...Buffer.from('"}')]),
      Buffer.from([...Buffer.from('{"name":"caf'), 0xc3, ...Buffer.from('"}')]),
    ]) {
      const res = await post(bytes);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error.code, 'BAD_JSON');
      assert.equal(res.json().error.details.reason, 'encoding');
    }
    const listed = (await p.app.inject({ method: 'GET', url: '/api/workspaces' })).json();
    assert.ok(!JSON.stringify(listed).includes('\ufffd'), JSON.stringify(listed));
    // UTF-8 itself, and a byte order mark, still parse.
    assert.equal((await post(Buffer.from('\ufeff{"name":"café ☕"}'))).statusCode, 201);
  });

  test('empty body → 400 VALIDATION_ERROR on body', async () => {
    const res = await post('');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'VALIDATION_ERROR');
  });

  test('prototype poisoning is refused', async () => {
    const res = await post('{"name":"x","__proto__":{"polluted":true}}');
    assert.equal(res.statusCode, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('oversized body → 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await post(JSON.stringify({ name: 'x', description: 'y'.repeat(4000) }));
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().error.code, 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(res.json().error.details, { field: 'body', limit: 2048 });
  });

  test('wrong content type → 415, text/plain too (even when the text is JSON)', async () => {
    for (const [body, type] of [
      ['name=x', 'application/x-www-form-urlencoded'],
      ['{"name":"x"}', 'text/plain'],
      ['{"name":"x"}', 'text/plain; charset=utf-8'],
    ] as const) {
      const res = await post(body, type);
      assert.equal(res.statusCode, 415, type);
      assert.equal(res.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  test('a JSON body without Content-Type, or as application/*+json, is read as JSON (as FastAPI did)', async () => {
    const bare = await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: '{"name":"bare"}' });
    assert.equal(bare.statusCode, 201, bare.body);
    assert.equal(bare.json().name, 'bare');
    for (const type of ['application/vnd.api+json', 'application/merge-patch+json; charset=utf-8']) {
      const res = await post(JSON.stringify({ name: type }), type);
      assert.equal(res.statusCode, 201, `${type}: ${res.body}`);
      assert.equal(res.json().name, type);
    }
    // Still JSON, so still checked as JSON; and `+json` is a suffix, not any text that contains it.
    assert.equal(
      (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: 'name=x' })).json().error.code,
      'BAD_JSON',
    );
    assert.equal((await post('{"name":"x"}', 'text/x+json')).statusCode, 415);
    assert.equal((await post('{"name":"x"}', 'application/x+jsonp')).statusCode, 415);
  });

  test('a build upload without Content-Type is still a 415 asking for multipart', async () => {
    const res = await p.app.inject({ method: 'POST', url: '/api/v1/build', payload: '{"file":"x"}' });
    assert.equal(res.statusCode, 415, res.body);
    assert.match(res.json().error.message, /multipart/);
  });

  test('unknown route → 404 in the envelope', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/api/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'NOT_FOUND');
  });

  test('bad query parameters → 400 naming the field', async () => {
    const ws = (
      await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'q' } })
    ).json();
    for (const q of ['limit=0', 'limit=1001', 'limit=abc']) {
      const res = await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}/logs?${q}` });
      assert.equal(res.statusCode, 400, q);
      assert.equal(res.json().error.code, 'VALIDATION_ERROR');
      assert.equal(res.json().error.details.field, 'limit', q);
    }
    const twice = await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws.id}/logs?limit=1&limit=2` });
    assert.equal(twice.statusCode, 400, twice.body);
    assert.equal(twice.json().error.message, 'limit may be given only once');
    // An unknown parameter (a browser's cache-buster) is ignored, as the seed's FastAPI did.
    const extra = await p.app.inject({
      method: 'GET',
      url: `/api/workspaces/${ws.id}/logs?_=1732600000&limit=5`,
    });
    assert.equal(extra.statusCode, 200, extra.body);
  });

  test('request ids are echoed and accepted from the caller', async () => {
    const res = await p.app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'trace-123' },
    });
    assert.equal(res.headers['x-request-id'], 'trace-123');
    const gen = await p.app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    assert.notEqual(gen.headers['x-request-id'], 'bad id with spaces');
    assert.match(String(gen.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});
