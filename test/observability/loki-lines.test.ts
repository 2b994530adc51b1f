// loki-logs answers lines, not invocations: invocations that printed nothing do not use up the
// limit (three lines behind five silent calls came back as none).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { ExecutionLog, FunctionRecord } from '../../src/core/types.js';
import { b64, newFunction, startTestPlatform } from '../helpers/platform.js';
import { log } from '../store/fixtures.js';

type Entry = { timestamp: string; line: string };

interface Loki {
  /** The answer to `GET /api/functions/{fn}/loki-logs?{q}`, whatever its status. */
  raw: (q: string) => Promise<LightMyRequestResponse>;
  /** Its entries, asserting a 200. */
  get: (q: string) => Promise<Entry[]>;
  /** Its lines, asserting a 200. */
  lines: (q: string) => Promise<string[]>;
}

/** A platform whose one function has the logs `stored` makes for it; `run` reads them back. */
async function withLogs(stored: (f: FunctionRecord) => ExecutionLog[], run: (loki: Loki) => Promise<void>) {
  const p = await startTestPlatform();
  try {
    const { fn: id } = await newFunction(p, { code: b64('x = 1\n') });
    await p.meta.appendLogs(stored((await p.meta.findFunction(id))!));
    const raw = (q: string) => p.app.inject({ method: 'GET', url: `/api/functions/${id}/loki-logs?${q}` });
    const get = async (q: string): Promise<Entry[]> => {
      const res = await raw(q);
      assert.equal(res.statusCode, 200, `${q}: ${res.body}`);
      return res.json().logs;
    };
    await run({ raw, get, lines: async (q) => (await get(q)).map((l) => l.line) });
  } finally {
    await p.cleanup();
  }
}

/** 2026-11-27 20:53:13 plus `ms`, as a log's timestamp. */
const at13 = (ms: number) => new Date(Date.UTC(2026, 10, 27, 20, 53, 13, ms)).toISOString();

/** 100 calls of one ~60 KB line each, numbered 000–099, 1 ms apart: ~6 MB, ~69 calls to 4 MiB. */
const BIG_MS = (i: number) => Date.UTC(2026, 10, 27, 21, 0, 0, i);
const bigLogs = (f: FunctionRecord) =>
  Array.from({ length: 100 }, (_, i) =>
    log(f, {
      timestamp: new Date(BIG_MS(i)).toISOString(),
      logs: [`${String(i).padStart(3, '0')} ${'x'.repeat(60_000)}`],
    }),
  );

describe('loki-logs', () => {
  test('reads back past silent invocations until it has `limit` lines', async () => {
    const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 11, 0, s)).toISOString();
    await withLogs(
      (f) => [
        log(f, { timestamp: at(1), logs: ['one'] }),
        log(f, { timestamp: at(2), logs: ['two'] }),
        log(f, { timestamp: at(3), logs: ['three'] }),
        ...[4, 5, 6, 7, 8].map((s) => log(f, { timestamp: at(s), logs: [] })),
      ],
      async ({ raw }) => {
        const res = (await raw('limit=3')).json();
        assert.deepEqual(
          res.logs.map((l: { line: string }) => l.line),
          ['three', 'two', 'one'],
        );
        assert.equal(res.total, 3);
        // Fewer lines than asked: all of them, once.
        assert.equal((await raw('limit=50')).json().total, 3);
      },
    );
  });

  test('timestamps are unique and newest first, even for calls that began in the same millisecond', async () => {
    const same = new Date(Date.UTC(2026, 10, 26, 11, 0, 0)).toISOString();
    // Before, these gave 'a0'/'b0' and 'a1'/'b1' the same timestamps, out of order.
    await withLogs(
      (f) => [
        log(f, { id: 'a', timestamp: same, logs: ['a0', 'a1', 'a2'] }),
        log(f, { id: 'b', timestamp: same, logs: ['b0', 'b1'] }),
      ],
      async ({ get }) => {
        const entries = await get('limit=10');
        const stamps = entries.map((l) => BigInt(l.timestamp));
        assert.equal(stamps.length, 5);
        for (let i = 1; i < stamps.length; i++)
          assert.ok(stamps[i]! < stamps[i - 1]!, `entry ${i} is not older`);
        assert.deepEqual(
          entries.map((l) => l.line),
          ['b1', 'b0', 'a2', 'a1', 'a0'],
        );
      },
    );
  });

  test('start and end select the invocations of a window, in s, ns or RFC 3339, as Loki reads them', async () => {
    const at = (s: number) => Date.UTC(2026, 10, 26, 11, 0, s);
    await withLogs(
      (f) => [1, 2, 3, 4].map((s) => log(f, { timestamp: new Date(at(s)).toISOString(), logs: [`at ${s}`] })),
      async ({ raw, lines }) => {
        const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();
        assert.deepEqual(await lines(`start=${ns(at(2))}&end=${ns(at(4))}`), ['at 3', 'at 2']);
        assert.deepEqual(await lines(`start=${new Date(at(3)).toISOString()}`), ['at 4', 'at 3']);
        assert.deepEqual(await lines(`end=${ns(at(2))}`), ['at 1']);
        // An end inside a millisecond keeps that millisecond's calls.
        assert.deepEqual(await lines(`end=${(BigInt(ns(at(2))) + 1n).toString()}`), ['at 2', 'at 1']);
        // As Loki reads them: up to 10 digits are seconds, a decimal is seconds, empty is not given.
        const sec = (ms: number) => String(ms / 1000);
        assert.deepEqual(await lines(`start=${sec(at(2))}&end=${sec(at(4))}`), ['at 3', 'at 2']);
        assert.deepEqual(await lines(`start=${sec(at(3))}.0&end=`), ['at 4', 'at 3']);
        assert.deepEqual(await lines(`end=${sec(at(2))}.0001`), ['at 2', 'at 1']);
        assert.deepEqual(await lines(`start=${sec(at(2))}.001`), ['at 4', 'at 3']);
        assert.deepEqual(await lines('start=&end='), ['at 4', 'at 3', 'at 2', 'at 1']);
        for (const bad of [
          'start=yesterday',
          'end=-5',
          'start=.',
          'end=1.2.3',
          `start=${ns(at(3))}&end=${ns(at(2))}`,
        ]) {
          const res = await raw(bad);
          assert.equal(res.statusCode, 400, bad);
          assert.match(res.json().error.details.field, /^(start|end)$/, bad);
        }
      },
    );
  });

  test('an RFC 3339 time needs its UTC offset: without one it is a 400, not the server’s local time', async () => {
    const at = (s: number) => Date.UTC(2026, 10, 27, 20, 53, s);
    await withLogs(
      (f) => [12, 13, 14].map((s) => log(f, { timestamp: new Date(at(s)).toISOString(), logs: [`at ${s}`] })),
      async ({ raw, lines }) => {
        for (const bad of [
          'start=2026-11-27T20:53:13',
          'end=2026-11-27T20:53:13.5',
          'start=2026-11-27T20:53',
          'end=2026-02-30T00:00:00Z',
          'start=2026-11-27T24:00:00Z',
          'start=2026-11-27T20:53:13%2B24:00',
        ]) {
          const res = await raw(bad);
          assert.equal(res.statusCode, 400, bad);
          const { error } = res.json();
          assert.equal(error.code, 'VALIDATION_ERROR', bad);
          assert.equal(typeof error.message, 'string', bad);
          assert.match(error.details.field, /^(start|end)$/, bad);
        }
        // With an offset (Z, or hours east or west of UTC) it is the instant it names.
        assert.deepEqual(await lines('start=2026-11-27T20:53:13Z'), ['at 14', 'at 13']);
        assert.deepEqual(await lines('start=2026-11-28T05:53:13%2B09:00'), ['at 14', 'at 13']);
        assert.deepEqual(await lines('end=2026-11-27T15:53:13-05:00'), ['at 12']);
        assert.deepEqual(await lines('end=2026-11-27t20:53:13.000000001z'), ['at 13', 'at 12']);
      },
    );
  });

  test('start and end select lines, not calls: Loki’s [start, end) to the nanosecond', async () => {
    const ms = Date.UTC(2026, 10, 27, 20, 53, 13, 893);
    const same = Date.UTC(2026, 10, 27, 20, 54, 0, 0);
    await withLogs(
      (f) => [
        log(f, { timestamp: new Date(ms).toISOString(), logs: ['M 0', 'M 1', 'M 2'] }),
        // Two calls of one millisecond: b's lines are at same+1 and same, a's lowered below it.
        log(f, { id: 'a', timestamp: new Date(same).toISOString(), logs: ['a0', 'a1', 'a2'] }),
        log(f, { id: 'b', timestamp: new Date(same).toISOString(), logs: ['b0', 'b1'] }),
      ],
      async ({ get, lines }) => {
        const ns = (ms: number, plus = 0) => (BigInt(ms) * 1_000_000n + BigInt(plus)).toString();
        assert.deepEqual(await lines(`start=${ns(ms, 1)}&end=${ns(ms, 2)}`), ['M 1']);
        assert.deepEqual(await lines(`start=${ns(ms, 1)}&end=${ns(ms, 3)}`), ['M 2', 'M 1']);
        assert.deepEqual(await lines(`end=${ns(ms, 1)}`), ['M 0']);
        // A decimal of seconds or an RFC 3339 time, to the nanosecond too.
        const sec = (ms / 1000).toFixed(3);
        assert.deepEqual(await lines(`start=${sec}000001&end=${sec}000002`), ['M 1']);
        assert.deepEqual(await lines(`start=2026-11-27T20:53:13.893000002Z&end=2026-11-27T20:53:13.894Z`), [
          'M 2',
        ]);
        // Lines lowered below `start` are before it; below `end`, within it, though their calls
        // began in end's millisecond.
        const stamps = new Map((await get('limit=10')).map((l) => [l.line, l.timestamp]));
        assert.equal(stamps.get('b0'), ns(same));
        assert.equal(stamps.get('a2'), ns(same, -1));
        assert.deepEqual(await lines(`start=${ns(same)}`), ['b1', 'b0']);
        assert.deepEqual(await lines(`start=${ns(same, -2)}&end=${ns(same)}`), ['a2', 'a1']);
        assert.deepEqual(await lines(`start=${ns(ms + 1)}&end=${ns(same)}`), ['a2', 'a1', 'a0']);
      },
    );
  });

  test('paging back with end = the oldest timestamp answered goes on, and sees every line once', async () => {
    await withLogs(
      (f) => [
        log(f, { timestamp: at13(1), logs: ['1 a', '1 b', '1 c'] }),
        log(f, { timestamp: at13(2), logs: [] }),
        log(f, { id: 'x', timestamp: at13(3), logs: ['3x a', '3x b', '3x c'] }),
        log(f, { id: 'y', timestamp: at13(3), logs: ['3y a', '3y b'] }),
        log(f, { timestamp: at13(4), logs: ['4 a'] }),
        log(f, { id: 'p', timestamp: at13(5), logs: ['5p a', '5p b', '5p c', '5p d'] }),
        log(f, { id: 'q', timestamp: at13(5), logs: ['5q a', '5q b', '5q c'] }),
        log(f, { timestamp: at13(6), logs: ['6 a', '6 b'] }),
      ],
      async ({ get }) => {
        const all = await get('limit=100');
        assert.equal(all.length, 18);
        const seen: Entry[] = [];
        let end: string | undefined;
        for (let pages = 0; ; pages++) {
          assert.ok(pages <= all.length, `no end to the pages: ${JSON.stringify(seen.slice(-4))}`);
          const page = await get(`limit=2${end === undefined ? '' : `&end=${end}`}`);
          if (page.length === 0) break;
          seen.push(...page);
          end = page.at(-1)!.timestamp;
        }
        assert.deepEqual(seen, all);
      },
    );
  });

  test('a request reads at most 4 MiB of stored logs, as a page of /logs: the newest lines in it', async () => {
    // ~69 of the 100 calls fit in 4 MiB (all 100 in 16).
    await withLogs(bigLogs, async ({ raw }) => {
      for (const limit of [100, 5000]) {
        const res = await raw(`limit=${limit}`);
        assert.equal(res.statusCode, 200);
        const got = (res.json().logs as Entry[]).map((l) => l.line.slice(0, 3));
        assert.ok(got.length >= 60 && got.length <= 70, `${got.length} lines`);
        assert.deepEqual(
          got,
          Array.from({ length: got.length }, (_, i) => String(99 - i).padStart(3, '0')),
        );
        assert.ok(res.body.length < 4.5 * 1024 * 1024, `${res.body.length} bytes`);
      }
    });
  });

  test('direction=forward answers the oldest `limit` lines of the range, oldest first', async () => {
    await withLogs(
      (f) => [
        log(f, { timestamp: at13(1), logs: ['1 a', '1 b', '1 c'] }),
        log(f, { timestamp: at13(2), logs: [] }),
        log(f, { id: 'x', timestamp: at13(3), logs: ['3x a', '3x b', '3x c'] }),
        log(f, { id: 'y', timestamp: at13(3), logs: ['3y a', '3y b'] }),
        log(f, { timestamp: at13(4), logs: ['4 a'] }),
        log(f, { timestamp: at13(6), logs: ['6 a', '6 b'] }),
      ],
      async ({ raw, get, lines }) => {
        const all = await get('limit=100');
        assert.equal(all.length, 11);
        // The same lines and timestamps as backward, the other way round.
        assert.deepEqual(await get('limit=100&direction=forward'), [...all].reverse());
        assert.deepEqual(await lines('limit=2&direction=forward'), ['1 a', '1 b']);
        assert.deepEqual(await lines('limit=2&direction=FORWARD'), ['1 a', '1 b']);
        assert.deepEqual(await lines('limit=2&direction=backward'), ['6 b', '6 a']);
        assert.deepEqual(await lines('limit=2&direction=BACKWARD'), ['6 b', '6 a']);
        assert.deepEqual(await lines('limit=2&direction='), ['6 b', '6 a']);
        // Within start and end: the oldest of the range.
        const ns = (i: number) => all[i]!.timestamp;
        assert.deepEqual(await lines(`limit=3&direction=forward&start=${ns(6)}&end=${ns(1)}`), [
          '3x b',
          '3x c',
          '3y a',
        ]);
        // Paging forward with start just after the newest timestamp answered: every line, once.
        const seen: Entry[] = [];
        let start: bigint | undefined;
        for (let pages = 0; ; pages++) {
          assert.ok(pages <= all.length, 'no end to the pages');
          const page = await get(`limit=2&direction=forward${start === undefined ? '' : `&start=${start}`}`);
          if (page.length === 0) break;
          seen.push(...page);
          start = BigInt(page.at(-1)!.timestamp) + 1n;
        }
        assert.deepEqual(seen, [...all].reverse());
        const bad = await raw('direction=sideways');
        assert.equal(bad.statusCode, 400);
        assert.equal(bad.json().error.code, 'VALIDATION_ERROR');
        assert.equal(bad.json().error.details.field, 'direction');
      },
    );
  });

  test('direction=forward over more than one read is a 400, not lines that skip the oldest', async () => {
    // A read takes ~69 of the 100 calls.
    await withLogs(bigLogs, async ({ raw }) => {
      const res = await raw('limit=5&direction=forward');
      assert.equal(res.statusCode, 400, res.body.slice(0, 200));
      assert.equal(res.json().error.code, 'VALIDATION_ERROR');
      // A range that one read holds answers its oldest.
      const ns = (i: number) => (BigInt(BIG_MS(i)) * 1_000_000n).toString();
      const ok = await raw(`limit=5&direction=forward&start=${ns(40)}`);
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(
        ok.json().logs.map((l: Entry) => l.line.slice(0, 3)),
        ['040', '041', '042', '043', '044'],
      );
      const early = await raw(`limit=5&direction=forward&end=${ns(50)}`);
      assert.equal(early.statusCode, 200);
      assert.deepEqual(
        early.json().logs.map((l: Entry) => l.line.slice(0, 3)),
        ['000', '001', '002', '003', '004'],
      );
    });
  });
});
