// The /fn request-body budget over real sockets: uploads that stall one byte short of their end
// hold what they sent until they go, and a request head alone holds nothing; past an address's
// share (a quarter) or the whole budget a body is refused as its bytes arrive, and its connection
// closed; other addresses' calls and calls without a body still run; aborted uploads give every
// byte back.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BodyBudget, shareKey } from '../../src/gateway/body-budget.js';
import { b64, deployedFunction, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const LENGTH = `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {"content-type": "text/plain"}, str(len(request.body or b"")).encode())
`;

const CAP = 256 * 1024;
/** Eight bodies at the cap; an address's share (a quarter) holds two. */
const BUDGET = 8 * CAP;

/** A socket from `from` (any 127.x address reaches a server on 127.0.0.1) and what it got back. */
interface Peer {
  socket: net.Socket;
  answer: () => string;
  closed: Promise<void>;
}

describe('the /fn body budget', () => {
  let p: TestPlatform;
  let port = 0;
  let fnId = '';
  const peers: Peer[] = [];

  before(async () => {
    p = await startTestPlatform({
      EUNHA_WARM_POOL_SIZE: '1',
      EUNHA_BODY_LIMIT_BYTES: String(CAP),
      EUNHA_FN_BODY_BUDGET_BYTES: String(BUDGET),
    });
    const address = await p.app.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(address).port);
    fnId = (await deployedFunction(p, { code: b64(LENGTH), httpMethods: ['GET', 'POST'] })).fn;
  });
  after(async () => {
    for (const peer of peers) peer.socket.destroy();
    await p.cleanup();
  });

  const held = async (): Promise<number> => {
    const text = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
    const line = text.split('\n').find((l) => l.startsWith('eunha_fn_request_body_bytes '));
    assert.ok(line, 'the gauge is exported');
    return Number(line.split(' ')[1]);
  };
  const heldReaches = async (bytes: number): Promise<void> => {
    for (let i = 0; i < 200 && (await held()) !== bytes; i++) await sleep(25);
    assert.equal(await held(), bytes);
  };

  /** Sends a request head and `bodyBytes` of its body, then stalls. */
  const stalled = async (from: string, head: string, bodyBytes: number): Promise<Peer> => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(head);
    if (bodyBytes > 0) socket.write(Buffer.alloc(bodyBytes, 0x61));
    const peer = { socket, answer: () => answer, closed };
    peers.push(peer);
    return peer;
  };
  const upload = (from: string, method = 'POST'): Promise<Peer> =>
    stalled(from, `${method} /fn/${fnId} HTTP/1.1\r\nHost: x\r\nContent-Length: ${CAP}\r\n\r\n`, CAP - 1);
  /** A head and the first `bytes` of its body. */
  const started = (from: string, bytes: number): Promise<Peer> =>
    stalled(from, `POST /fn/${fnId} HTTP/1.1\r\nHost: x\r\nContent-Length: ${CAP}\r\n\r\n`, bytes);
  const HELD = CAP - 1;

  const refused = async (peer: Peer, status: number, code: string): Promise<void> => {
    await peer.closed;
    const text = peer.answer();
    assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), text);
    assert.match(text, /\r\nretry-after: 1\r\n/i);
    assert.match(text, new RegExp(`"code":"${code}"`));
  };

  const call = (
    from: string,
    method: string,
    body?: Buffer,
    chunked = false,
  ): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> =
        body === undefined
          ? {}
          : chunked
            ? { 'transfer-encoding': 'chunked' }
            : { 'content-length': String(body.length) };
      const req = http.request(
        { host: '127.0.0.1', port, localAddress: from, method, path: `/fn/${fnId}`, headers, agent: false },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  test('stalled uploads past a share or the budget are refused unread; others still get through', async () => {
    // A request head alone holds nothing: declared lengths are not reserved (a review's ~43 heads
    // held the whole budget).
    const heads = await Promise.all(Array.from({ length: 12 }, () => started('127.0.0.7', 0)));
    await sleep(200);
    assert.equal(await held(), 0);
    for (const peer of heads) peer.socket.destroy();
    // One address: two bodies at the cap fit in its share; bytes past it are refused as they come.
    await upload('127.0.0.2');
    await heldReaches(HELD);
    await upload('127.0.0.2');
    await heldReaches(2 * HELD);
    const mine = await Promise.all(Array.from({ length: 3 }, () => started('127.0.0.2', 16)));
    for (const peer of mine) await refused(peer, 429, 'RATE_LIMITED');
    assert.equal(await held(), 2 * HELD);

    // Another address is not kept out by the first one's uploads.
    const other = await call('127.0.0.1', 'POST', Buffer.alloc(1000, 0x62));
    assert.deepEqual(other, { status: 200, text: '1000' });

    // Three more addresses fill the budget; then anyone's body is refused, chunked ones too, and
    // a GET's, which the ingress reads itself.
    for (const from of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) {
      await upload(from);
      await upload(from, 'GET');
    }
    await heldReaches(8 * HELD);
    await refused(await started('127.0.0.6', 16), 503, 'SERVER_BUSY');
    const sixteen = 'x'.repeat(16);
    const chunked = await stalled(
      '127.0.0.6',
      `POST /fn/${fnId} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n${sixteen}\r\n`,
      0,
    );
    await refused(chunked, 503, 'SERVER_BUSY');
    const chunkedGet = await stalled(
      '127.0.0.6',
      `GET /fn/${fnId} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n${sixteen}\r\n`,
      0,
    );
    await refused(chunkedGet, 503, 'SERVER_BUSY');
    assert.equal(await held(), 8 * HELD);
    // A call without a body holds nothing and still runs.
    assert.deepEqual(await call('127.0.0.6', 'GET'), { status: 200, text: '0' });

    // The stalled senders give up: every byte comes back, and a body at the cap is taken again.
    for (const peer of peers) peer.socket.destroy();
    await heldReaches(0);
    assert.deepEqual(await call('127.0.0.2', 'POST', Buffer.alloc(CAP, 0x63)), {
      status: 200,
      text: String(CAP),
    });
    // Chunked bodies are counted as they arrive and given back once answered.
    assert.deepEqual(await call('127.0.0.2', 'POST', Buffer.alloc(CAP - 10, 0x64), true), {
      status: 200,
      text: String(CAP - 10),
    });
    assert.deepEqual(await call('127.0.0.2', 'GET', Buffer.alloc(5000, 0x65), true), {
      status: 200,
      text: '5000',
    });
    await heldReaches(0);
  });
});

describe('BodyBudget on its own', () => {
  test('an IPv6 client shares by its /64; IPv4 and mapped IPv4 by address', () => {
    assert.equal(shareKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(shareKey('2001:DB8:1:2::9'), '2001:db8:1:2::/64');
    assert.equal(shareKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(shareKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(shareKey('::1'), '0:0:0:0::/64');
    assert.equal(shareKey('203.0.113.7'), '203.0.113.7');
    assert.equal(shareKey('::ffff:203.0.113.7'), '::ffff:203.0.113.7');
  });

  test('a share, the total, chunked growth and releases that count once', () => {
    const b = new BodyBudget(100, 40);
    const a1 = b.take('a', 30);
    assert.throws(() => b.take('a', 11), { code: 'RATE_LIMITED' });
    const c1 = b.take('c', 40);
    const d1 = b.take('d', 0);
    d1.grow(30);
    assert.throws(() => d1.grow(1), { code: 'SERVER_BUSY' });
    assert.equal(b.heldBytes(), 100);
    a1.release();
    a1.release();
    c1.release();
    d1.release();
    d1.grow(5);
    assert.equal(b.heldBytes(), 0);
  });
});
