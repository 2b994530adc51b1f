// The `eunha` command against answers the real server does not give but a proxy or a wrong
// address may: a local HTTP server plays them (CRLF event streams split mid-line, a stream that
// ends or turns unauthorized, an HTML page, an error envelope with a traceback). What is checked:
// the CLI parses what it should, and otherwise says what happened in one line, never a stack,
// never the key.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../../src/cli/client.js';
import { UsageError } from '../../src/cli/args.js';
import { sinceOf } from '../../src/cli/since.js';
import { run } from '../../src/cli/run.js';
import { runCliInProcess } from '../helpers/eunha-cli.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('the eunha command and odd answers', () => {
  let server: Server;
  let base = '';
  let handler: Handler = (_req, res) => res.end();
  before(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const cli = (argv: string[]) => runCliInProcess(argv, { EUNHA_URL: base });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const ONE_FUNCTION = JSON.stringify([{ id: 'fn-1', name: 'f', status: 'active' }]);
  /** The function list, then `tail` for the live tail. */
  const withTail =
    (tail: (res: ServerResponse) => Promise<void>): Handler =>
    (req, res) => {
      if (req.url?.endsWith('/functions')) return res.end(ONE_FUNCTION);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      void tail(res);
    };

  test('an event stream with CRLF line ends, split mid-line, with comments and ids', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const parts = [
        ': connected\r\n\r\nid: 1\r\nevent: lo',
        'g\r\ndata: {"a":',
        '1}\r',
        '\n\r\n: keep-alive\r\n\r\n',
        'data: x\r\ndata: y\r\n\r\n',
      ];
      void (async () => {
        for (const p of parts) {
          res.write(p);
          await sleep(20);
        }
        res.end();
      })();
    };
    const events = [];
    for await (const ev of new ApiClient(base, undefined).events('/tail')) events.push(ev);
    // An id holds for the events after it, as in SSE.
    assert.deepEqual(events, [
      { event: 'log', data: '{"a":1}', id: '1' },
      { event: 'message', data: 'x\ny', id: '1' },
    ]);
  });

  test('with --reconnect 0, a live tail that ends without a word, or turns unauthorized, is an error (exit 1)', async () => {
    handler = withTail(async (res) => {
      res.write(
        'event: log\ndata: {"timestamp":"t","status":"success","statusCode":200,"duration":1,"logs":["hi"]}\n\n',
      );
      await sleep(20);
      res.end();
    });
    const ended = await cli(['logs', 'f', '-w', 'w', '--follow', '--reconnect', '0']);
    assert.equal(ended.code, 1);
    assert.match(ended.out, /^t\t200\tsuccess\t1 ms\n {2}\| hi\n$/);
    assert.equal(ended.err, 'eunha: STREAM_LOST: the server ended the live tail\n');

    handler = withTail(async (res) => {
      res.end('event: unauthorized\ndata: {"message":"the key was revoked"}\n\n');
    });
    const revoked = await cli(['logs', 'f', '-w', 'w', '-f', '--reconnect', '0']);
    assert.equal(revoked.code, 1);
    assert.equal(revoked.err, 'eunha: UNAUTHORIZED (401): the key was revoked\n');

    handler = withTail(async (res) => {
      res.end('event: deleted\ndata: {"functionId":"fn-1","message":"the function was deleted"}\n\n');
    });
    const deleted = await cli(['--json', 'logs', 'f', '-w', 'w', '-f', '--reconnect', '0']);
    assert.equal(deleted.code, 0);
    assert.equal(deleted.out, '', 'the JSON lines are logs only');
    assert.equal(deleted.err, 'eunha: the function was deleted\n');

    // The connection drops mid-stream.
    handler = withTail(async (res) => {
      res.write(
        'event: log\ndata: {"timestamp":"t","status":"success","statusCode":200,"duration":1,"logs":[]}\n\n',
      );
      await sleep(20);
      res.destroy();
    });
    const dropped = await cli(['logs', 'f', '-w', 'w', '-f', '--reconnect', '0']);
    assert.equal(dropped.code, 1);
    assert.match(dropped.err, /^eunha: STREAM_LOST: /);
  });

  test('a follow that is cut off reconnects with the last event id and goes on where it was', async () => {
    const line = (n: number) =>
      `data: {"timestamp":"t${n}","status":"success","statusCode":200,"duration":1,"logs":[]}\n\n`;
    const asked: Array<string | undefined> = [];
    handler = withTail(async (res) => {
      const last = res.req.headers['last-event-id'] as string | undefined;
      asked.push(last);
      if (last === undefined) {
        res.write(`id: 7\nevent: log\n${line(7)}`);
        await sleep(20);
        res.destroy(); // a network blip
      } else if (asked.length === 2) {
        res.end(); // a server shutting down: ends the stream without a word
      } else {
        res.write(`event: gap\ndata: {"message":"some were skipped"}\n\nid: 9\nevent: log\n${line(9)}`);
        res.end('event: deleted\ndata: {"message":"the function was deleted"}\n\n');
      }
    });
    const followed = await cli(['logs', 'f', '-w', 'w', '-f', '--reconnect', '20']);
    assert.equal(followed.code, 0, followed.err);
    assert.deepEqual(asked, [undefined, '7', '7']);
    assert.match(followed.out, /^t7\t.*\nt9\t/);
    assert.match(followed.err, /^eunha: STREAM_LOST: .*; reconnecting for up to 20 s\n/);
    assert.match(
      followed.err,
      /eunha: reconnected\neunha: some were skipped\neunha: the function was deleted\n$/,
    );

    // A server that keeps ending the stream at once is given up on after the window.
    let tries = 0;
    handler = withTail(async (res) => {
      tries++;
      res.end();
    });
    const began = Date.now();
    const gaveUp = await cli(['logs', 'f', '-w', 'w', '-f', '--reconnect', '1']);
    assert.equal(gaveUp.code, 1);
    assert.ok(tries >= 2 && Date.now() - began < 5000, `${tries} tries in ${Date.now() - began} ms`);
    assert.match(gaveUp.err, /eunha: STREAM_LOST: the server ended the live tail\n$/);

    // A refusal is not retried.
    handler = (req, res) => {
      if (req.url?.endsWith('/functions')) return res.end(ONE_FUNCTION);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"NOT_FOUND","message":"gone","details":{}}}');
    };
    const refused = await cli(['logs', 'f', '-w', 'w', '-f']);
    assert.equal(refused.code, 1);
    assert.equal(refused.err, 'eunha: NOT_FOUND (404): gone\n');
  });

  test('not an Eunha server: one line, no stack', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>welcome</html>');
    };
    const html = await cli(['workspaces']);
    assert.equal(html.code, 1);
    assert.equal(
      html.err,
      `eunha: BAD_RESPONSE (200): ${base} did not answer with JSON: is it an Eunha server?\n`,
    );
    handler = (_req, res) => res.end('{"not":"a list"}');
    const shape = await cli(['workspaces']);
    assert.equal(shape.code, 1);
    assert.match(shape.err, /^eunha: BAD_RESPONSE \(200\): .* did not answer with a list\n$/);
  });

  test("an error's traceback is printed under it", async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            code: 'FUNCTION_LOAD_ERROR',
            message: 'the function could not be loaded',
            details: {
              traceback: 'Traceback (most recent call last):\n  ...\nZeroDivisionError: division by zero\n',
            },
          },
        }),
      );
    };
    const r = await cli(['workspaces']);
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      'eunha: FUNCTION_LOAD_ERROR (500): the function could not be loaded\nTraceback (most recent call last):\n  ...\nZeroDivisionError: division by zero\n',
    );
  });

  test('-w=WS, a key file ending in a newline, a blocked port, and a run that timed out (exit 3)', async () => {
    const seen: Array<{ url: string; auth: string }> = [];
    handler = (req, res) => {
      seen.push({ url: req.url ?? '', auth: String(req.headers.authorization) });
      if (req.url?.endsWith('/functions')) return res.end(ONE_FUNCTION);
      res.writeHead(504, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 'TIMEOUT', message: 'the function did not answer within 3000 ms' } }),
      );
    };
    const keyed = await run(
      ['functions', '-w=ws-abc'],
      { EUNHA_URL: base, EUNHA_API_KEY: 'eunha_key123\n' },
      { out: () => undefined, err: (l) => assert.fail(l) },
    );
    assert.equal(keyed, 0);
    assert.deepEqual(seen.at(-1), { url: '/api/workspaces/ws-abc/functions', auth: 'Bearer eunha_key123' });
    const timedOut = await cli(['invoke', 'f', '-w', 'ws-abc']);
    assert.equal(timedOut.code, 3, timedOut.err);
    assert.equal(timedOut.err, 'eunha: TIMEOUT (504): the function did not answer within 3000 ms\n');
    // fetch will not connect to some ports at all (6000 is X11): nothing was sent, so UNREACHABLE.
    const blocked = await run(
      ['--url', 'http://127.0.0.1:6000', 'workspaces'],
      {},
      {
        out: () => undefined,
        err: (l) =>
          assert.match(
            l,
            /^eunha: UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:6000: fetch refuses that port$/,
          ),
      },
    );
    assert.equal(blocked, 1);
  });

  test('a function whose calls all fail says so in the listing, not only its stored status', async () => {
    handler = (_req, res) =>
      res.end(
        JSON.stringify([
          { id: 'fn-1', name: 'ok', status: 'active', invocationUrl: 'http://x/fn/fn-1', unavailable: null },
          {
            id: 'fn-2',
            name: 'lost',
            status: 'active',
            invocationUrl: 'http://x/fn/fn-2',
            unavailable: { code: 'DEPENDENCY_UNAVAILABLE', message: 'could not be loaded at start-up' },
          },
          // A server from before the field: nothing is made up.
          { id: 'fn-3', name: 'old', status: 'disabled', invocationUrl: null },
        ]),
      );
    const r = await cli(['functions', '-w', 'ws-abc']);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      'fn-1\tok\tactive\thttp://x/fn/fn-1\n' +
        'fn-2\tlost\tactive (unavailable: DEPENDENCY_UNAVAILABLE)\thttp://x/fn/fn-2\n' +
        'fn-3\told\tdisabled\t(not deployed)\n',
    );
  });

  test('an answer without the fields a command prints is a BAD_RESPONSE (exit 1), not NaN', async () => {
    handler = (req, res) => {
      if (req.url?.endsWith('/functions')) return res.end(JSON.stringify([{ id: 'fn-1', name: 'f' }]));
      res.end('{"storage":"elsewhere"}');
    };
    const storage = await cli(['storage', '-w', 'w']);
    assert.equal(storage.code, 1);
    assert.equal(storage.out, '');
    assert.equal(storage.err, 'eunha: BAD_RESPONSE (200): the storage answer has no usedBytes (a number)\n');
    // A function listed without its status.
    const listed = await cli(['functions', '-w', 'w']);
    assert.equal(listed.code, 1);
    assert.equal(listed.err, 'eunha: BAD_RESPONSE (200): the function answer has no status (a string)\n');
    // --json prints the answer as it came: nothing is formatted from it.
    assert.equal((await cli(['--json', 'storage', '-w', 'w'])).out, '{"storage":"elsewhere"}\n');
  });

  test('a deploy without an answer is not undone; an undo that fails is reported, with the first exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eunha-cli-protocol-'));
    const app = join(dir, 'f.py');
    writeFileSync(app, 'print(1)\n');
    const FN = { id: 'fn-abcd1234', name: 'f', status: 'active' };
    const asked: string[] = [];
    let listings = 0;
    /** A server that creates the function, then answers its deployment and its delete with these. */
    const serve =
      (deployment: (res: ServerResponse) => void, deleted: (res: ServerResponse) => void): Handler =>
      (req, res) => {
        asked.push(`${req.method} ${req.url}`);
        req.resume();
        if (req.method === 'GET') return res.end(JSON.stringify(listings++ === 0 ? [] : [FN]));
        if (req.method === 'POST' && req.url?.endsWith('/functions')) {
          res.writeHead(201, { 'content-type': 'application/json' });
          return res.end(JSON.stringify(FN));
        }
        if (req.method === 'DELETE') return deleted(res);
        deployment(res);
      };
    const envelope = (res: ServerResponse, status: number, code: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code, message: 'no', details: {} } }));
    };
    try {
      // The connection drops: the deployment may have been made.
      listings = 0;
      handler = serve(
        (res) => res.destroy(),
        (res) => envelope(res, 500, 'INTERNAL_ERROR'),
      );
      const dropped = await cli(['deploy', app, '-w', 'w']);
      assert.equal(dropped.code, 1);
      assert.match(dropped.err, /^eunha: REQUEST_FAILED: .*it may have been applied\n/);
      assert.match(
        dropped.err,
        /\neunha: the deployment may have happened, so f \(fn-abcd1234\), created by this command, was left as it is\n$/,
      );
      assert.ok(!asked.some((a) => a.startsWith('DELETE')), asked.join(', '));

      // A gateway's page, not Eunha's answer: the server behind it may have deployed.
      listings = 0;
      handler = serve(
        (res) => {
          res.writeHead(504, { 'content-type': 'text/html' });
          res.end('<html>gateway timeout</html>');
        },
        (res) => envelope(res, 500, 'INTERNAL_ERROR'),
      );
      const gateway = await cli(['deploy', app, '-w', 'w']);
      assert.equal(gateway.code, 1);
      assert.match(gateway.err, /^eunha: HTTP_504 \(504\): .*\neunha: the deployment may have happened/);
      assert.ok(!asked.some((a) => a.startsWith('DELETE')), asked.join(', '));

      // Refused, and the undo fails too: both are said, and the exit code is the refusal's.
      listings = 0;
      handler = serve(
        (res) => envelope(res, 400, 'VALIDATION_ERROR'),
        (res) => envelope(res, 500, 'INTERNAL_ERROR'),
      );
      const undoFailed = await cli(['deploy', app, '-w', 'w']);
      assert.equal(undoFailed.code, 1);
      assert.equal(
        undoFailed.err,
        'eunha: VALIDATION_ERROR (400): no\n' +
          'eunha: could not delete f (fn-abcd1234), which this command had created: INTERNAL_ERROR (500): no\n',
      );
      assert.equal(asked.at(-1), 'DELETE /api/workspaces/w/functions/fn-abcd1234');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the key and the URL are checked, and the key is never printed', async () => {
    let seen = 0;
    handler = (_req, res) => {
      seen++;
      res.end('[]');
    };
    const badKey = await run(
      ['--key', 'sek\nret-value', 'workspaces'],
      { EUNHA_URL: base },
      { out: () => undefined, err: (l) => assert.ok(!l.includes('ret-value'), l) },
    );
    assert.equal(badKey, 2);
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['workspaces'], { EUNHA_URL: 'localhost:8000' }, /EUNHA_URL must be an http:\/\/ or https:\/\/ URL/],
      [['--url', 'http://user:pw@127.0.0.1:1', 'workspaces'], {}, /--url must not hold credentials/],
      [['--url', 'not a url', 'workspaces'], {}, /--url is not a URL/],
      [['workspaces', 'create', 'my', 'demo'], { EUNHA_URL: base }, /unexpected argument 'demo'/],
      [
        ['rollback', 'f', 'latest', '-w', 'w'],
        { EUNHA_URL: base },
        /version must be 1–999999999, got 'latest'/,
      ],
      [['logs', 'f', '-w', 'w', '--limit', '5000'], { EUNHA_URL: base }, /--limit must be 1–1000/],
      [['invoke', 'f', '-w', 'w', '--data', '{'], { EUNHA_URL: base }, /--data must be JSON/],
      [[], { EUNHA_URL: base }, /no command/],
      [['--key', ' ', 'workspaces'], { EUNHA_URL: base, EUNHA_API_KEY: 'eunha_other' }, /--key is empty/],
      // Paths are appended to the URL: a query or fragment sent every request to the wrong place.
      [
        ['storage', '-w', 'w'],
        { EUNHA_URL: `${base}?x=1` },
        /EUNHA_URL must be the server's address without a query or fragment/,
      ],
      [
        ['--url', `${base}/#top`, 'storage', '-w', 'w'],
        {},
        /--url must be the server's address without a query/,
      ],
      [['--url', `${base}?`, 'workspaces'], {}, /--url must be the server's address without a query/],
      [['--url', 'ftp://127.0.0.1:21', 'workspaces'], {}, /--url must be an http:\/\/ or https:\/\/ URL/],
      // An option the command does not take is refused, not ignored.
      [
        ['functions', '-w', 'w', '--delete', 'app'],
        { EUNHA_URL: base },
        /functions does not take --delete\n/,
      ],
      [
        ['invoke', 'f', '-w', 'w', '--follow', '--since', '5x', '--memory', '7'],
        { EUNHA_URL: base },
        /invoke does not take --follow, --since, --memory\n/,
      ],
      [['workspaces', 'create', 'x', '-w', 'w'], { EUNHA_URL: base }, /workspaces does not take -w\n/],
      [['logs', 'f', '-w', 'w', '--data', '{}'], { EUNHA_URL: base }, /logs does not take --data\n/],
      [['toString'], { EUNHA_URL: base }, /unknown command 'toString'/],
    ];
    for (const [argv, env, message] of cases) {
      let err = '';
      const code = await run(argv, env, { out: () => undefined, err: (l) => (err += l + '\n') });
      assert.equal(code, 2, `${argv.join(' ')}: ${err}`);
      assert.match(err, message);
      assert.match(err, /usage: eunha/);
    }
    assert.equal(seen, 0, 'a bad command line sends nothing');
  });
});

describe('eunha logs --since', () => {
  test('an age counts back from now; an RFC 3339 time is sent as it is; anything else is a usage error', () => {
    const now = Date.parse('2026-11-27T12:00:00.000Z');
    assert.equal(sinceOf('90s', now), '2026-11-27T11:58:30.000Z');
    assert.equal(sinceOf('15m', now), '2026-11-27T11:45:00.000Z');
    assert.equal(sinceOf('2h', now), '2026-11-27T10:00:00.000Z');
    assert.equal(sinceOf('7d', now), '2026-11-20T12:00:00.000Z');
    assert.equal(sinceOf('2026-11-27T09:00:00+09:00', now), '2026-11-27T09:00:00+09:00');
    assert.equal(sinceOf('2026-11-27T09:00:00.5z', now), '2026-11-27T09:00:00.5z');
    assert.equal(sinceOf('2024-02-29T00:00:00-0130', now), '2024-02-29T00:00:00-0130');
    assert.equal(sinceOf('99999d', now), '1753-02-12T12:00:00.000Z');
    for (const bad of ['yesterday', '15', '1w', '-2h', '2026-11-27', '2026-13-45T00:00:00Z']) {
      assert.throws(() => sinceOf(bad, now), UsageError, bad);
    }
    // What the server's RFC 3339 check refuses (a 400, exit 1) is a usage error here (exit 2).
    const refused: Array<[string, RegExp]> = [
      ['999999d', /--since 999999d reaches back too far/],
      ['2026-11-28T00:00:00', /has no UTC offset/],
      ['2026-11-28T00:00', /has no UTC offset/],
      ['2026-02-30T00:00:00Z', /an RFC 3339 time with its offset/],
      ['2025-02-29T00:00:00Z', /an RFC 3339 time with its offset/],
      ['2026-11-27T24:00:00Z', /an RFC 3339 time with its offset/],
      ['2026-11-27T09:00:00+24:00', /an RFC 3339 time with its offset/],
      ['+002026-11-27T09:00:00Z', /an RFC 3339 time with its offset/],
    ];
    for (const [bad, message] of refused) assert.throws(() => sinceOf(bad, now), message, bad);
  });
});
