// Builds checked by the real sandbox: the Runtime's check() loads the code in Pyodide (syntax,
// imports, IncomingHandler), so a failing import is caught at build time and the task's error is
// the guest's own traceback.

import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KeyValuePort } from '../../src/core/kv.js';
import { Runtime } from '../../src/runtime/index.js';
import { SAMPLE_HANDLER } from '../helpers/platform.js';
import { multipart, startBuildHarness, waitForTask, type BuildHarness } from './harness.js';
import { makeZip } from './zip-fixtures.js';

/** check() never touches key-value data; anything else would be a bug worth failing on. */
const noKv: KeyValuePort = {
  get: async () => assert.fail('kv used during a check'),
  set: async () => assert.fail('kv used during a check'),
  delete: async () => assert.fail('kv used during a check'),
  exists: async () => assert.fail('kv used during a check'),
  keys: async () => assert.fail('kv used during a check'),
};

describe('builds checked in the sandbox', () => {
  let rt: Runtime;
  let h: BuildHarness;
  before(async () => {
    // The runtime suites' snapshot cache: made once per machine, reused here.
    rt = new Runtime({ kv: noKv, cacheDir: join(tmpdir(), 'eunha-runtime-test-cache'), poolSize: 1 });
    await rt.start();
    h = await startBuildHarness(rt);
  });
  after(async () => {
    await h.close();
    await rt.close();
  });

  const build = async (filename: string, data: Uint8Array | string) => {
    const body = multipart({}, { filename, data });
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/build', ...body });
    assert.equal(res.statusCode, 202);
    return waitForTask(h.app, res.json().task_id, 60_000);
  };

  test('the README sample builds', async () => {
    const done = await build('hello.py', SAMPLE_HANDLER);
    assert.equal(done.status, 'completed', done.error ?? '');
  });

  test('a zip whose app imports its own package builds', async () => {
    const zip = await makeZip([
      { name: 'app.py', data: `from helpers.greet import GREETING\n${SAMPLE_HANDLER}` },
      { name: 'helpers/__init__.py', data: '' },
      { name: 'helpers/greet.py', data: 'GREETING = "hi"\n' },
    ]);
    const done = await build('pkg.zip', zip);
    assert.equal(done.status, 'completed', done.error ?? '');
  });

  test('a syntax error, a missing module and a missing handler fail with the guest traceback', async () => {
    const syntax = await build('s.py', 'def broken(:\n    pass\n');
    assert.equal(syntax.status, 'failed');
    assert.match(syntax.error!, /app\.py", line 1[\s\S]*SyntaxError/);

    const missing = await build('m.py', `import not_installed_anywhere\n${SAMPLE_HANDLER}`);
    assert.equal(missing.status, 'failed');
    assert.match(missing.error!, /ModuleNotFoundError: No module named 'not_installed_anywhere'/);

    const noHandler = await build('n.py', 'x = 1\n');
    assert.equal(noHandler.status, 'failed');
    assert.match(noHandler.error!, /IncomingHandler/);
  });

  test('module code that opens the key-value store is told why a build task cannot, and what can', async () => {
    const kv = await build(
      'kv.py',
      `from spin_sdk import key_value\nkey_value.open_default().get("x")\n${SAMPLE_HANDLER}`,
    );
    assert.equal(kv.status, 'failed');
    assert.match(
      kv.error!,
      /not available while a build task checks the code's import: use them inside handle_request/,
    );
  });
});
