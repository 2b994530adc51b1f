// Outbound HTTP for functions: the parent's client (runtime/outbound-http.ts) against a local
// server, and `spin_sdk.http.send` from real sandboxes. What is attacked: hosts a function does
// not list, private and reserved addresses however they are spelled or resolved, redirects,
// header smuggling, sizes and time. The local server counts what reaches it: a refused call must
// not reach it at all.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseOutboundHosts, type OutboundOptions } from '../../src/core/outbound-hosts.js';
import { Runtime } from '../../src/runtime/index.js';
import { OutboundHttp } from '../../src/runtime/outbound-http.js';
import type { Header } from '../../src/runtime/protocol.js';
import { CACHE_DIR, MemoryKv, handler, post, text, version } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let port = 0;
const seen: Seen[] = [];
const OPTS: OutboundOptions = {
  enabled: true,
  allowedNetworks: ['127.0.0.1/32'],
  timeoutMs: 1_500,
  maxResponseBytes: 64 * 1024,
};

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        return res.end();
      }
      if (req.url === '/big') return res.end('x'.repeat(100 * 1024));
      if (req.url === '/slow') return; // never answers
      res.writeHead(201, { 'content-type': 'text/plain', 'x-from': 'server', 'set-cookie': ['a=1', 'b=2'] });
      res.end(`got ${req.method} ${req.url} ${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const hits = () => seen.length;

describe("the parent's outbound client", () => {
  const client = new OutboundHttp(OPTS);
  after(() => client.close());
  const call = async (
    allowed: string[],
    header: Partial<Header>,
    body = '',
    c: OutboundHttp = client,
  ): Promise<{ header: Header; body: string }> => {
    const r = await c.handlerFor(parseOutboundHosts(allowed), 2_000)(
      { t: 'http', method: 'GET', headers: {}, ...header } as Header,
      new TextEncoder().encode(body),
    );
    return { header: r.header, body: r.body ? Buffer.from(r.body).toString('latin1') : '' };
  };
  const local = () => `http://127.0.0.1:${port}`;

  test('a listed host is called with the method, headers and body; the answer comes back whole', async () => {
    const r = await call(
      [local()],
      {
        method: 'post',
        uri: `${local()}/echo?q=1`,
        headers: { 'x-a': '1', host: 'evil.example', connection: 'upgrade', 'content-length': '999' },
      },
      'hello',
    );
    assert.equal(r.header.ok, true, JSON.stringify(r.header));
    assert.equal(r.header.status, 201);
    assert.equal(r.body, 'got POST /echo?q=1 hello');
    const h = r.header.headers as Record<string, string>;
    assert.equal(h['x-from'], 'server');
    assert.equal(h['set-cookie'], 'a=1, b=2');
    const s = seen.at(-1)!;
    assert.equal(s.headers['x-a'], '1');
    // The host, framing and hop-by-hop headers are the connection's, not the guest's.
    assert.equal(s.headers.host, `127.0.0.1:${port}`);
    assert.equal(s.headers['content-length'], '5');
    assert.notEqual(s.headers.connection, 'upgrade');
  });

  test('a host, scheme or port the function does not list is refused before any connection', async () => {
    const before = hits();
    for (const uri of [
      `http://127.0.0.1:${port + 1}/`,
      `https://127.0.0.1:${port}/`,
      `http://localhost:${port}/`,
    ]) {
      const r = await call([local()], { uri });
      assert.equal(r.header.error, 'not-allowed', `${uri}: ${JSON.stringify(r.header)}`);
      assert.match(String(r.header.message), /allowedOutboundHosts/);
    }
    assert.equal((await call([], { uri: `${local()}/` })).header.error, 'not-allowed');
    assert.equal(hits(), before);
  });

  test('private and reserved addresses are refused however they are written, even when listed', async () => {
    const strict = new OutboundHttp({ ...OPTS, allowedNetworks: [] });
    try {
      const before = hits();
      for (const uri of [
        `http://127.0.0.1:${port}/`,
        `http://2130706433:${port}/`, // 127.0.0.1 as one number
        `http://0x7f.0.0.1:${port}/`,
        `http://127.1:${port}/`,
        `http://[::ffff:127.0.0.1]:${port}/`,
        `http://[::1]:${port}/`,
        `http://0.0.0.0:${port}/`,
        'http://169.254.169.254/latest/meta-data/',
        'http://10.0.0.1/',
        'http://172.16.5.4/',
        'http://192.168.1.1/',
        'http://100.64.0.1/',
        'http://[fd00::1]/',
        'http://[fe80::1]/',
        'http://224.0.0.1/',
      ]) {
        const r = await call(['*://*:*'], { uri }, '', strict);
        assert.equal(r.header.error, 'address-not-allowed', `${uri}: ${JSON.stringify(r.header)}`);
      }
      // A name is checked on what it resolves to, by the connection itself.
      const named = await call(['*://*:*'], { uri: `http://localhost:${port}/` }, '', strict);
      assert.equal(named.header.error, 'address-not-allowed', JSON.stringify(named.header));
      assert.match(String(named.header.message), /localhost resolves to/);
      assert.equal(hits(), before, 'a refused call reached the server');
      // The operator's exemption is per network: 127.0.0.1/32 does not open 127.0.0.2.
      assert.equal(
        (await call(['*://*:*'], { uri: `http://127.0.0.2:${port}/` })).header.error,
        'address-not-allowed',
      );
      assert.equal((await call(['*://*:*'], { uri: `http://localhost:${port}/x` })).header.ok, true);
    } finally {
      await strict.close();
    }
  });

  test('redirects are not followed: the guest gets the 3xx and its Location', async () => {
    const r = await call([local()], { uri: `${local()}/redirect` });
    assert.equal(r.header.status, 302);
    assert.equal(
      (r.header.headers as Record<string, string>).location,
      'http://169.254.169.254/latest/meta-data/',
    );
  });

  test('size, time and shape limits', async () => {
    const big = await call([local()], { uri: `${local()}/big` });
    assert.equal(big.header.error, 'too-large', JSON.stringify(big.header));
    const started = Date.now();
    const slow = await call([local()], { uri: `${local()}/slow` });
    assert.equal(slow.header.error, 'timeout', JSON.stringify(slow.header));
    assert.ok(Date.now() - started < 5_000);
    const before = hits();
    for (const [header, why] of [
      [{ method: 'CONNECT', uri: `${local()}/` }, /CONNECT/],
      [{ method: 'GET /x HTTP/1.1', uri: `${local()}/` }, /method/],
      [{ uri: 'ftp://127.0.0.1/' }, /only http and https/],
      [{ uri: `http://u:p@127.0.0.1:${port}/` }, /credentials/],
      [{ uri: 'not a url' }, /absolute URL/],
      [{ uri: `${local()}/`, headers: { 'x-a': 'v\r\nx-injected: 1' } }, /line break/],
      [{ uri: `${local()}/`, headers: { 'bad name': 'v' } }, /header name/],
      [{ uri: `${local()}/`, headers: ['x'] }, /map/],
    ] as Array<[Partial<Header>, RegExp]>) {
      const r = await call([local()], header);
      assert.equal(r.header.error, 'bad-request', JSON.stringify(header));
      assert.match(String(r.header.message), why);
    }
    assert.equal(hits(), before);
    const off = new OutboundHttp({ ...OPTS, enabled: false });
    assert.equal((await call([local()], { uri: `${local()}/` }, '', off)).header.error, 'disabled');
    await off.close();
  });
});

describe('spin_sdk.http.send from a sandbox', () => {
  const kv = new MemoryKv();
  const outbound = new OutboundHttp(OPTS);
  const rt = new Runtime({ kv, cacheDir: CACHE_DIR, poolSize: 1, outbound });
  before(() => rt.start());
  after(async () => {
    await rt.close();
    await outbound.close();
  });

  // The function sends what the test posts to it, and answers what came back, or the error.
  const relay = handler(
    `
p = json.loads(request.body)
body = p.get("body")
try:
    r = send(Request(p["method"], p["uri"], p.get("headers", {}), body.encode() if body is not None else None))
except Err as e:
    return Response(502, {"content-type": "text/plain"}, str(e.value).encode())
return Response(200, {"content-type": "application/json"}, json.dumps({"status": r.status, "headers": r.headers, "body": r.body.decode("latin-1")}).encode())
`,
    'import json\nfrom spin_sdk.http import send\nfrom spin_sdk.wit.types import Err',
  );

  test('a listed host answers; one not listed, or a private address, is an Err the function can catch', async () => {
    const v = version(relay, {
      outboundHosts: parseOutboundHosts([`http://127.0.0.1:${port}`, 'http://10.1.2.3']),
    });
    await rt.load(v);
    try {
      const ask = async (p: object) => {
        const r = await rt.invoke(v.key, post('/', JSON.stringify(p)));
        return { status: r.status, text: text(r.body), error: r.error };
      };
      const ok = await ask({
        method: 'PUT',
        uri: `http://127.0.0.1:${port}/from-guest`,
        headers: { 'x-b': '2' },
        body: 'payload',
      });
      assert.equal(ok.status, 200, JSON.stringify(ok));
      const answer = JSON.parse(ok.text);
      assert.equal(answer.status, 201);
      assert.equal(answer.body, 'got PUT /from-guest payload');
      assert.equal(answer.headers['x-from'], 'server');
      assert.equal(seen.at(-1)!.headers['x-b'], '2');

      const before = hits();
      const other = await ask({ method: 'GET', uri: `http://127.0.0.1:${port + 1}/` });
      assert.equal(other.status, 502);
      assert.match(other.text, /^not-allowed: /);
      const priv = await ask({ method: 'GET', uri: 'http://10.1.2.3/' });
      assert.equal(priv.status, 502);
      assert.match(priv.text, /^address-not-allowed: /);
      assert.equal(hits(), before);
      const redirect = await ask({ method: 'GET', uri: `http://127.0.0.1:${port}/redirect` });
      assert.equal(JSON.parse(redirect.text).status, 302);
    } finally {
      await rt.unload(v.key);
    }
  });

  test('a function with no list reaches nothing; a call that hangs ends with the function', async () => {
    const none = version(relay);
    await rt.load(none);
    const before = hits();
    const r = await rt.invoke(
      none.key,
      post('/', JSON.stringify({ method: 'GET', uri: `http://127.0.0.1:${port}/` })),
    );
    assert.equal(r.status, 502);
    assert.match(text(r.body), /^not-allowed/);
    assert.equal(hits(), before);
    await rt.unload(none.key);
    // The call's own limit is the function's timeout when that is shorter.
    const short = version(relay, {
      outboundHosts: parseOutboundHosts([`http://127.0.0.1:${port}`]),
      timeoutMs: 800,
    });
    await rt.load(short);
    try {
      const started = Date.now();
      const slow = await rt.invoke(
        short.key,
        post('/', JSON.stringify({ method: 'GET', uri: `http://127.0.0.1:${port}/slow` })),
      );
      assert.ok(Date.now() - started < 3_000, `${Date.now() - started} ms`);
      assert.ok(slow.status >= 500 || slow.error, JSON.stringify({ status: slow.status, error: slow.error }));
    } finally {
      await rt.unload(short.key);
    }
  });
});
