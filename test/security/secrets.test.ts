// Secret environment variables: write-only in the API (masked in every answer, including every GET
// route of the table), sealed at rest (the SQLite file never holds the plaintext), kept out of
// execution logs and process logs, and still what the function reads from os.environ.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { MASK, SecretBox, secretContext } from '../../src/auth/secrets.js';
import { EunhaError } from '../../src/core/errors.js';
import { b64, startLoggedPlatform } from '../helpers/platform.js';
import { ADMIN_KEY, SECRET, SECRET_HANDLER, bearer, fillPath, startWorld, type World } from './world.js';
import { multipart } from '../build/harness.js';

/** Every byte of the data directory's database files (main file and WAL). */
function dbBytes(dataDir: string): Buffer {
  return Buffer.concat(
    readdirSync(dataDir)
      .filter((f) => f.startsWith('eunha.db'))
      .map((f) => readFileSync(join(dataDir, f))),
  );
}

describe('secret environment variables', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(async () => w?.close());

  const api = (opts: InjectOptions) => w.p.app.inject({ ...opts, headers: { ...w.admin, ...opts.headers } });

  test('the function reads the secret at run time', { timeout: 60_000 }, async () => {
    const res = await w.p.app.inject({ method: 'GET', url: `/fn/${w.a.fn}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, SECRET);
  });

  test('every answer masks it: the function, its deployments, and every GET route of the table', async () => {
    const fn = (await api({ method: 'GET', url: `/api/workspaces/${w.a.ws}/functions/${w.a.fn}` })).json();
    assert.deepEqual(fn.secretEnvironmentVariables, { API_TOKEN: MASK });
    assert.deepEqual(fn.environmentVariables, {});
    const deployments = (
      await api({ method: 'GET', url: `/api/workspaces/${w.a.ws}/functions/${w.a.fn}/deployments` })
    ).json();
    assert.deepEqual(deployments[0].config.secretEnvironmentVariables, { API_TOKEN: MASK });
    // Invoke and wait for the logs, so the log routes have something to show.
    await w.p.app.inject({ method: 'GET', url: `/fn/${w.a.fn}` });
    await w.p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${w.a.ws}/functions/${w.a.fn}/invoke`,
      headers: w.admin,
      payload: { echo: SECRET },
    });
    await w.p.writer.flush();
    let seen = 0;
    for (const r of w.p.app.routeTable.filter(
      (x) => x.method === 'GET' && x.policy.access !== 'function-url',
    )) {
      const res = await api({ method: 'GET', url: fillPath(r.url, w.a) });
      seen++;
      assert.ok(!res.body.includes(SECRET), `${r.url} shows the secret`);
    }
    assert.ok(seen >= 15);
  });

  test('execution logs mask it in printed lines and bodies; the /invoke answer too', async () => {
    const invoked = await api({
      method: 'POST',
      url: `/api/workspaces/${w.a.ws}/functions/${w.a.fn}/invoke`,
      payload: { echo: SECRET, [SECRET]: 1 },
    });
    assert.equal(invoked.statusCode, 200, invoked.body);
    assert.ok(!invoked.body.includes(SECRET), invoked.body);
    const log = invoked.json();
    assert.deepEqual(log.logs, [`token is ${MASK}`]);
    assert.equal(log.responseBody, MASK);
    assert.deepEqual(log.requestBody, { echo: MASK, [MASK]: 1 });
    await w.p.writer.flush();
    const logs = await api({ method: 'GET', url: `/api/workspaces/${w.a.ws}/functions/${w.a.fn}/logs` });
    assert.ok(logs.json().total >= 1);
    assert.ok(!logs.body.includes(SECRET));
    const loki = await api({ method: 'GET', url: `/api/functions/${w.a.fn}/loki-logs` });
    assert.ok(loki.body.includes(`token is ${MASK}`), loki.body);
    assert.ok(!loki.body.includes(SECRET));
  });

  test('the database file never holds the plaintext', async () => {
    await w.p.writer.flush();
    const bytes = dbBytes(w.p.dataDir);
    assert.ok(bytes.length > 0);
    assert.ok(bytes.includes(Buffer.from(w.a.fn)), 'the check reads the right file');
    assert.ok(!bytes.includes(Buffer.from(SECRET)), 'plaintext secret in the SQLite file');
    assert.ok(!bytes.includes(Buffer.from(w.a.key)), 'plaintext API key in the SQLite file');
    assert.ok(!bytes.includes(Buffer.from(ADMIN_KEY)));
  });

  test(
    'PATCH: a value replaces, null removes, the mask keeps; the next deployment sees the change',
    { timeout: 60_000 },
    async () => {
      const url = `/api/workspaces/${w.b.ws}/functions/${w.b.fn}`;
      let res = await api({
        method: 'PATCH',
        url,
        payload: { secretEnvironmentVariables: { API_TOKEN: MASK, OTHER: 'x-other-secret' } },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().secretEnvironmentVariables, { API_TOKEN: MASK, OTHER: MASK });
      await api({ method: 'POST', url: `${url}/deployments` });
      assert.equal(
        (await w.p.app.inject({ method: 'GET', url: `/fn/${w.b.fn}` })).body,
        SECRET,
        'the mask kept the value',
      );
      res = await api({
        method: 'PATCH',
        url,
        payload: { secretEnvironmentVariables: { API_TOKEN: 'rotated-value-123', OTHER: null } },
      });
      assert.deepEqual(res.json().secretEnvironmentVariables, { API_TOKEN: MASK });
      assert.equal(
        (await w.p.app.inject({ method: 'GET', url: `/fn/${w.b.fn}` })).body,
        SECRET,
        'the old version runs until deployed',
      );
      await api({ method: 'POST', url: `${url}/deployments` });
      assert.equal((await w.p.app.inject({ method: 'GET', url: `/fn/${w.b.fn}` })).body, 'rotated-value-123');
      const clash = await api({
        method: 'PATCH',
        url,
        payload: { environmentVariables: { API_TOKEN: 'plain' } },
      });
      assert.equal(clash.statusCode, 400);
      assert.equal(clash.json().error.details.field, 'environmentVariables');
      const badName = await api({
        method: 'PATCH',
        url,
        payload: { secretEnvironmentVariables: { '1BAD': 'x' } },
      });
      assert.equal(badName.statusCode, 400);
    },
  );
});

describe('SecretBox', () => {
  const box = new SecretBox(Buffer.alloc(32, 7));
  const ctx = secretContext('ws-a', 'fn-a', 'TOKEN');

  test('round-trips, with a fresh nonce every time', () => {
    const a = box.seal('value', ctx);
    const b = box.seal('value', ctx);
    assert.notEqual(a, b);
    assert.equal(box.open(a, ctx), 'value');
    assert.equal(box.open(box.seal('', ctx), ctx), '');
    assert.ok(!a.includes('value'));
  });

  test('refuses a tampered value, another context, and another key', () => {
    const sealed = box.seal('value', ctx);
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    const tampered = [...parts.slice(0, 3), ct.toString('base64url'), parts[4]].join('.');
    const isInternal = (e: unknown) => e instanceof EunhaError && e.code === 'INTERNAL_ERROR';
    assert.throws(() => box.open(tampered, ctx), isInternal);
    assert.throws(() => box.open(sealed, secretContext('ws-a', 'fn-b', 'TOKEN')), isInternal);
    assert.throws(() => new SecretBox(Buffer.alloc(32, 8)).open(sealed, ctx), /sealed with key/);
    assert.throws(() => box.open('garbage', ctx), isInternal);
  });
});

describe('process logs', () => {
  test('never contain a secret value or a key, even at trace level', { timeout: 150_000 }, async () => {
    const env = { EUNHA_WARM_POOL_SIZE: '1', EUNHA_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'trace' };
    const { p, logged, cleanup } = await startLoggedPlatform(env, 'trace');
    try {
      const admin = bearer(ADMIN_KEY);
      const ws = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', headers: admin, payload: { name: 'l' } })
      ).json().id;
      const key = (
        await p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/keys`, headers: admin })
      ).json().key as string;
      const fn = (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          headers: bearer(key),
          payload: {
            name: 's',
            code: b64(SECRET_HANDLER),
            secretEnvironmentVariables: { API_TOKEN: SECRET },
          },
        })
      ).json().id;
      assert.equal(
        (
          await p.app.inject({
            method: 'POST',
            url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
            headers: bearer(key),
          })
        ).statusCode,
        201,
      );
      assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn}` })).body, SECRET);
      // Module code that fails on the secret's value: built without it (a build has no environment),
      // it fails when the deploy loads it with it. The deploy's answer and the server's log of that
      // 500 quoted the secret, in the message, the traceback and the printed lines.
      const quoting = `import os
token = os.environ.get("API_TOKEN")
if token:
    print("loaded with", token)
    raise RuntimeError("refusing token " + token)
${SECRET_HANDLER}`;
      const form = multipart(
        { registry_url: 'local', workspace_id: ws },
        { filename: 'app.py', data: quoting },
      );
      let task = (
        await p.app.inject({
          method: 'POST',
          url: '/api/v1/build-and-push',
          headers: { ...bearer(key), ...form.headers },
          payload: form.payload,
        })
      ).json();
      for (const deadline = Date.now() + 60_000; task.status !== 'completed' && Date.now() < deadline;) {
        assert.notEqual(task.status, 'failed', JSON.stringify(task));
        await new Promise((r) => setTimeout(r, 50));
        task = (
          await p.app.inject({ method: 'GET', url: `/api/v1/tasks/${task.task_id}`, headers: bearer(key) })
        ).json();
      }
      const failed = await p.app.inject({
        method: 'POST',
        url: '/api/v1/deploy',
        headers: bearer(key),
        payload: { namespace: 'default', image_ref: task.result.image_url, function_id: fn },
      });
      assert.equal(failed.json().error.code, 'VALIDATION_ERROR', failed.body);
      assert.equal(failed.json().error.details.reason, 'load_error', failed.body);
      assert.ok(!failed.body.includes(SECRET), failed.body);
      assert.ok(failed.body.includes(`refusing token ${MASK}`), failed.body);
      // Refused requests that carry the secret or a key.
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        headers: bearer(key),
        payload: { name: '', code: '!', secretEnvironmentVariables: { API_TOKEN: SECRET } },
      });
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}`, headers: bearer(`${key}x`) });
      // Credentials in the query string: refused, and masked in the access log.
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}?api_key=${key}&limit=5` });
      await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}?access_token=${ADMIN_KEY}` });
      await p.app.inject({ method: 'GET', url: `/api/workspaces?q=x&k=${key}` });
      // A percent-encoded name is read as meant; a name that only contains a word is left alone.
      await p.app.inject({
        method: 'GET',
        url: `/api/workspaces?tok%65n=${encodeURIComponent(SECRET)}&design=kept`,
      });
      await p.app.inject({
        method: 'GET',
        url: `/api/workspaces/${ws}`,
        headers: { authorization: `Basic ${SECRET}` },
      });
      await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn}/invoke`,
        headers: bearer(key),
        payload: { s: SECRET },
      });
      await p.writer.flush();
    } finally {
      await cleanup();
    }
    const text = logged();
    assert.ok(text.split('\n').length > 10, 'the logger was used');
    assert.ok(!text.includes(SECRET), 'a secret value reached the process log');
    assert.ok(!text.includes(ADMIN_KEY), 'the admin key reached the process log');
    assert.ok(!/eunha_[A-Za-z0-9_-]{20,}/.test(text), 'an API key reached the process log');
    assert.match(text, /"url":"\/api\/workspaces\/[^"?]+\?api_key=\[redacted\]&limit=5"/);
    assert.match(text, /"url":"\/api\/workspaces\?tok%65n=\[redacted\]&design=kept"/);
  });
});
