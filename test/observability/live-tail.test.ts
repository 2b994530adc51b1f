// The live tail against a real listening server: headers arrive at once even with no logs, the
// stream ends with `event: deleted` when its function or workspace goes, and HEAD does not stream.
// No assertion depends on how fast the machine is: each waits for an event, under a test timeout.

import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { FunctionRecord } from '../../src/core/types.js';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { log } from '../store/fixtures.js';

interface Tail {
  res: IncomingMessage;
  /** Every SSE block received so far (comments included), in order. */
  blocks: string[];
  /** Resolves with all blocks once the server ends the stream. */
  ended: Promise<string[]>;
  close(): void;
}

function openTail(url: URL, headers: Record<string, string> = {}): Promise<Tail> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const blocks: string[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        const parts = buf.split('\n\n');
        buf = parts.pop() ?? '';
        blocks.push(...parts);
      });
      const ended = new Promise<string[]>((done, fail) => {
        res.on('end', () => done(blocks));
        res.on('error', fail);
      });
      // A client-side close makes 'end' never come; keep that from failing the test as unhandled.
      ended.catch(() => undefined);
      resolve({ res, blocks, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

const firstData = (res: IncomingMessage): Promise<string> =>
  new Promise((resolve) => res.once('data', (chunk: Buffer | string) => resolve(String(chunk))));

describe('live tail', () => {
  let p: TestPlatform;
  let address: string;
  before(async () => {
    p = await startTestPlatform();
    address = await p.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => p.cleanup());

  const newWorkspace = async (name: string): Promise<string> =>
    (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name } })).json().id;
  const newFunction = async (ws: string, name: string): Promise<string> => {
    const res = await p.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name, code: b64('x = 1\n') },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const tailUrl = (ws: string, fn: string) =>
    new URL(`${address}/api/workspaces/${ws}/functions/${fn}/logs?follow=true`);

  // Before the fix nothing was written until the first keep-alive (15 s): the timeout stays below
  // that, and the first bytes must be the opening comment, not a keep-alive.
  test(
    'with no logs yet, the headers and an opening comment arrive at once',
    { timeout: 10_000 },
    async () => {
      const ws = await newWorkspace('tail-open');
      const fn = await newFunction(ws, 'quiet');
      const tail = await openTail(tailUrl(ws, fn));
      try {
        assert.equal(tail.res.statusCode, 200);
        assert.match(String(tail.res.headers['content-type']), /^text\/event-stream/);
        assert.ok(tail.res.headers['x-request-id']);
        const first = tail.blocks[0] ?? (await firstData(tail.res));
        assert.match(first, /^: connected/);
      } finally {
        tail.close();
      }
    },
  );

  test(
    'deleting the function, or its workspace, ends the tail with an event: deleted; others go on',
    // Noticed at the next keep-alive (15 s on the real server); all three tails wait out the same one.
    { timeout: 90_000 },
    async () => {
      const ws = await newWorkspace('tail-delete');
      const fn = await newFunction(ws, 'doomed');
      const kept = await newFunction(ws, 'kept');
      const ws2 = await newWorkspace('tail-delete-ws');
      const fn2 = await newFunction(ws2, 'doomed-too');
      const byFunction = await openTail(tailUrl(ws, fn));
      const byWorkspace = await openTail(tailUrl(ws2, fn2));
      const alive = await openTail(tailUrl(ws, kept));
      try {
        assert.equal(
          (await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws}/functions/${fn}` })).statusCode,
          204,
        );
        assert.equal(
          (await p.app.inject({ method: 'DELETE', url: `/api/workspaces/${ws2}` })).statusCode,
          204,
        );
        for (const [tail, id] of [
          [byFunction, fn],
          [byWorkspace, fn2],
        ] as const) {
          const blocks = await tail.ended;
          const last = blocks.at(-1) ?? '';
          assert.match(last, /^event: deleted\ndata: /, blocks.join(' | '));
          assert.equal(JSON.parse(last.split('data: ')[1]!).functionId, id);
        }
        // The surviving function's tail passes its own check and stays open.
        await new Promise<void>((resolve) => {
          const look = () => {
            if (alive.blocks.some((b) => b.startsWith(': keep-alive'))) resolve();
            else alive.res.once('data', () => setImmediate(look));
          };
          look();
        });
        assert.ok(!alive.blocks.some((b) => b.startsWith('event: deleted')));
        assert.equal(alive.res.complete, false);
      } finally {
        byFunction.close();
        byWorkspace.close();
        alive.close();
      }
    },
  );

  test(
    "each entry's id is its log id, and a reconnect gets the backlog again: nothing is lost",
    { timeout: 20_000 },
    async () => {
      // Resuming after Last-Event-ID was tried and undone: logs reach a tail in the order their
      // calls end, which no stored order follows exactly, so a resume lost slow calls (a review).
      const ws = await newWorkspace('tail-resume');
      const fn = await newFunction(ws, 'resumed');
      const f = { id: fn, workspaceId: ws } as FunctionRecord;
      const start = Date.parse('2026-11-26T12:00:00.000Z');
      for (let i = 0; i < 3; i++) {
        p.writer.append(log(f, { id: `log-${i}`, timestamp: new Date(start + i * 1000).toISOString() }));
      }
      await p.writer.flush();
      const entries = (blocks: string[]) =>
        blocks
          .filter((b) => b.includes('event: log'))
          .map((b) => [/^id: (.*)$/m.exec(b)![1]!, JSON.parse(b.split('data: ')[1]!).id as string]);
      const until = async (tail: Tail, n: number): Promise<void> => {
        while (entries(tail.blocks).length < n) await new Promise((r) => tail.res.once('data', r));
      };
      const first = await openTail(tailUrl(ws, fn));
      await until(first, 3);
      first.close();
      assert.deepEqual(entries(first.blocks), [
        ['log-0', 'log-0'],
        ['log-1', 'log-1'],
        ['log-2', 'log-2'],
      ]);
      const again = await openTail(tailUrl(ws, fn), { 'last-event-id': 'log-1' });
      try {
        await until(again, 3);
        assert.deepEqual(
          entries(again.blocks).map(([id]) => id),
          ['log-0', 'log-1', 'log-2'],
        );
      } finally {
        again.close();
      }
    },
  );

  test('HEAD with follow=true answers the stream headers and ends', { timeout: 10_000 }, async () => {
    const ws = await newWorkspace('tail-head');
    const fn = await newFunction(ws, 'head');
    const url = `/api/workspaces/${ws}/functions/${fn}/logs?follow=true`;
    const res = await p.app.inject({ method: 'HEAD', url });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    assert.equal(res.body, '');
    // And over a real socket, where a hijacked stream would hold the request open.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL(`${address}${url}`), { method: 'HEAD' }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    const missing = await p.app.inject({
      method: 'HEAD',
      url: `/api/workspaces/${ws}/functions/fn-nothere0/logs?follow=true`,
    });
    assert.equal(missing.statusCode, 404);
  });
});
