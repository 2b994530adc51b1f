// Small input-handling defects, each once a silent acceptance or an unhelpful answer: compressed
// JSON bodies, prototype keys, error messages echoing huge values, the secrets mask on a new name,
// the field named by a plain/secret clash, no-op patches bumping lastModified, scaffold image refs.

import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { MASK } from '../../src/auth/secrets.js';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

interface ErrorAnswer {
  statusCode: number;
  body: string;
}

const errorOf = (res: ErrorAnswer, status: number, code: string, field: string) => {
  assert.equal(res.statusCode, status, res.body.slice(0, 300));
  const body = JSON.parse(res.body) as {
    error: { code: string; message: string; details: Record<string, unknown> };
  };
  assert.equal(body.error.code, code);
  assert.equal(body.error.details.field, field);
  return body.error;
};

describe('small input defects', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform({ EUNHA_SECRETS_KEY: Buffer.alloc(32, 3).toString('base64') });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'small' } })).json()
      .id as string;
  });
  after(async () => p.cleanup());

  const fns = () => `/api/workspaces/${ws}/functions`;
  const createFunction = async (extra: Record<string, unknown> = {}) => {
    const res = await p.app.inject({
      method: 'POST',
      url: fns(),
      payload: { name: 'f', code: b64('x = 1\n'), ...extra },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as Record<string, unknown> & { id: string; lastModified: string };
  };
  const patchFunction = (id: string, payload: unknown) =>
    p.app.inject({ method: 'PATCH', url: `${fns()}/${id}`, payload: payload as object });

  describe('Content-Encoding on a JSON body', () => {
    const post = (encoding: string | undefined, payload: string | Buffer) =>
      p.app.inject({
        method: 'POST',
        url: '/api/workspaces',
        headers: {
          'content-type': 'application/json',
          ...(encoding === undefined ? {} : { 'content-encoding': encoding }),
        },
        payload,
      });

    test('gzip, deflate or br is 415 on content-encoding, whether or not the bytes are compressed', async () => {
      const json = '{"name":"gz"}';
      for (const [encoding, payload] of [
        ['gzip', json],
        ['gzip', gzipSync(json)],
        ['deflate', json],
        ['br', json],
        ['GZIP', json],
        ['identity, gzip', json],
      ] as const) {
        const error = errorOf(
          await post(encoding, payload),
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          'content-encoding',
        );
        assert.match(error.message, /content-encoding/, encoding);
      }
    });

    test('identity (or no header) is accepted as before', async () => {
      for (const encoding of [undefined, 'identity', ' Identity ']) {
        const res = await post(encoding, '{"name":"plain"}');
        assert.equal(res.statusCode, 201, `${String(encoding)}: ${res.body}`);
      }
    });

    test('a long encoding is not echoed in full', async () => {
      const error = errorOf(
        await post('x'.repeat(5000), '{"name":"x"}'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'content-encoding',
      );
      assert.ok(error.message.length < 200, error.message);
    });
  });

  describe('prototype keys', () => {
    const post = (payload: string) =>
      p.app.inject({
        method: 'POST',
        url: '/api/workspaces',
        headers: { 'content-type': 'application/json' },
        payload,
      });

    test('__proto__ and constructor.prototype are refused, saying why', async () => {
      for (const payload of [
        '{"name":"p","__proto__":{"isAdmin":true}}',
        '{"name":"p","nested":{"constructor":{"prototype":{"x":1}}}}',
      ]) {
        const error = errorOf(await post(payload), 400, 'BAD_JSON', 'body');
        assert.match(error.message, /prototype/, payload);
        assert.doesNotMatch(error.message, /not valid JSON/, payload);
      }
    });

    test('broken JSON is still reported as broken JSON', async () => {
      const error = errorOf(await post('{"name":'), 400, 'BAD_JSON', 'body');
      assert.doesNotMatch(error.message, /prototype/);
    });

    test('a "constructor" key without "prototype" is ordinary data', async () => {
      const res = await post('{"name":"c","description":"{\\"constructor\\":1}"}');
      assert.equal(res.statusCode, 201, res.body);
    });
  });

  describe('echoed values are cut short', () => {
    const huge = 'A'.repeat(100_000);
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['httpMethods', { httpMethods: [huge] }, 'httpMethods'],
      ['invocationUrl', { invocationUrl: `http://${'a'.repeat(1500)} b` }, 'invocationUrl'],
      ['lastDeployed', { lastDeployed: `2026-01-01${'x'.repeat(100_000)}` }, 'lastDeployed'],
    ];

    test('HTTP methods on create: a 100 KB value gives a short message', async () => {
      const res = await p.app.inject({
        method: 'POST',
        url: fns(),
        payload: { name: 'm', code: b64('x = 1\n'), httpMethods: ['GET', huge] },
      });
      const error = errorOf(res, 400, 'VALIDATION_ERROR', 'httpMethods');
      assert.ok(res.body.length < 400, `${res.body.length} bytes`);
      assert.ok(error.message.includes(`'${'A'.repeat(64)}…'`), error.message);
    });

    test('every quoted field of a patch stays short', async () => {
      const fn = await createFunction();
      for (const [what, payload, field] of cases) {
        const res = await patchFunction(fn.id, payload);
        errorOf(res, 400, 'VALIDATION_ERROR', field);
        assert.ok(res.body.length < 400, `${what}: ${res.body.length} bytes`);
      }
    });

    test('a cut never leaves half a surrogate pair', async () => {
      const res = await p.app.inject({
        method: 'POST',
        url: fns(),
        payload: { name: 'm', code: b64('x = 1\n'), httpMethods: [`${'B'.repeat(63)}${'😀'.repeat(10)}`] },
      });
      const error = errorOf(res, 400, 'VALIDATION_ERROR', 'httpMethods');
      assert.ok(error.message.includes(`'${'B'.repeat(63)}…'`), error.message);
      const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
      assert.doesNotMatch(error.message, lone, 'a lone surrogate in the message');
    });
  });

  describe('secret environment variables', () => {
    test('the mask for a name the function has no secret for is refused', async () => {
      const fn = await createFunction({ secretEnvironmentVariables: { OLD: 'old-secret' } });
      const error = errorOf(
        await patchFunction(fn.id, { secretEnvironmentVariables: { NEW: MASK } }),
        400,
        'VALIDATION_ERROR',
        'secretEnvironmentVariables',
      );
      assert.match(error.message, /'NEW'/);
      const after = (await p.app.inject({ method: 'GET', url: `${fns()}/${fn.id}` })).json();
      assert.deepEqual(after.secretEnvironmentVariables, { OLD: MASK });
      // The mask still keeps an existing secret, and null still removes one.
      const kept = await patchFunction(fn.id, { secretEnvironmentVariables: { OLD: MASK } });
      assert.equal(kept.statusCode, 200, kept.body);
      assert.deepEqual(kept.json().secretEnvironmentVariables, { OLD: MASK });
    });

    test('the mask on create is refused too', async () => {
      const res = await p.app.inject({
        method: 'POST',
        url: fns(),
        payload: { name: 'm', code: b64('x = 1\n'), secretEnvironmentVariables: { TOKEN: MASK } },
      });
      const error = errorOf(res, 400, 'VALIDATION_ERROR', 'secretEnvironmentVariables');
      assert.match(error.message, /'TOKEN'/);
    });

    test('a plain name clashing with a stored secret is reported on environmentVariables', async () => {
      const fn = await createFunction({ secretEnvironmentVariables: { TOKEN: 's3cret' } });
      const error = errorOf(
        await patchFunction(fn.id, { environmentVariables: { TOKEN: 'plain' } }),
        400,
        'VALIDATION_ERROR',
        'environmentVariables',
      );
      assert.match(error.message, /'TOKEN'/);
      assert.equal((error.details as { key?: string }).key, 'TOKEN');
      // Moving it from secret to plain in one request is allowed.
      const moved = await patchFunction(fn.id, {
        environmentVariables: { TOKEN: 'plain' },
        secretEnvironmentVariables: { TOKEN: null },
      });
      assert.equal(moved.statusCode, 200, moved.body);
      assert.deepEqual(moved.json().environmentVariables, { TOKEN: 'plain' });
      assert.deepEqual(moved.json().secretEnvironmentVariables, {});
    });

    test('a secret name clashing with a stored plain one is reported on secretEnvironmentVariables', async () => {
      const fn = await createFunction({ environmentVariables: { MODE: 'dev' } });
      const error = errorOf(
        await patchFunction(fn.id, { secretEnvironmentVariables: { MODE: 'x' } }),
        400,
        'VALIDATION_ERROR',
        'secretEnvironmentVariables',
      );
      assert.match(error.message, /'MODE'/);
    });

    test('names found on every object (constructor, toString) are not clashes', async () => {
      const fn = await createFunction({
        environmentVariables: { A: '1' },
        secretEnvironmentVariables: { constructor: 'x', toString: 'y' },
      });
      assert.deepEqual(Object.keys(fn.secretEnvironmentVariables as object).sort(), [
        'constructor',
        'toString',
      ]);
      const res = await patchFunction(fn.id, { secretEnvironmentVariables: { hasOwnProperty: MASK } });
      errorOf(res, 400, 'VALIDATION_ERROR', 'secretEnvironmentVariables');
    });

    test('a name in both maps of one request names both fields', async () => {
      const payload = { environmentVariables: { BOTH: 'a' }, secretEnvironmentVariables: { BOTH: 'b' } };
      const onCreate = errorOf(
        await p.app.inject({
          method: 'POST',
          url: fns(),
          payload: { name: 'both', code: b64('x = 1\n'), ...payload },
        }),
        400,
        'VALIDATION_ERROR',
        'environmentVariables',
      );
      assert.match(onCreate.message, /environmentVariables/);
      assert.match(onCreate.message, /secretEnvironmentVariables/);
      const fn = await createFunction();
      const onPatch = errorOf(
        await patchFunction(fn.id, payload),
        400,
        'VALIDATION_ERROR',
        'environmentVariables',
      );
      assert.equal(onPatch.message, onCreate.message);
    });
  });

  describe('patches that change nothing', () => {
    test('{} and an echo of the current values leave lastModified alone', async () => {
      const fn = await createFunction({
        environmentVariables: { A: '1', B: '2' },
        secretEnvironmentVariables: { S: 'secret' },
        httpMethods: ['GET', 'POST'],
      });
      p.clock.advance(60_000);
      const empty = await patchFunction(fn.id, {});
      assert.equal(empty.statusCode, 200, empty.body);
      assert.equal(empty.json().lastModified, fn.lastModified);

      const echo = await patchFunction(fn.id, {
        name: fn.name,
        description: fn.description,
        runtime: fn.runtime,
        memory: fn.memory,
        timeout: fn.timeout,
        httpMethods: ['get', 'POST'],
        environmentVariables: { B: '2', A: '1' },
        secretEnvironmentVariables: { S: MASK },
        code: fn.code,
        status: fn.status,
        authType: fn.authType,
        minWarm: fn.minWarm,
        maxInstances: fn.maxInstances,
      });
      assert.equal(echo.statusCode, 200, echo.body);
      assert.equal(echo.json().lastModified, fn.lastModified);
      assert.equal(echo.json().code, fn.code);

      // The same secret value sent again is no change either.
      const sameSecret = await patchFunction(fn.id, { secretEnvironmentVariables: { S: 'secret' } });
      assert.equal(sameSecret.json().lastModified, fn.lastModified);
    });

    test('a real change still bumps it', async () => {
      const fn = await createFunction();
      for (const payload of [
        { memory: 512 },
        { code: b64('x = 2\n') },
        { secretEnvironmentVariables: { NEW_ONE: 'v' } },
        { httpMethods: ['POST'] },
      ]) {
        const before = (await p.app.inject({ method: 'GET', url: `${fns()}/${fn.id}` })).json().lastModified;
        p.clock.advance(60_000);
        const res = await patchFunction(fn.id, payload);
        assert.equal(res.statusCode, 200, res.body);
        assert.notEqual(res.json().lastModified, before, JSON.stringify(payload));
        assert.equal(res.json().lastModified, p.clock.now.toISOString());
      }
    });

    test('an invalid field is refused even when the rest changes nothing', async () => {
      const fn = await createFunction();
      errorOf(await patchFunction(fn.id, { httpMethods: ['NOPE'] }), 400, 'VALIDATION_ERROR', 'httpMethods');
    });

    test('a workspace has no lastModified; an empty patch returns it unchanged', async () => {
      const url = `/api/workspaces/${ws}`;
      const before = (await p.app.inject({ method: 'GET', url })).json();
      const res = await p.app.inject({ method: 'PATCH', url, payload: {} });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), before);
    });
  });

  describe('scaffold image_ref', () => {
    const scaffold = (image_ref: string) =>
      p.app.inject({ method: 'POST', url: '/api/v1/scaffold', payload: { image_ref } });
    const digest = 'a'.repeat(64);

    test('every reference the seed and our builds produce is accepted', async () => {
      for (const ref of [
        `local/ws-default/app:${digest.slice(0, 12)}@sha256:${digest}`,
        `local/ws-AbC123_x/hello-world@sha256:${digest}`,
        'registry.example.com/ns/app:1.0',
        '217350599014.dkr.ecr.ap-northeast-2.amazonaws.com/blue-final-faas-app:sha256',
        'localhost:5000/team/app',
        `ghcr.io/org/app:v1@sha256:${digest}`,
        'hello',
      ]) {
        const res = await scaffold(ref);
        assert.equal(res.statusCode, 200, `${ref}: ${res.body}`);
        assert.ok((res.json().yaml_content as string).includes(`image: ${ref}`), ref);
      }
    });

    test('newlines, emoji, spaces, capitals and broken digests are refused', async () => {
      for (const ref of [
        'a\nb: c',
        'app:😀',
        'registry.example.com/my app:1',
        'Registry.example.com/Team/App:1',
        'app:',
        'app@sha256:abc',
        '/app',
        `app:${'t'.repeat(129)}`,
      ]) {
        const error = errorOf(await scaffold(ref), 400, 'VALIDATION_ERROR', 'image_ref');
        assert.match(error.message, /image reference/, JSON.stringify(ref));
      }
    });
  });
});
