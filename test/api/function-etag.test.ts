// Entity tags of functions: the ETag every answer about one function carries, and If-Match on the
// writes that change it (PATCH, DELETE, the one-call deploy), so that a client changes a function
// only as it last saw it. Through app.inject(), with the real store and runtime.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { b64, SAMPLE_HANDLER, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('function entity tags and If-Match', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' });
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'tags' } })).json()
      .id;
  });
  after(async () => p.cleanup());

  const url = (fn: string) => `/api/workspaces/${ws}/functions/${fn}`;
  const create = async () => {
    const res = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name: 'tagged', code: b64(SAMPLE_HANDLER), environmentVariables: { A: '1' } },
    });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, etag: res.headers.etag as string };
  };
  const get = (fn: string) => p.app.inject({ method: 'GET', url: url(fn) });
  const patch = (fn: string, payload: object, ifMatch?: string) =>
    p.app.inject({ method: 'PATCH', url: url(fn), payload, headers: ifMatch ? { 'if-match': ifMatch } : {} });

  test('create, get and update answer the same tag for the same function, a new one for each change', async () => {
    const fn = await create();
    assert.match(fn.etag, /^"[\w-]{22}"$/);
    const got = await get(fn.id);
    assert.equal(got.headers.etag, fn.etag);
    assert.equal(got.json().etag, undefined, 'the tag is a header, not a field');
    // Calls move the counters in the body, not the tag.
    const same = await patch(fn.id, { environmentVariables: { A: '1' } });
    assert.equal(same.headers.etag, fn.etag, 'a PATCH that changes nothing keeps the tag');
    const changed = await patch(fn.id, { environmentVariables: { A: '2' } });
    assert.notEqual(changed.headers.etag, fn.etag);
    assert.equal((await get(fn.id)).headers.etag, changed.headers.etag);
    // A deploy records when and where, and changes no code or setting: the same tag. Two
    // `eunha deploy`s of one file at once refused each other when it moved.
    const d = await p.app.inject({ method: 'POST', url: `${url(fn.id)}/deployments` });
    assert.equal(d.statusCode, 201, d.body);
    const deployed = await get(fn.id);
    assert.notEqual(deployed.json().lastDeployed, null);
    assert.equal(deployed.headers.etag, changed.headers.etag);
    // The status is a setting: disabling moves it.
    const disabled = await patch(fn.id, { status: 'disabled' });
    assert.notEqual(disabled.headers.etag, changed.headers.etag);
  });

  test('a PATCH with a stale If-Match is 412 and changes nothing; the current tag, a list naming it or * go through', async () => {
    const fn = await create();
    const first = await patch(fn.id, { environmentVariables: { A: 'mine' } }, fn.etag);
    assert.equal(first.statusCode, 200, first.body);
    // The second tab still holds the tag it read before the first tab's edit.
    const stale = await patch(
      fn.id,
      { environmentVariables: { A: 'theirs' }, code: b64('x = 1\n') },
      fn.etag,
    );
    assert.equal(stale.statusCode, 412, stale.body);
    const err = stale.json().error;
    assert.equal(err.code, 'PRECONDITION_FAILED');
    assert.equal(err.details.etag, first.headers.etag);
    const now = (await get(fn.id)).json();
    assert.deepEqual(now.environmentVariables, { A: 'mine' });
    assert.equal(Buffer.from(now.code, 'base64').toString(), SAMPLE_HANDLER, 'the code was not replaced');
    const listed = await patch(fn.id, { timeout: 5 }, `"nope", ${first.headers.etag as string}`);
    assert.equal(listed.statusCode, 200, listed.body);
    assert.equal((await patch(fn.id, { timeout: 6 }, '*')).statusCode, 200);
    // A weak tag never matches a strong comparison (RFC 9110 §13.1.1).
    const weak = await patch(fn.id, { timeout: 7 }, `W/${(await get(fn.id)).headers.etag as string}`);
    assert.equal(weak.statusCode, 412);
  });

  test('a DELETE with a stale If-Match is 412 and the function stays; with the current tag it goes', async () => {
    const fn = await create();
    const edited = await patch(fn.id, { timeout: 9 });
    const stale = await p.app.inject({ method: 'DELETE', url: url(fn.id), headers: { 'if-match': fn.etag } });
    assert.equal(stale.statusCode, 412, stale.body);
    assert.equal((await get(fn.id)).statusCode, 200);
    const gone = await p.app.inject({
      method: 'DELETE',
      url: url(fn.id),
      headers: { 'if-match': edited.headers.etag as string },
    });
    assert.equal(gone.statusCode, 204, gone.body);
    assert.equal((await get(fn.id)).statusCode, 404);
  });

  test('a deploy with If-Match builds only the code that tag names: a function edited since is refused with 412', async () => {
    const fn = await create();
    // Someone else saves code that does not even load, after this client read the function.
    const theirs = await patch(fn.id, { code: b64('import nothing_by_this_name\n') });
    assert.equal(theirs.statusCode, 200, theirs.body);
    const deploy = (ifMatch: string) =>
      p.app.inject({ method: 'POST', url: `${url(fn.id)}/deployments`, headers: { 'if-match': ifMatch } });
    const refused = await deploy(fn.etag);
    assert.equal(refused.statusCode, 412, refused.body);
    assert.equal(refused.json().error.details.etag, theirs.headers.etag);
    const versions = await p.app.inject({ method: 'GET', url: `${url(fn.id)}/deployments` });
    assert.deepEqual(versions.json(), [], 'nothing was built or deployed');
    const back = await patch(fn.id, { code: b64(SAMPLE_HANDLER) }, theirs.headers.etag as string);
    const ok = await deploy(back.headers.etag as string);
    assert.equal(ok.statusCode, 201, ok.body);
  });

  test('If-Match is documented on the writes, and 412 in the error catalogue', async () => {
    const spec = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const path = spec.paths['/api/workspaces/{workspace_id}/functions/{function_id}'];
    for (const op of [path.patch, path.delete]) {
      assert.ok(
        op.parameters.some((x: { in: string; name: string }) => x.in === 'header' && x.name === 'if-match'),
      );
      assert.ok(op.responses['412']);
    }
    assert.ok(path.get.responses['200'].headers.ETag);
    const deploy = spec.paths['/api/workspaces/{workspace_id}/functions/{function_id}/deployments'].post;
    assert.ok(deploy.responses['412']);
  });
});
