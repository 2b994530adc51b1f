// `eunha logs --follow` through what a long-lived connection goes through (src/cli/follow.ts):
// against a real server process, a restart on the same port and data, a start before the server
// is up, a 404 that ends it at once, Ctrl-C while it waits to reconnect; a TCP forwarder stands
// in for the network where a test needs to cut it. Then a stand-in HTTP server for the answers
// a real server gives rarely (429 with Retry-After, refusals, a stream gone silent).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { ApiClient } from '../../src/cli/client.js';
import { follow } from '../../src/cli/follow.js';
import { CLI, runCli, runCliInProcess } from '../helpers/eunha-cli.js';
import { SHARED_CACHE_DIR } from '../helpers/platform.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ADMIN_KEY = 'follow-test-admin-key-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on (it was free a moment ago). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

/** Listens on `port` and pipes each connection to `to`; `cut()` drops them all and stops listening. */
async function forwarder(port: number, to: number): Promise<{ cut: () => void }> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(to, '127.0.0.1');
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => (open.delete(a), b.destroy()));
    }
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    cut: () => {
      server.close();
      for (const s of open) s.destroy();
    },
  };
}

/** `eunha ARGS…` left running: what it printed so far, waits for output, and Ctrl-C. */
function follower(args: string[], url: string) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', EUNHA_URL: url, EUNHA_API_KEY: ADMIN_KEY },
  });
  const f = { out: '', err: '', code: undefined as number | null | undefined };
  child.stdout.on('data', (c: Buffer) => (f.out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (f.err += c.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r((f.code = code))));
  const until = async (what: string, seen: () => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!seen() && Date.now() < deadline) await sleep(25);
    assert.ok(seen(), `no ${what}:\n${f.out}\n${f.err}`);
  };
  return {
    f,
    closed,
    /** Waits until stdout has `text`. */
    out: (text: string) => until(`'${text}' on stdout`, () => f.out.includes(text)),
    /** Waits until stderr matches. */
    err: (re: RegExp) => until(`${re} on stderr`, () => re.test(f.err)),
    /** Ctrl-C; resolves with the exit code and how long the exit took. */
    interrupt: async () => {
      const began = Date.now();
      child.kill('SIGINT');
      return { code: await closed, ms: Date.now() - began };
    },
    kill: () => child.kill('SIGKILL'),
  };
}

describe('eunha logs --follow against a real server', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'eunha-follow-'));
  const serverEnv = {
    EUNHA_DATA_DIR: join(dir, 'data'),
    EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
    EUNHA_WARM_POOL_SIZE: '0',
    EUNHA_ADMIN_KEY: ADMIN_KEY,
  };
  let ws = '';
  let fnUrl = '';
  const call = async (path: string) => assert.equal((await fetch(fnUrl + path)).status, 200);
  const port = () => new URL(server.url).port;
  let down = false;
  const stop = async () => {
    down = true;
    server.child.kill('SIGTERM');
    await server.exited;
  };
  const start = async () => {
    server = await startServer({ ...serverEnv, EUNHA_PORT: port() });
    down = false;
  };
  // A test that failed while the server was down leaves it up for the next.
  afterEach(async () => {
    if (down) await start();
  });
  /** How many entries on stdout are of a call to `path`. */
  const times = (out: string, path: string) =>
    out
      .split('\n')
      .filter((l) => /\| saw /.test(l) && l.endsWith(` ${fnUrl.replace(/^.*\/fn\//, '/fn/')}${path}`)).length;

  before(async () => {
    server = await startServer(serverEnv);
    const env = { EUNHA_URL: server.url, EUNHA_API_KEY: ADMIN_KEY };
    ws = (await runCli(['workspaces', 'create', 'follow'], env)).out.trim();
    const app = join(dir, 'tail.py');
    writeFileSync(
      app,
      `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("saw", request.uri)
        return Response(200, {"content-type": "text/plain"}, b"ok")
`,
    );
    const deployed = await runCli(['deploy', app, '-w', ws], env);
    fnUrl = /→ (http\S+)/.exec(deployed.out)?.[1] ?? assert.fail(deployed.err);
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test('across a restart on the same port and data: every entry once, one lost/back pair', async () => {
    await call('/before');
    const tail = follower(['logs', 'tail', '-w', ws, '--follow', '--limit', '1'], server.url);
    try {
      await tail.out('/before');
      await call('/followed');
      await tail.out('/followed');
      await stop();
      await tail.err(/reconnecting/);
      await start();
      // Made right after the restart, maybe before the tail is back, and once it surely is.
      await call('/after-1');
      await call('/after-2');
      await call('/after-3');
      await tail.out('/after-3');
      await tail.err(/reconnected/);
      await call('/later');
      await tail.out('/later');
      for (const path of ['/before', '/followed', '/after-1', '/after-2', '/after-3', '/later'])
        assert.equal(times(tail.f.out, path), 1, `${path} once:\n${tail.f.out}`);
      assert.match(
        tail.f.err,
        new RegExp(
          `^eunha: STREAM_LOST: the server ended the live tail \\(${server.url}\\); reconnecting \\(Ctrl-C to stop\\)\neunha: reconnected\n$`,
        ),
      );
      const { code } = await tail.interrupt();
      assert.equal(code, 0, 'Ctrl-C is how a tail ends');
    } finally {
      tail.kill();
    }
  });

  test('started while the server is down, it waits, saying where, and streams once it is up', async () => {
    await stop();
    const tail = follower(['logs', 'tail', '-w', ws, '-f'], server.url);
    try {
      await tail.err(/retrying/);
      await sleep(500);
      assert.equal(tail.f.code, undefined, `still running:\n${tail.f.err}`);
      assert.equal(
        tail.f.err,
        `eunha: UNREACHABLE: cannot reach ${server.url}: ECONNREFUSED; retrying (Ctrl-C to stop)\n`,
      );
      await start();
      await call('/came-up');
      await tail.out('/came-up');
      await tail.err(/connected\n$/);
      assert.equal(times(tail.f.out, '/came-up'), 1);
      assert.match(tail.f.err, /; retrying \(Ctrl-C to stop\)\neunha: connected\n$/);
      assert.equal((await tail.interrupt()).code, 0);
    } finally {
      tail.kill();
    }
  });

  test('a 404 ends it at once, also once a server it waited for answers', async () => {
    const began = Date.now();
    const gone = await runCli(['logs', 'nobody', '-w', ws, '-f'], {
      EUNHA_URL: server.url,
      EUNHA_API_KEY: ADMIN_KEY,
    });
    assert.equal(gone.code, 1);
    assert.equal(gone.err, `eunha: NOT_FOUND (404): no function 'nobody' in workspace ${ws}\n`);
    assert.ok(Date.now() - began < 3000, `${Date.now() - began} ms`);
    // Nothing on the port at first; then the server is reachable there.
    const away = await freePort();
    const tail = follower(['logs', 'nobody', '-w', ws, '-f'], `http://127.0.0.1:${away}`);
    let link: { cut: () => void } | undefined;
    try {
      await tail.err(/retrying/);
      link = await forwarder(away, Number(port()));
      const exited = await Promise.race([tail.closed, sleep(4000).then(() => 'still running')]);
      assert.equal(exited, 1, tail.f.err);
      assert.match(
        tail.f.err,
        /; retrying \(Ctrl-C to stop\)\neunha: NOT_FOUND \(404\): no function 'nobody'/,
      );
    } finally {
      tail.kill();
      link?.cut();
    }
  });

  test('Ctrl-C while it waits to reconnect exits 0 at once', async () => {
    await call('/before-cut');
    const through = await freePort();
    const link = await forwarder(through, Number(port()));
    const tail = follower(['logs', 'tail', '-w', ws, '-f'], `http://127.0.0.1:${through}`);
    try {
      await tail.out('/before-cut');
      link.cut();
      await tail.err(/reconnecting/);
      await sleep(600);
      assert.equal(tail.f.code, undefined, 'still trying');
      const { code, ms } = await tail.interrupt();
      assert.equal(code, 0, tail.f.err);
      assert.ok(ms < 1000, `exited ${ms} ms after Ctrl-C`);
    } finally {
      tail.kill();
      link.cut();
    }
  });
});

describe('eunha logs --follow against a stand-in server', () => {
  let server: Server;
  let base = '';
  let stream: (res: ServerResponse, lastId: string | undefined) => void = (res) => res.end();
  before(async () => {
    server = createHttpServer((req, res) => {
      if (req.url?.endsWith('/functions'))
        return res.end(JSON.stringify([{ id: 'fn-1', name: 'f', status: 'active' }]));
      stream(res, req.headers['last-event-id'] as string | undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  const LOG =
    'event: log\ndata: {"timestamp":"t","status":"success","statusCode":200,"duration":1,"logs":[]}\n\n';
  const END = 'event: deleted\ndata: {"message":"the function was deleted"}\n\n';
  const cli = (argv: string[]) => runCliInProcess(argv, { EUNHA_URL: base });
  const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });

  test('429 waits as long as its Retry-After asks, then streams', async () => {
    let asked = 0;
    stream = (res) => {
      if (asked++ === 0) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        return res.end('{"error":{"code":"RATE_LIMITED","message":"too many tails"}}');
      }
      sse(res);
      res.end(LOG + END);
    };
    const began = Date.now();
    const r = await cli(['logs', 'f', '-w', 'w', '-f']);
    assert.equal(r.code, 0, r.err);
    assert.ok(Date.now() - began >= 1000, `retried after ${Date.now() - began} ms`);
    assert.match(r.out, /^t\t200\tsuccess/);
    assert.equal(
      r.err,
      `eunha: RATE_LIMITED (429): too many tails (${base}); retrying (Ctrl-C to stop)\neunha: connected\neunha: the function was deleted\n`,
    );
  });

  test('a refusal (400, 401, 403, 404) ends it at once, with its code', async () => {
    for (const [status, code] of [
      [400, 'VALIDATION_ERROR'],
      [401, 'UNAUTHORIZED'],
      [403, 'FORBIDDEN'],
      [404, 'NOT_FOUND'],
    ] as const) {
      stream = (res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code, message: 'no' } }));
      };
      const r = await cli(['logs', 'f', '-w', 'w', '-f']);
      assert.equal(r.code, 1);
      assert.equal(r.err, `eunha: ${code} (${status}): no\n`);
    }
    // The bound on trying is for a tail: without --follow it is a mistake, not ignored.
    const stray = await cli(['logs', 'f', '-w', 'w', '--reconnect', '5']);
    assert.equal(stray.code, 2);
    assert.match(stray.err, /^eunha: --reconnect goes with --follow\n/);
  });

  test('a stream gone silent (no keep-alive either) is lost, and resumes after its last entry', async () => {
    const resumedFrom: Array<string | undefined> = [];
    stream = (res, lastId) => {
      resumedFrom.push(lastId);
      sse(res);
      // The first stream says one entry and then nothing, its connection still open.
      if (lastId === undefined) res.write(`: connected\n\nid: e1\n${LOG}`);
      else res.end(END);
    };
    let out = '';
    let err = '';
    const code = await follow(
      new ApiClient(base, undefined),
      { locate: async () => '/logs', limit: 5, print: (d) => (out += d + '\n'), idleMs: 300 },
      { out: () => undefined, err: (l) => (err += l + '\n') },
    );
    assert.equal(code, 0);
    assert.deepEqual(resumedFrom, [undefined, 'e1']);
    assert.equal(out.split('\n').length - 1, 1, out);
    assert.match(
      err,
      /^eunha: STREAM_LOST: no word from http:\S+ in 0\.3 s; reconnecting \(Ctrl-C to stop\)\n/,
    );
    assert.match(err, /eunha: reconnected\neunha: the function was deleted\n$/);
  });
});
