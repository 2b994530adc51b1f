// The public ingress over a real socket: what a Spin function sees of the request (raw path info,
// Host, a GET body, UTF-8 header values, an absolute-form target) and what the caller gets back
// (OPTIONS answered by the function, no platform CORS headers, UTF-8 response header values);
// key-value handles and variables as Spin code uses them.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { b64, deployedFunction, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const ECHO = `from spin_sdk import http, key_value, variables
from spin_sdk.http import Request, Response
from spin_sdk.wit.types import Err
import json

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        if request.uri.endswith("/kv"):
            store = key_value.open_default()  # never closed, as much Spin code does
            n = int((store.get("n") or b"0").decode()) + 1
            store.set("n", str(n).encode())
            return Response(200, {}, str(n).encode())
        if request.uri.endswith("/fill"):
            store = key_value.open_default()
            n = 0
            try:
                while n < 100:
                    store.set(f"fill{n}", b"x" * 8192)
                    n += 1
                outcome = "no error"
            except Err as e:
                outcome = type(e.value).__name__ + ": " + e.value.value
            return Response(200, {}, f"{n} {outcome}".encode())
        if request.uri.endswith("/dup"):
            return Response(200, {"X-Dup": "a", "x-dup": "b"}, b"two")
        if request.uri.endswith("/cookies"):
            # 18 spellings of one name: each value is one Set-Cookie line.
            def spell(i):
                s = "".join(c.upper() if (i >> j) & 1 else c for j, c in enumerate("setcookie"))
                return s[:3] + "-" + s[3:]
            return Response(200, {spell(i): f"c{i}=1" for i in range(18)}, b"cookies")
        if request.uri.endswith("/odd-type"):
            return Response(200, {"content-type": "html"}, b"<p>odd</p>")
        if request.uri.endswith("/sized"):
            # What a HEAD handler does: the length of what a GET would send, and no body.
            return Response(200, {"content-length": request.headers.get("x-length", "1234")}, b"")
        if request.uri.endswith("/fibs"):
            return Response(200, {"content-length": "99"}, b"abc")
        if request.uri.endswith("/reset"):
            return Response(205, {}, b"must not be sent")
        if request.uri.endswith("/headers"):
            return Response(200, {}, " ".join(sorted(request.headers.keys())).encode())
        if request.uri.endswith("/vars"):
            out = {}
            for name in ("greeting", "api_url", "missing"):
                try:
                    out[name] = variables.get(name)
                except Err as e:
                    out[name] = type(e.value).__name__
            return Response(200, {"content-type": "application/json"}, json.dumps(out).encode())
        out = {
            "method": request.method,
            "uri": request.uri,
            "path_info": request.headers.get("spin-path-info"),
            "full_url": request.headers.get("spin-full-url"),
            "host": request.headers.get("host"),
            "x_u": request.headers.get("x-u"),
            "client_addr": request.headers.get("spin-client-addr"),
            "component_route": request.headers.get("spin-component-route"),
            "authorization": request.headers.get("authorization"),
            "body": (request.body or b"").decode("utf-8"),
        }
        return Response(200, {"content-type": "application/json", "x-u": "café", "x-k": "한"},
                        json.dumps(out).encode())
`;

interface Echo {
  method: string;
  uri: string;
  path_info: string;
  full_url: string;
  host: string;
  x_u: string;
  client_addr: string | null;
  component_route: string | null;
  authorization: string | null;
  body: string;
}

const BODY_LIMIT = 64 * 1024;

describe('the ingress passes requests through as Spin would', () => {
  let p: TestPlatform;
  let port = 0;
  let fnId = '';
  let wsId = '';
  before(async () => {
    p = await startTestPlatform({
      EUNHA_WARM_POOL_SIZE: '1',
      CORS_ORIGINS: '["https://console.example"]',
      EUNHA_BODY_LIMIT_BYTES: String(BODY_LIMIT),
      EUNHA_KV_MAX_BYTES: String(64 * 1024),
    });
    const address = await p.app.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(address).port);
    const deployed = await deployedFunction(p, {
      code: b64(ECHO),
      httpMethods: ['GET', 'POST', 'OPTIONS'],
      environmentVariables: { GREETING: 'plain', SPIN_VARIABLE_GREETING: 'spin', API_URL: 'http://x' },
    });
    fnId = deployed.fn;
    wsId = deployed.ws;
  });
  after(async () => p.cleanup());

  /** One request over a socket; header values are sent as the bytes of the given Latin-1 strings. */
  const call = (
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; raw: string[]; text: string }> =>
    new Promise((resolve, reject) => {
      // Node sends a GET's body with neither length nor chunking unless told its length.
      const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
      const req = http.request(
        { host: '127.0.0.1', port, method, path, headers: { ...headers, ...length } },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              raw: res.rawHeaders,
              text: Buffer.concat(parts).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const echo = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const r = await call(method, path, headers, body);
    assert.equal(r.status, 200, r.text);
    return JSON.parse(r.text) as Echo;
  };

  test("the seed's /invoke sends the function the Host and Spin headers its URL would, and none of the caller's", async () => {
    const viaUrl = await echo('POST', `/fn/${fnId}`, {}, '{}');
    const res = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${wsId}/functions/${fnId}/invoke`,
      headers: { authorization: 'Bearer the-callers-own-credential' },
      payload: { a: 1 },
    });
    assert.equal(res.statusCode, 200, res.body);
    const raw = (res.json() as { responseBody: unknown }).responseBody;
    const viaInvoke = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Echo;
    assert.equal(viaInvoke.component_route, `/fn/${fnId}`);
    assert.equal(viaInvoke.component_route, viaUrl.component_route);
    assert.match(String(viaInvoke.client_addr), /^127\.0\.0\.1:\d+$/);
    const fn = await p.app.inject({ method: 'GET', url: `/api/workspaces/${wsId}/functions/${fnId}` });
    assert.equal(viaInvoke.host, new URL(fn.json().invocationUrl as string).host);
    assert.equal(viaInvoke.full_url, fn.json().invocationUrl);
    assert.equal(viaInvoke.authorization, null);
    assert.equal(viaInvoke.body, '{"a":1}');
  });

  test('path info is the raw path after /fn/{id}; the uri is exactly what was sent', async () => {
    assert.equal((await echo('GET', `/fn/${fnId}`)).path_info, '/');
    assert.equal((await echo('GET', `/fn/${fnId}/`)).path_info, '/');
    const slash = await echo('GET', `/fn/${fnId}/a/b/?q=1`);
    assert.equal(slash.path_info, '/a/b/');
    assert.equal(slash.uri, `/fn/${fnId}/a/b/?q=1`);
    // Decoded, "/a%2Fb" was "/a/b": a different path.
    const encoded = await echo('GET', `/fn/${fnId}/a%2Fb/%2e%2e/x`);
    assert.equal(encoded.path_info, '/a%2Fb/%2e%2e/x');
    // Escapes that are not UTF-8 are a valid URL too; the router refused them (400, unlogged).
    const latin1 = await echo('GET', `/fn/${fnId}/caf%E9.txt/%FF%25?q=%FF`);
    assert.equal(latin1.path_info, '/caf%E9.txt/%FF%25');
    assert.equal(latin1.uri, `/fn/${fnId}/caf%E9.txt/%FF%25?q=%FF`);
    assert.equal(latin1.full_url.endsWith(latin1.uri), true);
    // The API's own routes still refuse them, in the envelope.
    const api = await call('GET', `/api/workspaces/%FF`);
    assert.equal(api.status, 400, api.text);
  });

  test('a chunked GET body over the cap gets a 413, and the connection serves the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<net.Socket>();
      const over = await new Promise<{ status: number; code: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: `/fn/${fnId}/big`,
            agent,
            headers: { 'transfer-encoding': 'chunked' },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(text).error.code }));
          },
        );
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
        // Node sends a GET body chunked only when told to. Four times the cap, in 16 KB chunks.
        const chunk = 'x'.repeat(16 * 1024);
        for (let i = 0; i < (4 * BODY_LIMIT) / chunk.length; i++) req.write(chunk);
        req.end();
      });
      assert.deepEqual(over, { status: 413, code: 'PAYLOAD_TOO_LARGE' });
      const next = await new Promise<Echo>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: `/fn/${fnId}/after`, agent }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text) as Echo));
        });
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
        req.end();
      });
      assert.equal(next.path_info, '/after');
      assert.equal(sockets.size, 1, 'the keep-alive connection was closed after the 413');
    } finally {
      agent.destroy();
    }
  });

  test('a chunked GET body that goes on past its 413 has its connection closed, not read for as long as it lasts', async () => {
    const outcome = await new Promise<{ head: string; closedAfterMs: number; sentBytes: number }>(
      (resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        let head = '';
        let sentBytes = 0;
        let answeredAt = 0;
        const chunk = 'x'.repeat(16 * 1024);
        const frame = `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
        // A client uploading without end: 1.6 MB/s for up to 10 s, the server's cap being 64 KiB.
        const writer = setInterval(() => {
          if (socket.writable) {
            socket.write(frame);
            sentBytes += chunk.length;
          }
        }, 10);
        const giveUp = setTimeout(() => socket.destroy(), 10_000);
        socket.on('data', (c: Buffer) => {
          if (head === '') answeredAt = Date.now();
          head += c.toString('latin1');
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(writer);
          clearTimeout(giveUp);
          resolve({ head: head.split('\r\n')[0]!, closedAfterMs: Date.now() - answeredAt, sentBytes });
        });
        socket.write(`GET /fn/${fnId}/endless HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n`);
      },
    );
    assert.equal(outcome.head, 'HTTP/1.1 413 Payload Too Large');
    // A second of reading on, then a second's lingering close; 10 s if it were read to its end.
    assert.ok(outcome.closedAfterMs < 5000, `closed ${outcome.closedAfterMs} ms after the answer`);
    assert.ok(outcome.sentBytes < 10 * 1024 * 1024, `${outcome.sentBytes} bytes sent`);
  });

  test('a PUT body declared over the cap gets its 413 and a clean close, not a reset', async () => {
    // The client is still sending when the answer comes. Closed with its bytes unread, the socket
    // sent a reset, which can throw away the 413 before the client reads it (3 in 270 in a review).
    const outcome = await new Promise<{ head: string; events: string[] }>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let head = '';
      const events: string[] = [];
      const chunk = 'x'.repeat(BODY_LIMIT / 4);
      socket.on('data', (c: Buffer) => {
        // Answered while still sending, as a client uploading a large body is.
        if (head === '') for (let i = 0; i < 4; i++) socket.write(chunk);
        head += c.toString('latin1');
      });
      socket.on('end', () => events.push('fin'));
      socket.on('error', (e: NodeJS.ErrnoException) => events.push(e.code ?? 'error'));
      socket.on('close', () => resolve({ head: head.split('\r\n')[0]!, events }));
      setTimeout(() => socket.destroy(), 3000).unref();
      socket.write(
        `PUT /fn/${fnId}/big HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\n` +
          `content-length: ${2 * BODY_LIMIT}\r\n\r\n` +
          chunk,
      );
    });
    assert.deepEqual(outcome, { head: 'HTTP/1.1 413 Payload Too Large', events: ['fin'] });
  });

  test('Expect: 100-continue is answered only once the request would be taken', async () => {
    /** Sends the head, then the body only if a 100 comes; the status lines the client saw. */
    const expecting = (method: string, path: string, body: string, length = body.length) =>
      new Promise<string[]>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let got = '';
        let sentBody = false;
        socket.on('data', (c: Buffer) => {
          got += c.toString('latin1');
          if (!sentBody && got.startsWith('HTTP/1.1 100')) {
            sentBody = true;
            socket.write(body);
          }
          const final = got.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
          const end = final.indexOf('\r\n\r\n');
          if (end < 0) return;
          const len = Number(/content-length: (\d+)/i.exec(final.slice(0, end))?.[1] ?? 0);
          if (final.length >= end + 4 + len) {
            socket.destroy();
            resolve(got.split('\r\n').filter((l) => l.startsWith('HTTP/1.1 ')));
          }
        });
        socket.on('error', reject);
        socket.write(
          `${method} ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
            `content-length: ${length}\r\nexpect: 100-continue\r\n\r\n`,
        );
      });
    const body = JSON.stringify({ name: 'x' });
    // Taken: asked for the body, then answered.
    assert.deepEqual(await expecting('POST', `/fn/${fnId}`, body), [
      'HTTP/1.1 100 Continue',
      'HTTP/1.1 200 OK',
    ]);
    assert.deepEqual(await expecting('POST', '/api/workspaces', body), [
      'HTTP/1.1 100 Continue',
      'HTTP/1.1 201 Created',
    ]);
    // Refused without the body: no such function, a method it does not take, too large.
    assert.deepEqual(await expecting('POST', '/fn/fn-zzzzzzzz', body), ['HTTP/1.1 404 Not Found']);
    assert.deepEqual(await expecting('PUT', `/fn/${fnId}`, body), ['HTTP/1.1 405 Method Not Allowed']);
    assert.deepEqual(await expecting('POST', `/fn/${fnId}`, body, BODY_LIMIT + 1), [
      'HTTP/1.1 413 Payload Too Large',
    ]);
    assert.deepEqual(await expecting('POST', '/api/workspaces', body, BODY_LIMIT + 1), [
      'HTTP/1.1 413 Payload Too Large',
    ]);
  });

  test('Host and a GET body reach the function', async () => {
    const r = await echo('GET', `/fn/${fnId}/x`, { 'content-type': 'text/plain' }, 'a body on a GET');
    assert.equal(r.host, `127.0.0.1:${port}`);
    assert.equal(r.body, 'a body on a GET');
  });

  test('hop-by-hop headers, those Connection names and Proxy-Authorization do not reach the function', async () => {
    const r = await call('GET', `/fn/${fnId}/headers`, {
      connection: 'keep-alive, X-Hop,x-other ',
      'keep-alive': 'timeout=5',
      'x-hop': 'for this connection',
      'x-other': 'also',
      te: 'trailers',
      'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
      'x-end-to-end': 'kept',
    });
    assert.equal(r.status, 200, r.text);
    const names = r.text.split(' ');
    assert.ok(names.includes('x-end-to-end'), r.text);
    for (const gone of ['connection', 'keep-alive', 'x-hop', 'x-other', 'te', 'proxy-authorization']) {
      assert.ok(!names.includes(gone), `${gone} reached the function: ${r.text}`);
    }
  });

  test('header values are UTF-8 both ways', async () => {
    const r = await call('GET', `/fn/${fnId}`, { 'x-u': Buffer.from('café 한', 'utf8').toString('latin1') });
    assert.equal(r.status, 200, r.text);
    assert.equal((JSON.parse(r.text) as Echo).x_u, 'café 한');
    const value = (name: string) =>
      Buffer.from(r.raw[r.raw.findIndex((h) => h.toLowerCase() === name) + 1]!, 'latin1');
    assert.equal(value('x-u').toString('utf8'), 'café');
    assert.equal(value('x-k').toString('utf8'), '한');
  });

  test('an absolute-form request target reaches the function as a path', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () =>
        sock.write(
          `GET http://evil.example/fn/${fnId}/abs?q=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
        ),
      );
      let out = '';
      sock.on('data', (c) => (out += c.toString('utf8')));
      sock.on('end', () => resolve(out));
      sock.on('error', reject);
    });
    const r = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Echo;
    assert.equal(r.uri, `/fn/${fnId}/abs?q=1`);
    assert.equal(r.path_info, '/abs');
    assert.equal(r.full_url, `${p.publicUrl()}/fn/${fnId}/abs?q=1`);
  });

  test('OPTIONS, preflight or not, is the function’s; the platform adds no CORS headers to its answers', async () => {
    const plain = await echo('OPTIONS', `/fn/${fnId}`);
    assert.equal(plain.method, 'OPTIONS');
    const pre = await call('OPTIONS', `/fn/${fnId}`, {
      origin: 'https://console.example',
      'access-control-request-method': 'PUT',
    });
    assert.equal(pre.status, 200);
    assert.equal((JSON.parse(pre.text) as Echo).method, 'OPTIONS');
    const get = await call('GET', `/fn/${fnId}`, { origin: 'https://console.example' });
    for (const r of [pre, get]) {
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      assert.equal(r.headers['access-control-allow-credentials'], undefined);
      assert.equal(r.headers.vary, undefined);
    }
    // The API keeps its CORS, and an OPTIONS that is not a preflight is not a plain-text 400.
    const api = await call('OPTIONS', '/api/workspaces', {
      origin: 'https://console.example',
      'access-control-request-method': 'POST',
    });
    assert.equal(api.status, 204);
    assert.equal(api.headers['access-control-allow-origin'], 'https://console.example');
    assert.notEqual((await call('OPTIONS', '/api/workspaces')).text, 'Invalid Preflight Request');
  });

  test('one header name set in different cases sends each value once; content types go out as the function gave them; a 205 sends no content', async () => {
    const dup = await call('GET', `/fn/${fnId}/dup`);
    const values = dup.raw.filter((_, i) => i % 2 === 1 && dup.raw[i - 1]!.toLowerCase() === 'x-dup');
    assert.deepEqual(values.sort(), ['a', 'b']);
    // No content type from the function: none goes out (Fastify used to add octet-stream).
    assert.ok(!dup.raw.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'content-type'), `${dup.raw}`);
    const odd = await call('GET', `/fn/${fnId}/odd-type`);
    assert.equal(odd.status, 200);
    assert.deepEqual(
      odd.raw.filter((_, i) => i % 2 === 1 && odd.raw[i - 1]!.toLowerCase() === 'content-type'),
      ['html'],
      'a content type Fastify cannot parse goes out unchanged',
    );
    // Each spelling's value once: they were sent 2^n - 1 times, and 18 overflowed the stack (500).
    const cookies = await call('GET', `/fn/${fnId}/cookies`);
    assert.equal(cookies.status, 200, cookies.text);
    assert.equal(cookies.text, 'cookies');
    const sent = cookies.raw.filter(
      (_, i) => i % 2 === 1 && cookies.raw[i - 1]!.toLowerCase() === 'set-cookie',
    );
    assert.deepEqual(sent.sort(), Array.from({ length: 18 }, (_, i) => `c${i}=1`).sort());
    const reset = await call('GET', `/fn/${fnId}/reset`);
    assert.equal(reset.status, 205);
    assert.equal(reset.text, '');
  });

  test("a HEAD answer carries the function's Content-Length; other answers their body's", async () => {
    const head = await call('HEAD', `/fn/${fnId}/sized`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1234', 'it was replaced with 0');
    // Not one plain number: the body's length (none) goes out instead.
    for (const bad of ['12, 34', '-1', '1e3', 'x']) {
      const r = await call('HEAD', `/fn/${fnId}/sized`, { 'x-length': bad });
      assert.equal(r.headers['content-length'], '0', bad);
    }
    const get = await call('GET', `/fn/${fnId}/sized`);
    assert.equal(get.headers['content-length'], '0');
    const fibs = await call('GET', `/fn/${fnId}/fibs`);
    assert.deepEqual([fibs.headers['content-length'], fibs.text], ['3', 'abc']);
  });

  test('a store opened without `with` in every request does not run out', async () => {
    let last = '';
    for (let i = 0; i < 20; i++) {
      const r = await call('GET', `/fn/${fnId}/kv`);
      assert.equal(r.status, 200, `request ${i + 1}: ${r.text}`);
      last = r.text;
    }
    assert.equal(last, '20');
  });

  test("a function's key-value data stops at its quota with Error_Other, and the platform goes on", async () => {
    const r = await call('GET', `/fn/${fnId}/fill`);
    assert.equal(r.status, 200, r.text);
    // 64 KiB holds seven 8 KiB entries (each also counts its label, key and 64 bytes).
    assert.match(r.text, /^7 Error_Other: key-value quota exceeded: /);
    const again = await call('GET', `/fn/${fnId}/kv`);
    assert.equal(again.status, 200, 'small entries that fit still work');
  });

  test('environment variables are Spin variables; SPIN_VARIABLE_ wins', async () => {
    const r = await call('GET', `/fn/${fnId}/vars`);
    assert.deepEqual(JSON.parse(r.text), {
      greeting: 'spin',
      api_url: 'http://x',
      missing: 'Error_Undefined',
    });
  });
});
