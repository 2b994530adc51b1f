// The live tail against a real listening server: headers arrive at once even with no logs, the
// stream ends with `event: deleted` when its function or workspace goes, HEAD does not stream, and
// event ids resume exactly while saying nothing of other tenants' logs (nor working elsewhere).
// No assertion depends on how fast the machine is: each waits for an event, under a test timeout.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FunctionRecord } from '../../src/core/types.js';
import { TailIdKey } from '../../src/observability/tail-ids.js';
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

  const newWorkspace = async (name: string, on: TestPlatform = p): Promise<string> =>
    (await on.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name } })).json().id;
  const newFunction = async (ws: string, name: string, on: TestPlatform = p): Promise<string> => {
    const res = await on.app.inject({
      method: 'POST',
      url: `/api/workspaces/${ws}/functions`,
      payload: { name, code: b64('x = 1\n') },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const tailUrl = (ws: string, fn: string, base = address) =>
    new URL(`${base}/api/workspaces/${ws}/functions/${fn}/logs?follow=true`);

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
    const write = async (f: FunctionRecord, logs: Array<[string, number]>, on = p): Promise<void> => {
      for (const [id, s] of logs) on.writer.append(log(f, { id, timestamp: at(s) }));
      await on.writer.flush();
    };
    /** An id as the server spells it: 16 bytes, base64url, nothing else. */
    const OPAQUE = /^[A-Za-z0-9_-]{22}$/;
    /** The platform's key for event ids; without EUNHA_SECRETS_KEY it comes from the data dir. */
    const keyOf = (on: TestPlatform) =>
      new TailIdKey(Buffer.from(readFileSync(join(on.dataDir, 'secrets.key'), 'utf8').trim(), 'base64'));
    /** The log ids of a tail opened with `lastEventId`, once it has sent `n`; and whether a gap came. */
    const resumedWith = async (url: URL, lastEventId: string, n: number) => {
      const tail = await openTail(url, { 'last-event-id': lastEventId });
      try {
        await until(tail, n);
        return {
          logs: entries(tail.blocks).map(([, id]) => id),
          gap: tail.blocks.some((b) => b.startsWith('event: gap')),
        };
      } finally {
        tail.close();
      }
    };

    test(
      'ids are opaque, stand for the write order, and a reconnect gets exactly what it missed, a slow call too',
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
        assert.ok(
          seen.every(([id]) => OPAQUE.test(id)),
          String(seen),
        );
        // Behind them, the store's numbers in write order (read back with the server's key).
        const ids = keyOf(p).forFunction(ws, fn);
        const seqs = seen.map(([id]) => ids.seqOf(id)!);
        assert.ok(
          seqs.every((n, i) => Number.isInteger(n) && n > 0 && (i === 0 || n > seqs[i - 1]!)),
          String(seqs),
        );
        // While it was away: a slow call that started before everything above ends, and a quick one.
        await write(f, [
          ['slow', 0],
          ['e', 5],
        ]);
        const again = await openTail(tailUrl(ws, fn), { 'last-event-id': seen.at(-1)![0] });
        try {
          await until(again, 2);
          await write(f, [['f', 6]]);
          await until(again, 3);
          const resumed = entries(again.blocks);
          assert.deepEqual(
            resumed.map(([, id]) => id),
            ['slow', 'e', 'f'],
          );
          assert.ok(ids.seqOf(resumed[0]![0])! > seqs.at(-1)!);
          assert.ok(!again.blocks.some((b) => b.startsWith('event: gap')));
          // A resume from the middle: only what came after that entry.
          const middle = await openTail(tailUrl(ws, fn), { 'last-event-id': seen[1]![0] });
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
      'a Last-Event-ID that is no id this tail sent starts the tail afresh',
      { timeout: 20_000 },
      async () => {
        const ws = await newWorkspace('tail-fresh');
        const fn = await newFunction(ws, 'fresh');
        const f = { id: fn, workspaceId: ws } as FunctionRecord;
        await write(f, [
          ['p', 1],
          ['q', 2],
        ]);
        const ids = keyOf(p).forFunction(ws, fn);
        const stored = await p.meta.tailFunctionLogs(fn, 0, 10);
        const seqOfP = stored.logs.find((e) => e.log.id === 'p')!.seq;
        for (const id of [
          // A log id (what tails sent before ids were numbers), junk, and bare sequence numbers
          // (what they sent before ids were opaque): p's own resumed after p.
          'log-1',
          '12abc',
          '',
          String(seqOfP),
          '999999999999999',
          // Under this server's key but past the store's last number (a restored backup).
          ids.id(999_999_999_999),
          // One made under another key.
          new TailIdKey(Buffer.alloc(32, 1)).forFunction(ws, fn).id(1),
        ]) {
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

    test(
      "ids say nothing of other workspaces' logs, and resume after a restart on the same data dir",
      { timeout: 60_000 },
      async () => {
        // A platform of its own, to restart; its secrets key is generated into the data dir.
        const dir = mkdtempSync(join(tmpdir(), 'eunha-tail-restart-'));
        let q: TestPlatform | undefined = await startTestPlatform({}, dir);
        try {
          let base = await q.app.listen({ host: '127.0.0.1', port: 0 });
          const ws = await newWorkspace('tail-mine', q);
          const fn = await newFunction(ws, 'watched', q);
          const other = await newWorkspace('tail-theirs', q);
          const theirs = { id: await newFunction(other, 'busy', q), workspaceId: other } as FunctionRecord;
          const f = { id: fn, workspaceId: ws } as FunctionRecord;
          // Another tenant writes 40 logs between two of this function's: bare sequence numbers
          // would differ by 41, and said so.
          await write(f, [['a1', 1]], q);
          await write(
            theirs,
            Array.from({ length: 40 }, (_, i) => [`t${i}`, i] as [string, number]),
            q,
          );
          await write(f, [['a2', 2]], q);
          const first = await openTail(tailUrl(ws, fn, base));
          await until(first, 2);
          first.close();
          const seen = entries(first.blocks);
          assert.deepEqual(
            seen.map(([, id]) => id),
            ['a1', 'a2'],
          );
          for (const [id] of seen) {
            assert.match(id, OPAQUE);
            assert.ok(Number.isNaN(Number(id)), id);
          }
          assert.notEqual(seen[0]![0], seen[1]![0]);

          await write(f, [['a3', 3]], q);
          await q.cleanup(); // keeps the data dir: it was given
          q = undefined;
          q = await startTestPlatform({}, dir);
          base = await q.app.listen({ host: '127.0.0.1', port: 0 });
          await write(f, [['a4', 4]], q);
          // The id a2 had before the restart still resumes right after it.
          assert.deepEqual(await resumedWith(tailUrl(ws, fn, base), seen[1]![0], 2), {
            logs: ['a3', 'a4'],
            gap: false,
          });
        } finally {
          await q?.cleanup();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );

    test(
      "an id from another function's tail, or an altered one, starts the tail afresh",
      { timeout: 20_000 },
      async () => {
        const ws = await newWorkspace('tail-target');
        const fn = await newFunction(ws, 'target');
        const otherWs = await newWorkspace('tail-foreign');
        const otherFn = await newFunction(otherWs, 'foreign');
        const sameWsFn = await newFunction(ws, 'neighbour');
        const f = { id: fn, workspaceId: ws } as FunctionRecord;
        // The others' logs are stored between this function's two: an id of theirs that resumed
        // here would skip y1.
        await write(f, [['y1', 1]]);
        await write({ id: otherFn, workspaceId: otherWs } as FunctionRecord, [['x1', 2]]);
        await write({ id: sameWsFn, workspaceId: ws } as FunctionRecord, [['z1', 3]]);
        await write(f, [['y2', 4]]);
        const idOf = async (w: string, fnId: string, logId: string): Promise<string> => {
          const tail = await openTail(tailUrl(w, fnId));
          try {
            await until(tail, 1);
            return entries(tail.blocks).find(([, id]) => id === logId)![0];
          } finally {
            tail.close();
          }
        };
        const afresh = { logs: ['y1', 'y2'], gap: false };
        for (const foreign of [await idOf(otherWs, otherFn, 'x1'), await idOf(ws, sameWsFn, 'z1')])
          assert.deepEqual(await resumedWith(tailUrl(ws, fn), foreign, 2), afresh, foreign);

        const own = await idOf(ws, fn, 'y1');
        // It does resume, unaltered.
        assert.deepEqual(await resumedWith(tailUrl(ws, fn), own, 1), { logs: ['y2'], gap: false });
        const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const swap = (c: string) => (c === 'A' ? 'B' : 'A');
        const altered = [
          swap(own[0]!) + own.slice(1),
          own.slice(0, 10) + swap(own[10]!) + own.slice(11),
          // The last character's spare bits: the same bytes, another spelling.
          own.slice(0, -1) + B64URL[B64URL.indexOf(own[21]!) ^ 1],
          own.slice(0, -1),
          `${own}==`,
          `${own}A`,
        ];
        for (const id of altered)
          assert.deepEqual(await resumedWith(tailUrl(ws, fn), id, 2), afresh, `${own} altered to ${id}`);
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
