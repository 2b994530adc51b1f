// HTTP below the routes, over a real socket: what Node's parser refuses (an unknown method, a
// malformed request line, a header block that is too large) and requests that arrive while the
// server shuts down answer in the error envelope, not in Fastify's own body.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { b64, deployedFunction, startTestPlatform } from '../helpers/platform.js';

/** Writes `requests` on one socket (the next once the previous has had `gapMs`); resolves with all it read. */
function exchange(port: number, requests: string[], between?: () => Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    sock.on('data', (c) => (out += c.toString('utf8')));
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
    sock.on('connect', async () => {
      for (const [i, r] of requests.entries()) {
        if (i > 0 && between) await between();
        sock.write(r);
      }
    });
  });
}

const envelope = (raw: string): { status: number; body: { error: { code: string; message: string } } } => {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
  return { status, body: JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) };
};

describe('HTTP edges', () => {
  test('a path that exists with other methods is 405 with Allow; an unknown path is 404', async () => {
    const p = await startTestPlatform();
    try {
      const ws = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'm' } })
      ).json().id;
      const put = await p.app.inject({ method: 'PUT', url: `/api/workspaces/${ws}`, payload: {} });
      assert.equal(put.statusCode, 405, put.body);
      assert.equal(put.headers.allow, 'GET, HEAD, PATCH, DELETE');
      assert.equal(put.json().error.code, 'METHOD_NOT_ALLOWED');
      assert.deepEqual(put.json().error.details.allowed, ['GET', 'HEAD', 'PATCH', 'DELETE']);
      const health = await p.app.inject({ method: 'POST', url: '/health?x=1' });
      assert.equal(health.statusCode, 405);
      assert.equal(health.headers.allow, 'GET, HEAD');
      const nowhere = await p.app.inject({ method: 'PUT', url: '/api/nowhere' });
      assert.equal(nowhere.statusCode, 404);
      assert.equal(nowhere.json().error.code, 'NOT_FOUND');
    } finally {
      await p.cleanup();
    }
  });

  test('requests the parser refuses get the envelope, then the connection closes', async () => {
    const p = await startTestPlatform();
    try {
      const port = Number(new URL(await p.listen('127.0.0.1', 0)).port);
      const bad = envelope(await exchange(port, ['FOO / HTTP/1.1\r\nHost: x\r\n\r\n']));
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'VALIDATION_ERROR');
      const garbage = envelope(await exchange(port, ['this is not http\r\n\r\n']));
      assert.equal(garbage.status, 400);
      assert.equal(garbage.body.error.code, 'VALIDATION_ERROR');
      const huge = envelope(
        await exchange(port, [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]),
      );
      assert.equal(huge.status, 431);
      assert.equal(huge.body.error.code, 'HEADERS_TOO_LARGE');
      // HTTP/1.1 without Host (RFC 9112 §3.2): refused, in the envelope (Node's own 400 has no body).
      const hostless = envelope(await exchange(port, ['GET /health HTTP/1.1\r\n\r\n']));
      assert.equal(hostless.status, 400);
      assert.equal(hostless.body.error.code, 'VALIDATION_ERROR');
      assert.match(hostless.body.error.message, /must have a Host header/);
      // HTTP/1.0 needs none.
      const old = await exchange(port, ['GET /health HTTP/1.0\r\n\r\n']);
      assert.match(old, /^HTTP\/1\.1 200 /);
    } finally {
      await p.cleanup();
    }
  });

  test('a request that arrives while the server shuts down is a 503 SHUTTING_DOWN envelope', async () => {
    const p = await startTestPlatform({ EUNHA_WARM_POOL_SIZE: '1' });
    let closing: Promise<void> | undefined;
    try {
      const { fn } = await deployedFunction(p, {
        code: b64(`from spin_sdk import http
from spin_sdk.http import Request, Response
import time

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        time.sleep(0.8)
        return Response(200, {}, b"finished")
`),
      });
      const port = Number(new URL(await p.listen('127.0.0.1', 0)).port);
      // The second request follows the first on the same (busy, so not reaped) connection, after
      // shutdown has begun: the first finishes, the second is refused in the envelope.
      const raw = await exchange(
        port,
        [`GET /fn/${fn} HTTP/1.1\r\nHost: x\r\n\r\n`, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'],
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          closing = p.close();
          await new Promise((r) => setTimeout(r, 50));
        },
      );
      const [first, second] = raw.split(/(?=HTTP\/1\.1 )/);
      assert.match(first ?? '', /^HTTP\/1\.1 200/);
      assert.match(first ?? '', /finished$/);
      const refused = envelope(second ?? '');
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'SHUTTING_DOWN');
    } finally {
      await (closing ?? p.close());
      await p.cleanup();
    }
  });
});
