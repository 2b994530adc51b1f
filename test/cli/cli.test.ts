// The `eunha` command against a real server process with keys enforced: the whole flow a user
// types (workspace, deploy, redeploy, invoke, logs, deployments, rollback), and what it says when
// the command line, the code, the key or the server is wrong. `logs --follow` across restarts and
// lost connections has its own file (follow.test.ts).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, type CliRun } from '../helpers/eunha-cli.js';
import { SHARED_CACHE_DIR } from '../helpers/platform.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ADMIN_KEY = 'cli-test-admin-key-0123456789abcdef';

describe('the eunha command', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'eunha-cli-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const eunha = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
    runCli(args, { EUNHA_URL: server.url, EUNHA_API_KEY: ADMIN_KEY, ...env });

  const serverEnv = {
    EUNHA_DATA_DIR: join(dir, 'data'),
    EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
    EUNHA_WARM_POOL_SIZE: '1',
    EUNHA_ADMIN_KEY: ADMIN_KEY,
  };
  before(async () => {
    server = await startServer(serverEnv);
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  const handler = (text: string): string => `from spin_sdk import http
from spin_sdk.http import Request, Response
import os

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("saw", request.method, request.uri)
        return Response(200, {"content-type": "text/plain"}, (${JSON.stringify(text)} + os.environ.get("SUFFIX", "")).encode())
`;

  test(
    "keys: create one for a workspace's team, list it by prefix, revoke it",
    { timeout: 60_000 },
    async () => {
      const ws = (await eunha(['workspaces', 'create', 'keyed'])).out.trim();
      const created = await eunha(['keys', 'create', 'ci', '-w', ws]);
      assert.equal(created.code, 0, created.err);
      const key = created.out.trim();
      assert.match(key, /^eunha_\S+$/, 'the key alone on stdout');
      assert.match(created.err, /shown once/);
      const listed = await eunha(['keys', '-w', ws]);
      const [id, name, prefix] = listed.out.trim().split('\t');
      assert.equal(name, 'ci');
      assert.ok(key.startsWith(prefix!.replace(/…$/, '')), listed.out);
      assert.ok(!listed.out.includes(key), 'the list never shows the key');
      // The new key works for its own workspace, and the list says it was used.
      assert.equal((await eunha(['functions', '-w', ws], { EUNHA_API_KEY: key })).code, 0);
      assert.doesNotMatch((await eunha(['keys', '-w', ws])).out, /never used/);
      const revoked = await eunha(['keys', 'revoke', id!, '-w', ws]);
      assert.equal(revoked.code, 0, revoked.err);
      const refused = await eunha(['functions', '-w', ws], { EUNHA_API_KEY: key });
      assert.equal(refused.code, 1);
      assert.match(refused.err, /UNAUTHORIZED/);
      assert.equal((await eunha(['keys', 'create', '-w', ws])).code, 2, 'a name is needed');
    },
  );

  test(
    "a function's control characters reach the terminal escaped, in its lines, answer and traceback",
    { timeout: 60_000 },
    async () => {
      const ws = (await eunha(['workspaces', 'create', 'escapes'])).out.trim();
      // What a review's function printed in the terminal of whoever read its logs: a window title,
      // a line erased and forged, the clipboard written (OSC 52), a disguised link (OSC 8).
      const app = file(
        'esc.py',
        `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("normal\x1b]0;PWNED\x07\x1b[2K\\r  | forged\x1b]52;c;cm0gLXJmIH4K\x07 \u009b1m")
        if request.body:
            raise ValueError("\x1b[31mred\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07")
        return Response(200, {}, b"body\x1b[2J")
`,
      );
      const deployed = await eunha(['deploy', app, '-w', ws]);
      assert.equal(deployed.code, 0, deployed.err);
      const fnId = /\((fn-[a-z0-9]+)\)/.exec(deployed.out)![1]!;
      assert.equal((await fetch(`${server.url}/fn/${fnId}`)).status, 200);
      const failed = await eunha(['invoke', 'esc', '-w', ws, '--data', '{"n": 1}']);
      assert.equal(failed.code, 3, failed.err);
      const logs = await eunha(['logs', fnId, '-w', ws]);
      assert.equal(logs.code, 0, logs.err);
      for (const [what, text] of [
        ['invoke out', failed.out],
        ['invoke err', failed.err],
        ['logs', logs.out],
      ] as const) {
        assert.doesNotMatch(
          text,
          // eslint-disable-next-line no-control-regex -- finding them is the point
          /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/,
          `${what}: ${JSON.stringify(text)}`,
        );
      }
      for (const text of [failed.out, logs.out]) assert.match(text, /normal\\u001b\]0;PWNED\\u0007/);
      assert.match(failed.out + failed.err, /\\u001b\[31mred/);
      // --json is still JSON, with every character as the function wrote it.
      const json = await eunha(['logs', fnId, '-w', ws, '--json']);
      const lines = (JSON.parse(json.out) as Array<{ logs: string[] }>).flatMap((l) => l.logs);
      assert.ok(
        lines.includes('normal\x1b]0;PWNED\x07\x1b[2K\r  | forged\x1b]52;c;cm0gLXJmIH4K\x07 \u009b1m'),
        json.out,
      );
    },
  );

  test('deploy, redeploy, invoke, logs, deployments and rollback', { timeout: 90_000 }, async () => {
    const created = await eunha(['workspaces', 'create', 'cli']);
    assert.equal(created.code, 0, created.err);
    const ws = created.out.trim();
    assert.match(ws, /^ws-/);
    assert.match((await eunha(['workspaces'])).out, new RegExp(`^${ws}\tcli$`, 'm'));

    const app = file('greet.py', handler('v1'));
    const first = await eunha(['deploy', app, '-w', ws]);
    assert.equal(first.code, 0, first.err);
    const m = /^created greet \((fn-[a-z0-9]+)\), deployed v1 [0-9a-f]{12} → (http\S+)$/m.exec(first.out);
    assert.ok(m, first.out);
    const [, fnId, url] = m;
    assert.equal(await (await fetch(url!)).text(), 'v1');

    // The same name updates the function: new code, an environment variable, a second version.
    const second = await eunha([
      'deploy',
      file('greet.py', handler('v2')),
      '-w',
      ws,
      '--env',
      'SUFFIX=!',
      '--secret',
      'TOKEN=cli-s3cret',
    ]);
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, new RegExp(`^updated greet \\(${fnId}\\), deployed v2 `));
    assert.equal(await (await fetch(url!)).text(), 'v2!');

    const invoked = await eunha(['invoke', 'greet', '-w', ws, '--data', '{"n": 1}']);
    assert.equal(invoked.code, 0, invoked.err);
    assert.match(invoked.out, /200\tsuccess/);
    assert.match(invoked.out, /\| saw /);
    assert.match(invoked.out, /^v2!$/m);

    const logs = await eunha(['logs', fnId!, '-w', ws, '--limit', '5']);
    assert.equal(logs.code, 0, logs.err);
    assert.ok((logs.out.match(/200\tsuccess/g) ?? []).length >= 3, logs.out);
    const recent = await eunha(['logs', fnId!, '-w', ws, '--since', '10m']);
    assert.equal(recent.code, 0, recent.err);
    assert.ok((recent.out.match(/200\tsuccess/g) ?? []).length >= 3, recent.out);
    for (const none of [['--errors'], ['--since', '2999-01-01T00:00:00Z']]) {
      const empty = await eunha(['logs', fnId!, '-w', ws, ...none]);
      assert.equal(empty.code, 0, empty.err);
      assert.equal(empty.out, '', `${none.join(' ')}: every call succeeded, and none is in the future`);
    }
    // What the server would refuse (a 400, exit 1) is found first, as the usage error it is.
    for (const [bad, message] of [
      [['--since', 'yesterday'], /--since takes an age/],
      [['--follow', '--errors'], /--follow sends every new one/],
      [['--since', '999999d'], /--since 999999d reaches back too far \(before the year 1\)/],
      [['--since', '2026-11-28T00:00:00'], /--since 2026-11-28T00:00:00 has no UTC offset/],
    ] as const) {
      const refused = await eunha(['logs', fnId!, '-w', ws, ...bad]);
      assert.equal(refused.code, 2, `${bad.join(' ')}: ${refused.err}`);
      assert.match(refused.err, message);
    }

    const before = await eunha(['deployments', 'greet', '-w', ws]);
    assert.match(before.out, /^v2\t.*\tactive$/m);
    assert.match(before.out, /^v1\t[0-9a-f]{12}\t\S+$/m);
    const back = await eunha(['rollback', 'greet', 'v1', '-w', ws]);
    assert.equal(back.code, 0, back.err);
    assert.match(back.out, /^greet now runs v1 /);
    assert.equal(await (await fetch(url!)).text(), 'v1');
    assert.match((await eunha(['deployments', 'greet', '-w', ws])).out, /^v1\t.*\tactive$/m);

    // Options a command does not take, and a URL whose query would take every path elsewhere.
    const stray = await eunha(['functions', '-w', ws, '--delete', 'greet']);
    assert.equal(stray.code, 2, stray.err);
    assert.match(stray.err, /^eunha: functions does not take --delete\n/);
    const strays = await eunha(['invoke', 'greet', '-w', ws, '--follow', '--since', '5x', '--memory', '7']);
    assert.equal(strays.code, 2, strays.err);
    assert.match(strays.err, /^eunha: invoke does not take --follow, --since, --memory\n/);
    const queried = await eunha(['storage', '-w', ws], { EUNHA_URL: `${server.url}?x=1` });
    assert.equal(queried.code, 2, queried.err);
    assert.equal(queried.out, '', 'not NaN MiB of NaN MiB');
    assert.match(queried.err, /^eunha: EUNHA_URL must be the server's address without a query or fragment/);

    const stored = await eunha(['storage', '-w', ws]);
    assert.match(
      stored.out.trim(),
      /^\d+\.\d MiB of 1024\.0 MiB, 5 of 20000 files; besides, \d+\.\d MiB of logs and 0\.0 MiB of key-value data$/,
      'code, two artifacts',
    );
    const active = await eunha(['deployments', 'greet', '--delete', 'v1', '-w', ws]);
    assert.equal(active.code, 1);
    assert.match(active.err, /CONFLICT.*v1 is the active version/);
    const deleted = await eunha(['deployments', 'greet', '-w', ws, '--delete', '2']);
    assert.equal(deleted.code, 0, deleted.err);
    assert.equal(deleted.out.trim(), 'deleted v2 of greet');
    assert.doesNotMatch((await eunha(['deployments', 'greet', '-w', ws])).out, /^v2/m);
    assert.match(
      (await eunha(['storage', '-w', ws])).out.trim(),
      /, 3 of 20000 files; besides/,
      "v2's artifact went",
    );

    const json = await eunha(['--json', 'functions', '-w', ws]);
    assert.ok(!json.out.includes('cli-s3cret'), 'a secret is never shown');
    const list = JSON.parse(json.out) as { id: string; name: string; secretEnvironmentVariables: unknown }[];
    assert.deepEqual(list[0]!.secretEnvironmentVariables, { TOKEN: '********' });
    assert.deepEqual(
      list.map((f) => [f.id, f.name]),
      [[fnId, 'greet']],
    );
  });

  test(
    "deploy --outbound sets the hosts a function may call; a bad one is the server's 400",
    { timeout: 60_000 },
    async () => {
      const ws = (await eunha(['workspaces', 'create', 'outbound'])).out.trim();
      const app = file('caller.py', handler('c'));
      const hosts = async (): Promise<string[]> => {
        const list = (await (
          await fetch(`${server.url}/api/workspaces/${ws}/functions`, {
            headers: { authorization: `Bearer ${ADMIN_KEY}` },
          })
        ).json()) as Array<{ allowedOutboundHosts: string[] }>;
        return list[0]!.allowedOutboundHosts;
      };
      const set = await eunha([
        'deploy',
        app,
        '-w',
        ws,
        '--outbound',
        'https://api.example.com',
        '--outbound',
        'https://*.example.org',
      ]);
      assert.equal(set.code, 0, set.err);
      assert.deepEqual(await hosts(), ['https://api.example.com', 'https://*.example.org']);
      // Redeployed without the option: the list stays.
      assert.equal((await eunha(['deploy', app, '-w', ws])).code, 0);
      assert.deepEqual(await hosts(), ['https://api.example.com', 'https://*.example.org']);
      const bad = await eunha(['deploy', app, '-w', ws, '--outbound', 'ftp://files.example.com']);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /^eunha: VALIDATION_ERROR \(400\): .*ftp:\/\/files\.example\.com/);
      assert.equal((await eunha(['deploy', app, '-w', ws, '--outbound', 'none'])).code, 0);
      assert.deepEqual(await hosts(), []);
      // A disabled function deploys, but its URL answers 403: said, where it printed only the URL.
      const { id } = (
        (await (
          await fetch(`${server.url}/api/workspaces/${ws}/functions`, {
            headers: { authorization: `Bearer ${ADMIN_KEY}` },
          })
        ).json()) as Array<{ id: string }>
      )[0]!;
      const off = await fetch(`${server.url}/api/workspaces/${ws}/functions/${id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'disabled' }),
      });
      assert.equal(off.status, 200);
      const disabled = await eunha(['deploy', app, '-w', ws]);
      assert.equal(disabled.code, 0, disabled.err);
      assert.match(disabled.err, /is disabled: its URL answers 403 FUNCTION_DISABLED until it is enabled/);
    },
  );

  test('what it says when something is wrong, and its exit codes', { timeout: 60_000 }, async () => {
    const ws = (await eunha(['workspaces', 'create', 'wrong'])).out.trim();
    // The command line: exit 2 and the usage.
    const unknown = await eunha(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command 'frobnicate'[\s\S]*usage: eunha/);
    assert.equal((await eunha(['deploy', join(dir, 'absent.py'), '-w', ws])).code, 2);
    assert.match(
      (await eunha(['deploy', join(dir, 'absent.py'), '-w', ws])).err,
      /cannot read .*absent\.py: ENOENT/,
    );
    assert.match((await eunha(['functions'])).err, /missing --workspace/);
    assert.equal((await eunha(['functions', '-w', ws, '--bogus'])).code, 2);
    const nobody = await eunha(['invoke', 'nobody', '-w', ws]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.err, /NOT_FOUND \(404\): no function 'nobody' in workspace/);
    assert.match(
      (await eunha(['deploy', file('x.py', handler('x')), '-w', ws, '--memory', 'lots'])).err,
      /--memory must be/,
    );
    // The server refuses: exit 1 with its code and message.
    const broken = await eunha(['deploy', file('broken.py', 'def broken(:\n  pass\n'), '-w', ws]);
    assert.equal(broken.code, 1, broken.err);
    assert.match(broken.err, /^eunha: VALIDATION_ERROR \(400\): .*/);
    assert.match(broken.err, /SyntaxError/, 'the traceback is in what it prints');
    const tooBig = await eunha(['deploy', file('big.py', handler('b')), '-w', ws, '--memory', '4096']);
    assert.equal(tooBig.code, 1, tooBig.err);
    assert.match(tooBig.err, /VALIDATION_ERROR \(400\)/);
    // A function that fails when it runs: its log, and exit 3.
    const raising = file(
      'raising.py',
      `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        raise ValueError("no luck")
`,
    );
    assert.equal((await eunha(['deploy', raising, '-w', ws])).code, 0);
    const failed = await eunha(['invoke', 'raising', '-w', ws]);
    assert.equal(failed.code, 3, failed.err);
    assert.match(failed.out, /\t500\terror\t/);
    // One that answers 503 on purpose did not fail: its log says "error" (a 5xx), but it ran and
    // answered as it meant to, so exit 0 (it was 3, which the README keeps for raised, timed out
    // or crashed).
    const busy = file(
      'busy.py',
      `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(503, {"content-type": "application/json"}, b'{"error": "come back later"}')
`,
    );
    assert.equal((await eunha(['deploy', busy, '-w', ws])).code, 0);
    const answered = await eunha(['invoke', 'busy', '-w', ws]);
    assert.equal(answered.code, 0, answered.err);
    assert.match(answered.out, /\t503\terror\t.*\n\{"error":"come back later"\}\n$/);
    // One that times out: what it printed first, from its log, then the error (a review found
    // only the error).
    const sleepy = file(
      'sleepy.py',
      `from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("about to sleep")
        time.sleep(5)
        return Response(200, {}, b"late")
`,
    );
    assert.equal((await eunha(['deploy', sleepy, '-w', ws, '--timeout', '1'])).code, 0);
    const timedOut = await eunha(['invoke', 'sleepy', '-w', ws]);
    assert.equal(timedOut.code, 3, timedOut.err);
    assert.match(timedOut.out, /\t504\terror\t.*\n {2}\| about to sleep\n/);
    assert.match(timedOut.err, /^eunha: TIMEOUT \(504\): /);
    const asJson = await eunha(['--json', 'invoke', 'sleepy', '-w', ws]);
    assert.equal(asJson.code, 3, asJson.err);
    assert.equal(JSON.parse(asJson.out).logs[0], 'about to sleep');
    // The broken function's deployment was refused, and the function it created went with it.
    const noFunction = await eunha(['rollback', 'broken', '7', '-w', ws]);
    assert.equal(noFunction.code, 1, noFunction.err);
    assert.match(noFunction.err, /NOT_FOUND \(404\): no function 'broken'/);
    const noVersion = await eunha(['rollback', 'raising', '7', '-w', ws]);
    assert.equal(noVersion.code, 1, noVersion.err);
    assert.match(noVersion.err, /NOT_FOUND \(404\)/);
    const noKey = await eunha(['workspaces'], { EUNHA_API_KEY: '' });
    assert.equal(noKey.code, 1, noKey.err);
    assert.match(noKey.err, /UNAUTHORIZED \(401\)/);
    // Nobody listening: a port that was just free.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const away = await eunha(['workspaces'], { EUNHA_URL: `http://127.0.0.1:${port}` });
    assert.equal(away.code, 1, away.err);
    assert.equal(away.err.trim(), `eunha: UNREACHABLE: cannot reach http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  test(
    'two deploys of one new name at once leave one function; an id-shaped name is never created',
    { timeout: 60_000 },
    async () => {
      const ws = (await eunha(['workspaces', 'create', 'race'])).out.trim();
      const app = file('twin.py', handler('twin'));
      const both = await Promise.all([1, 2, 3].map(() => eunha(['deploy', app, '-w', ws, '--json'])));
      for (const r of both) assert.equal(r.code, 0, r.err);
      const listed = JSON.parse((await eunha(['functions', '-w', ws, '--json'])).out) as Array<{
        name: string;
      }>;
      assert.deepEqual(
        listed.map((f) => f.name),
        ['twin'],
      );
      const ran = await eunha(['invoke', 'twin', '-w', ws]);
      assert.equal(ran.code, 0, ran.err);
      assert.match(ran.out, /^twin$/m);
      // Another workspace's id, or a mistyped one: not a new function named like an id.
      const stray = await eunha(['deploy', app, '-w', ws, '--name', 'fn-abcd1234']);
      assert.equal(stray.code, 1, stray.err);
      assert.match(stray.err, /NOT_FOUND \(404\): no function 'fn-abcd1234' in workspace/);
      assert.equal((JSON.parse((await eunha(['functions', '-w', ws, '--json'])).out) as unknown[]).length, 1);
    },
  );
});
