// Live tails cannot be turned against the server: a workspace has a bounded number open, and a
// client that stops reading is cut off instead of having every log it missed kept in memory (a
// dozen such tails on a chatty function ran the server out of heap within a minute).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, get, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { EunhaError } from '../../src/core/errors.js';
import type { ExecutionLog } from '../../src/core/types.js';
import { LiveTails } from '../../src/observability/live-tail.js';
import { ExecutionLogWriter } from '../../src/observability/log-writer.js';
import { TailIdKey } from '../../src/observability/tail-ids.js';

const chatty = (i: number): ExecutionLog => ({
  id: `log-${i}`,
  functionId: 'fn-chatty',
  workspaceId: 'ws-a',
  timestamp: new Date(Date.UTC(2026, 10, 26, 12, 0, 0, i)).toISOString(),
  status: 'success',
  duration: 1,
  statusCode: 200,
  requestBody: null,
  responseBody: null,
  logs: Array.from({ length: 1000 }, (_, n) => `line ${n} ${'x'.repeat(90)}`),
  level: 'info',
  coldStart: false,
  deploymentVersion: 1,
  cpuMs: 0,
});

describe('live tail limits', () => {
  // A store that keeps nothing but numbers what it is given, as a store does.
  let seq = 0;
  const writer = new ExecutionLogWriter(
    { appendLogs: async (logs) => logs.map((log) => ({ seq: ++seq, log })) },
    { flushIntervalMs: 1 },
  );
  const tails = new LiveTails(writer, new TailIdKey(randomBytes(32)), 15_000, 1_000, {
    perWorkspace: 3,
    maxUnreadBytes: 256 * 1024,
  });
  const servers: Server[] = [];
  after(async () => {
    tails.closeAll();
    for (const s of servers) s.close();
    await writer.close();
  });

  test('a workspace has at most its number of tails open; closing one frees its place', () => {
    const open = [1, 2, 3].map(() => tails.listen('ws-b', 'fn-b'));
    assert.throws(
      () => tails.listen('ws-b', 'fn-other'),
      (e: unknown) => e instanceof EunhaError && e.code === 'RATE_LIMITED' && e.details.limit === 3,
    );
    // Another workspace is not affected.
    tails.listen('ws-c', 'fn-c').close();
    open[0]!.close();
    open[0]!.close(); // twice counts once
    const again = tails.listen('ws-b', 'fn-b');
    assert.throws(() => tails.listen('ws-b', 'fn-b'), EunhaError);
    for (const l of [again, ...open.slice(1)]) l.close();
  });

  test('a reading client gets a backlog larger than the allowance, whole', { timeout: 30_000 }, async () => {
    const backlog = Array.from({ length: 10 }, (_, i) => chatty(10_000 + i)); // ~1 MB, 4× the allowance
    const server = createServer((_req, res) => {
      const page = {
        logs: backlog.map((log, i) => ({ seq: i + 1, log })),
        more: false,
        last: backlog.length,
      };
      void tails.stream(res, tails.listen('ws-d', 'fn-chatty'), page, false);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const got = await new Promise<number>((resolve, reject) => {
      get(`http://127.0.0.1:${port}/`, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          const n = text.split('event: log\n').length - 1;
          if (n === backlog.length) {
            res.destroy();
            resolve(n);
          }
        });
        res.on('close', () => resolve(text.split('event: log\n').length - 1));
      }).on('error', reject);
    });
    assert.equal(got, backlog.length);
  });

  test('a client that stops reading is cut off, and its place is freed', { timeout: 30_000 }, async () => {
    let ended!: () => void;
    const streamEnded = new Promise<void>((r) => (ended = r));
    const server = createServer((_req, res) => {
      void tails
        .stream(res, tails.listen('ws-a', 'fn-chatty'), { logs: [], more: false, last: 0 }, false)
        .then(ended);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', r));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads: what is sent piles up in the kernel, then in the server
    await new Promise((r) => setTimeout(r, 100));
    // ~100 KB a log: far more than the kernel's buffers and the 256 KiB allowance together.
    let sent = 0;
    let over = false;
    const cutOff = await Promise.race([
      streamEnded.then(() => (over = true)),
      (async () => {
        for (; sent < 2000 && !over; sent++) {
          writer.append(chatty(sent));
          if (sent % 20 === 0) await new Promise((r) => setTimeout(r, 5));
        }
        if (!over) await new Promise((r) => setTimeout(r, 2000));
        return over;
      })(),
    ]);
    socket.destroy();
    assert.ok(cutOff, `the tail was still open after ${sent} logs (~${Math.round(sent / 10)} MB)`);
    // Its place is free again: three more may open.
    for (const l of [1, 2, 3].map(() => tails.listen('ws-a', 'fn-x'))) l.close();
  });
});
