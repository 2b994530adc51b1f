// `eunha deploy` against a real server process when the deployment does not happen: what the
// command created or changed is undone (a review found a new function left behind, or an existing
// one holding code and settings no version ran), and files past a cap are refused with a message
// that says what fits (a pipe used to be read whole; a file past the body cap got a bare 413).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient, ApiError } from '../../src/cli/client.js';
import { restoreOf, undoDeploy } from '../../src/cli/deploy-undo.js';
import { runCli } from '../helpers/eunha-cli.js';
import { SHARED_CACHE_DIR } from '../helpers/platform.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ADMIN_KEY = 'cli-deploy-test-admin-key-0123456789';

describe('eunha deploy when it does not deploy', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'eunha-cli-deploy-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const eunha = (args: string[]) => runCli(args, { EUNHA_URL: server.url, EUNHA_API_KEY: ADMIN_KEY });
  const api = async (path: string): Promise<unknown> =>
    (await fetch(server.url + path, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();

  before(async () => {
    server = await startServer({
      EUNHA_DATA_DIR: join(dir, 'data'),
      EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
      EUNHA_WARM_POOL_SIZE: '1',
      EUNHA_ADMIN_KEY: ADMIN_KEY,
    });
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  const good = file(
    'good.py',
    `from spin_sdk import http
from spin_sdk.http import Request, Response
import os

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {"content-type": "text/plain"}, ("v1 " + os.environ.get("S", "")).encode())
`,
  );
  const broken = file('broken.py', 'def broken(:\n  pass\n');

  test(
    'a refused deploy deletes the function it created, and gives one it updated back its code and settings',
    { timeout: 90_000 },
    async () => {
      const ws = (await eunha(['workspaces', 'create', 'undo'])).out.trim();

      const fresh = await eunha(['deploy', broken, '-w', ws]);
      assert.equal(fresh.code, 1, fresh.err);
      // The error first, as before; then what was undone.
      assert.match(fresh.err, /^eunha: VALIDATION_ERROR \(400\): /);
      assert.match(fresh.err, /SyntaxError/);
      assert.match(
        fresh.err,
        /\neunha: deleted broken \(fn-[a-z0-9]{8}\), which this command had created\n$/,
      );
      assert.deepEqual(await api(`/api/workspaces/${ws}/functions`), [], 'no function left behind');

      const first = await eunha([
        'deploy',
        good,
        '-w',
        ws,
        '--name',
        'app',
        '--env',
        'A=1',
        '--secret',
        'S=one',
        '--secret',
        'KEEP=k',
        '--memory',
        '256',
        '--outbound',
        'https://api.example.com',
      ]);
      assert.equal(first.code, 0, first.err);
      const [, id, url] = /\((fn-[a-z0-9]{8})\), deployed v1 \S+ → (\S+)/.exec(first.out)!;
      const settings = (fn: Record<string, unknown>) => ({
        code: fn.code,
        memory: fn.memory,
        timeout: fn.timeout,
        environmentVariables: fn.environmentVariables,
        secretEnvironmentVariables: fn.secretEnvironmentVariables,
        allowedOutboundHosts: fn.allowedOutboundHosts,
      });
      const path = `/api/workspaces/${ws}/functions/${id}`;
      const before = settings((await api(path)) as Record<string, unknown>);

      const refused = await eunha([
        'deploy',
        broken,
        '-w',
        ws,
        '--name',
        'app',
        '--env',
        'B=2',
        '--secret',
        'S=two',
        '--secret',
        'NEW=x',
        '--memory',
        '512',
        '--timeout',
        '9',
        '--outbound',
        'none',
      ]);
      assert.equal(refused.code, 1, refused.err);
      assert.match(refused.err, /^eunha: VALIDATION_ERROR \(400\): /);
      assert.match(
        refused.err,
        new RegExp(`\\neunha: put back the code and settings of app \\(${id}\\) as they were before\\n`),
      );
      // S's earlier value is masked in every answer: it cannot be put back, and that is said.
      assert.match(refused.err, new RegExp(`\\neunha: secret S of app \\(${id}\\) not restored: .*\\n$`));
      // NEW was added by the refused deploy: removed again. KEEP was never touched.
      assert.deepEqual(settings((await api(path)) as Record<string, unknown>), before);
      assert.equal(await (await fetch(url!)).text(), 'v1 one', 'the version that ran before runs on');
      assert.equal(((await api(`${path}/deployments`)) as unknown[]).length, 1);
    },
  );

  test('an undo never overwrites or deletes what someone else changed meanwhile (If-Match)', async () => {
    const ws = (await eunha(['workspaces', 'create', 'tags'])).out.trim();
    const client = new ApiClient(server.url, ADMIN_KEY);
    const fns = `/api/workspaces/${ws}/functions`;
    const refusal = () =>
      new ApiError(400, 'VALIDATION_ERROR', 'the code does not load', undefined, undefined, {});
    const someoneElse = (id: string, payload: object) =>
      fetch(`${server.url}${fns}/${id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });

    // What `deploy` did: created a function, or updated one; its tag is the command's answer.
    const made = await client.tagged<{ id: string; name: string }>('POST', fns, {
      name: 'made',
      code: Buffer.from(readFileSync(good)).toString('base64'),
    });
    assert.equal((await someoneElse(made.body.id, { timeout: 7 })).status, 200);
    const created = refusal();
    await undoDeploy(client, { kind: 'delete', ws, id: made.body.id, name: 'made' }, created, made.etag);
    assert.deepEqual(created.notes, [
      `made (${made.body.id}) was changed by someone else meanwhile, so it was left as they made it`,
    ]);
    assert.equal(((await api(`${fns}/${made.body.id}`)) as { timeout: number }).timeout, 7, 'not deleted');

    const updated = await client.tagged<{ id: string }>('PATCH', `${fns}/${made.body.id}`, { memory: 512 });
    assert.equal((await someoneElse(made.body.id, { environmentVariables: { THEIRS: '1' } })).status, 200);
    const refused = refusal();
    const undo = restoreOf(ws, { id: made.body.id, name: 'made', memory: 128 }, { code: '', memory: 512 });
    await undoDeploy(client, undo, refused, updated.etag);
    assert.match(refused.notes[0]!, /changed by someone else meanwhile, so it was left as they made it$/);
    const now = (await api(`${fns}/${made.body.id}`)) as { memory: number; environmentVariables: object };
    assert.deepEqual([now.memory, now.environmentVariables], [512, { THEIRS: '1' }]);

    // The deploy itself refused (412): nothing was deployed, nothing is undone, and it says why.
    const stale = new ApiError(412, 'PRECONDITION_FAILED', 'changed', undefined, undefined, {});
    await undoDeploy(client, { kind: 'delete', ws, id: made.body.id, name: 'made' }, stale, made.etag);
    assert.match(
      stale.notes[0]!,
      /changed by someone else after this command had created it, so nothing was deployed/,
    );
    assert.equal(((await api(`${fns}/${made.body.id}/deployments`)) as unknown[]).length, 0);
  });

  test(
    'a pipe is read only up to the 64 MiB cap, and a file past the body cap is told what fits',
    { timeout: 60_000 },
    async () => {
      const ws = (await eunha(['workspaces', 'create', 'caps'])).out.trim();
      // A pipe's size is 0 to stat(): it used to be read whole and sent.
      const fifo = join(dir, 'pipe.py');
      execFileSync('mkfifo', [fifo]);
      const writer = spawn('sh', ['-c', `head -c 70000000 /dev/zero > '${fifo}'`], { stdio: 'ignore' });
      try {
        const piped = await eunha(['deploy', fifo, '-w', ws]);
        assert.equal(piped.code, 2, piped.err);
        assert.match(piped.err, /pipe\.py is larger than 64 MiB/);
      } finally {
        writer.kill();
      }

      // 4.8 MB of code is 6.4 MB as base64 in JSON: past the default 6 MiB body cap.
      const big = file('big.py', `x = 1\n${'#'.repeat(5_000_000)}\n`);
      const tooBig = await eunha(['deploy', big, '-w', ws]);
      assert.equal(tooBig.code, 1, tooBig.err);
      assert.equal(
        tooBig.err,
        'eunha: PAYLOAD_TOO_LARGE (413): request body is larger than the configured limit (at most 6291456 bytes); ' +
          'deploy sends the file base64-encoded in JSON, 4/3 of its 5000007 bytes (4.8 MiB), so about 4.5 MiB of code fit\n',
      );
      assert.deepEqual(await api(`/api/workspaces/${ws}/functions`), []);
    },
  );
});
