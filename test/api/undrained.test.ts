// Answers that clients do not read are bounded: past the byte budget the oldest are cut off, and
// none is held past the deadline. Before, each unread answer stayed in memory until the
// connection's 16-minute timeout (300 of them asking for 6 MiB held 1.2 GB).

import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { UndrainedResponses } from '../../src/api/undrained.js';

const MB = 1024 * 1024;

describe('unread answers', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  after(() => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
  });

  /** A server answering `size` bytes to every request, watched by `unread`; each answer's close is reported. */
  async function serve(unread: UndrainedResponses, size: number) {
    const closed: number[] = [];
    let n = 0;
    const server = createServer((_req, res: ServerResponse) => {
      const id = n++;
      unread.watch(res);
      res.on('close', () => closed.push(id));
      res.end(Buffer.alloc(size, 1));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    /** A client that asks and never reads. */
    const stall = async () => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      await new Promise<void>((r) => s.once('connect', r));
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      s.pause();
    };
    return { closed, stall };
  }

  const until = async (what: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return what();
  };

  test(
    'over the budget, answers stalled for a second are cut off, oldest first',
    { timeout: 30_000 },
    async () => {
      const unread = new UndrainedResponses({ budgetBytes: 40 * MB, deadlineMs: 60_000, stalledMs: 2000 });
      // 32 MiB answers: far more than the kernel buffers on both ends take.
      const { closed, stall } = await serve(unread, 32 * MB);
      await stall();
      await stall();
      assert.ok(await until(() => unread.stats().heldBytes > 40 * MB, 5000), 'both held');
      assert.deepEqual(
        closed,
        [],
        'over the budget, but nobody has stalled long enough yet (2 s here, so a loaded machine does not count)',
      );
      await new Promise((r) => setTimeout(r, 2200));
      await stall();
      assert.ok(await until(() => closed.length >= 2, 5000), `closed: ${closed}`);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual([...closed].sort(), [0, 1], 'the two stalled ones; the new one stays');
      const { heldBytes, cut } = unread.stats();
      assert.ok(heldBytes > 0 && heldBytes <= 40 * MB, `held ${heldBytes}`);
      assert.equal(cut, 2);
    },
  );

  test('an answer left unread past the deadline is cut off', { timeout: 30_000 }, async () => {
    const unread = new UndrainedResponses({ budgetBytes: 1024 * MB, deadlineMs: 300 });
    const { closed, stall } = await serve(unread, 32 * MB);
    const started = Date.now();
    await stall();
    assert.ok(await until(() => closed.length === 1, 5000), 'still open after 5 s');
    assert.ok(Date.now() - started >= 250, 'not before the deadline');
    assert.deepEqual(unread.stats(), { heldBytes: 0, cut: 1 });
  });

  test('a slow reader that keeps reading outlives the deadline', { timeout: 30_000 }, async () => {
    const unread = new UndrainedResponses({ budgetBytes: 1024 * MB, deadlineMs: 1000 });
    const { closed } = await serve(unread, 64 * MB);
    const { port } = servers.at(-1)!.address() as AddressInfo;
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    await new Promise<void>((r) => s.once('connect', r));
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // A few MB/s: 64 MiB take longer than the test, and far longer than the 1-s deadline.
    s.on('data', () => {
      s.pause();
      setTimeout(() => s.resume(), 10);
    });
    await new Promise((r) => setTimeout(r, 4000));
    assert.deepEqual(closed, [], 'cut off although it was reading');
    assert.equal(unread.stats().cut, 0);
    s.destroy();
  });

  test('answers that are read are never cut off, even over the budget', { timeout: 30_000 }, async () => {
    const unread = new UndrainedResponses({ budgetBytes: 1 * MB, deadlineMs: 60_000 });
    const { closed } = await serve(unread, 8 * MB);
    const server = servers.at(-1)!;
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal((await res.arrayBuffer()).byteLength, 8 * MB);
    }
    assert.equal(unread.stats().cut, 0);
    // The server hears its last write done a moment after the client has read it all.
    assert.ok(await until(() => unread.stats().heldBytes === 0, 5000), `held ${unread.stats().heldBytes}`);
    assert.ok(closed.length <= 3);
  });
});
