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
        // The platform's own answers may not be framed, the stream too (a review found it bare).
        assert.equal(tail.res.headers['x-frame-options'], 'DENY');
        assert.equal(tail.res.headers['content-security-policy'], "frame-ancestors 'none'");
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

  describe('resume after Last-Event-ID', () => {
    const entries = (blocks: string[]) =>
      blocks
        .filter((b) => b.includes('event: log'))
        .map((b) => [/^id: (.*)$/m.exec(b)![1]!, JSON.parse(b.split('data: ')[1]!).id as string] as const);
    const until = async (tail: Tail, n: number): Promise<void> => {
      while (entries(tail.blocks).length < n) await new Promise((r) => tail.res.once('data', r));
    };
    const at = (s: number) => new Date(Date.parse('2026-11-26T12:00:00.000Z') + s * 1000).toISOString();
    /** Appends logs in this order (not their timestamps' order) and waits until they are stored. */
    const write = async (f: FunctionRecord, logs: Array<[string, number]>): Promise<void> => {
      for (const [id, s] of logs) p.writer.append(log(f, { id, timestamp: at(s) }));
      await p.writer.flush();
    };

    test(
      'ids are sequence numbers in write order, and a reconnect gets exactly what it missed, a slow call too',
      { timeout: 20_000 },
      async () => {
        const ws = await newWorkspace('tail-resume');
        const fn = await newFunction(ws, 'resumed');
        const f = { id: fn, workspaceId: ws } as FunctionRecord;
        // Logs are written as calls end: a call that started later can be written first.
        await write(f, [
          ['b', 2],
          ['a', 1],
          ['c', 3],
        ]);
        const first = await openTail(tailUrl(ws, fn));
        await until(first, 3);
        // One more while the tail is open: it comes live, after the backlog.
        await write(f, [['d', 4]]);
        await until(first, 4);
        first.close();
        const seen = entries(first.blocks);
        assert.deepEqual(
          seen.map(([, id]) => id),
          ['b', 'a', 'c', 'd'],
        );
        const seqs = seen.map(([seq]) => Number(seq));
        assert.ok(
          seqs.every((n, i) => Number.isInteger(n) && n > 0 && (i === 0 || n > seqs[i - 1]!)),
          String(seqs),
        );
        // While it was away: a slow call that started before everything above ends, and a quick one.
        await write(f, [
          ['slow', 0],
          ['e', 5],
        ]);
        const again = await openTail(tailUrl(ws, fn), { 'last-event-id': String(seqs.at(-1)) });
        try {
          await until(again, 2);
          await write(f, [['f', 6]]);
          await until(again, 3);
          const resumed = entries(again.blocks);
          assert.deepEqual(
            resumed.map(([, id]) => id),
            ['slow', 'e', 'f'],
          );
          assert.ok(Number(resumed[0]![0]) > seqs.at(-1)!);
          assert.ok(!again.blocks.some((b) => b.startsWith('event: gap')));
          // A resume from the middle: only what came after that entry.
          const middle = await openTail(tailUrl(ws, fn), { 'last-event-id': String(seqs[1]) });
          try {
            await until(middle, 5);
            assert.deepEqual(
              entries(middle.blocks).map(([, id]) => id),
              ['c', 'd', 'slow', 'e', 'f'],
            );
          } finally {
            middle.close();
          }
        } finally {
          again.close();
        }
      },
    );

    test(
      'more missed than `limit`: an event: gap, then the newest of them',
      { timeout: 20_000 },
      async () => {
        const ws = await newWorkspace('tail-gap');
        const fn = await newFunction(ws, 'gappy');
        const f = { id: fn, workspaceId: ws } as FunctionRecord;
        await write(f, [['x', 0]]);
        const first = await openTail(tailUrl(ws, fn));
        await until(first, 1);
        first.close();
        const lastSeen = entries(first.blocks)[0]![0];
        await write(
          f,
          Array.from({ length: 5 }, (_, i) => [`m${i}`, i + 1] as [string, number]),
        );
        const again = await openTail(new URL(`${tailUrl(ws, fn)}&limit=2`), { 'last-event-id': lastSeen });
        try {
          await until(again, 2);
          const gap = again.blocks.findIndex((b) => b.startsWith('event: gap'));
          const firstLog = again.blocks.findIndex((b) => b.includes('event: log'));
          assert.ok(gap !== -1 && gap < firstLog, again.blocks.join(' | '));
          assert.doesNotMatch(again.blocks[gap]!, /^id:/m);
          assert.deepEqual(
            entries(again.blocks).map(([, id]) => id),
            ['m3', 'm4'],
          );
        } finally {
          again.close();
        }
        // Exactly `limit` missed is no gap.
        await write(f, [['n', 9]]);
        const exact = await openTail(new URL(`${tailUrl(ws, fn)}&limit=2`), {
          'last-event-id': entries(again.blocks)[0]![0],
        });
        try {
          await until(exact, 2);
          assert.deepEqual(
            entries(exact.blocks).map(([, id]) => id),
            ['m4', 'n'],
          );
          assert.ok(!exact.blocks.some((b) => b.startsWith('event: gap')));
        } finally {
          exact.close();
        }
      },
    );

    test(
      'a Last-Event-ID that is no sequence number of this store starts the tail afresh',
      { timeout: 20_000 },
      async () => {
        const ws = await newWorkspace('tail-fresh');
        const fn = await newFunction(ws, 'fresh');
        const f = { id: fn, workspaceId: ws } as FunctionRecord;
        await write(f, [
          ['p', 1],
          ['q', 2],
        ]);
        // A log id (what tails sent before ids were numbers), junk, and a number past the store's last.
        for (const id of ['log-1', '12abc', '', '999999999999999']) {
          const tail = await openTail(tailUrl(ws, fn), { 'last-event-id': id });
          try {
            await until(tail, 2);
            assert.deepEqual(
              entries(tail.blocks).map(([, logId]) => logId),
              ['p', 'q'],
              `Last-Event-ID ${JSON.stringify(id)}`,
            );
            assert.ok(!tail.blocks.some((b) => b.startsWith('event: gap')));
          } finally {
            tail.close();
          }
        }
      },
    );
  });

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
