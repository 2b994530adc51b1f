// loki-logs answers lines, not invocations: invocations that printed nothing do not use up the
// limit (three lines behind five silent calls came back as none).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { b64, newFunction, startTestPlatform } from '../helpers/platform.js';
import { log } from '../store/fixtures.js';

describe('loki-logs', () => {
  test('reads back past silent invocations until it has `limit` lines', async () => {
    const p = await startTestPlatform();
    try {
      const { fn: id } = await newFunction(p, { code: b64('x = 1\n') });
      const f = (await p.meta.findFunction(id))!;
      const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 11, 0, s)).toISOString();
      await p.meta.appendLogs([
        log(f, { timestamp: at(1), logs: ['one'] }),
        log(f, { timestamp: at(2), logs: ['two'] }),
        log(f, { timestamp: at(3), logs: ['three'] }),
        ...[4, 5, 6, 7, 8].map((s) => log(f, { timestamp: at(s), logs: [] })),
      ]);
      const res = (
        await p.app.inject({ method: 'GET', url: `/api/functions/${id}/loki-logs?limit=3` })
      ).json();
      assert.deepEqual(
        res.logs.map((l: { line: string }) => l.line),
        ['three', 'two', 'one'],
      );
      assert.equal(res.total, 3);
      // Fewer lines than asked: all of them, once.
      const all = (
        await p.app.inject({ method: 'GET', url: `/api/functions/${id}/loki-logs?limit=50` })
      ).json();
      assert.equal(all.total, 3);
    } finally {
      await p.cleanup();
    }
  });

  test('timestamps are unique and newest first, even for calls that began in the same millisecond', async () => {
    const p = await startTestPlatform();
    try {
      const { fn: id } = await newFunction(p, { code: b64('x = 1\n') });
      const f = (await p.meta.findFunction(id))!;
      const same = new Date(Date.UTC(2026, 10, 26, 11, 0, 0)).toISOString();
      // Before, these gave 'a0'/'b0' and 'a1'/'b1' the same timestamps, out of order.
      await p.meta.appendLogs([
        log(f, { id: 'a', timestamp: same, logs: ['a0', 'a1', 'a2'] }),
        log(f, { id: 'b', timestamp: same, logs: ['b0', 'b1'] }),
      ]);
      const res = (
        await p.app.inject({ method: 'GET', url: `/api/functions/${id}/loki-logs?limit=10` })
      ).json();
      const stamps = (res.logs as Array<{ timestamp: string; line: string }>).map((l) => BigInt(l.timestamp));
      assert.equal(stamps.length, 5);
      for (let i = 1; i < stamps.length; i++)
        assert.ok(stamps[i]! < stamps[i - 1]!, `entry ${i} is not older`);
      assert.deepEqual(
        res.logs.map((l: { line: string }) => l.line),
        ['b1', 'b0', 'a2', 'a1', 'a0'],
      );
    } finally {
      await p.cleanup();
    }
  });

  test('start and end select the invocations of a window, in s, ns or RFC 3339, as Loki reads them', async () => {
    const p = await startTestPlatform();
    try {
      const { fn: id } = await newFunction(p, { code: b64('x = 1\n') });
      const f = (await p.meta.findFunction(id))!;
      const at = (s: number) => Date.UTC(2026, 10, 26, 11, 0, s);
      await p.meta.appendLogs(
        [1, 2, 3, 4].map((s) => log(f, { timestamp: new Date(at(s)).toISOString(), logs: [`at ${s}`] })),
      );
      const lines = async (q: string) => {
        const res = await p.app.inject({ method: 'GET', url: `/api/functions/${id}/loki-logs?${q}` });
        assert.equal(res.statusCode, 200, res.body);
        return res.json().logs.map((l: { line: string }) => l.line);
      };
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
        const res = await p.app.inject({ method: 'GET', url: `/api/functions/${id}/loki-logs?${bad}` });
        assert.equal(res.statusCode, 400, bad);
        assert.match(res.json().error.details.field, /^(start|end)$/, bad);
      }
    } finally {
      await p.cleanup();
    }
  });

  test('an RFC 3339 time needs its UTC offset: without one it is a 400, not the server’s local time', async () => {
    const p = await startTestPlatform();
    try {
      const { fn: id } = await newFunction(p, { code: b64('x = 1\n') });
      const f = (await p.meta.findFunction(id))!;
      const at = (s: number) => Date.UTC(2026, 10, 27, 20, 53, s);
      await p.meta.appendLogs(
        [12, 13, 14].map((s) => log(f, { timestamp: new Date(at(s)).toISOString(), logs: [`at ${s}`] })),
      );
      const get = (q: string) => p.app.inject({ method: 'GET', url: `/api/functions/${id}/loki-logs?${q}` });
      for (const bad of [
        'start=2026-11-27T20:53:13',
        'end=2026-11-27T20:53:13.5',
        'start=2026-11-27T20:53',
        'end=2026-02-30T00:00:00Z',
        'start=2026-11-27T24:00:00Z',
        'start=2026-11-27T20:53:13%2B24:00',
      ]) {
        const res = await get(bad);
        assert.equal(res.statusCode, 400, bad);
        const { error } = res.json();
        assert.equal(error.code, 'VALIDATION_ERROR', bad);
        assert.equal(typeof error.message, 'string', bad);
        assert.match(error.details.field, /^(start|end)$/, bad);
      }
      // With an offset (Z, or hours east or west of UTC) it is the instant it names.
      const lines = async (q: string) => {
        const res = await get(q);
        assert.equal(res.statusCode, 200, `${q}: ${res.body}`);
        return res.json().logs.map((l: { line: string }) => l.line);
      };
      assert.deepEqual(await lines('start=2026-11-27T20:53:13Z'), ['at 14', 'at 13']);
      assert.deepEqual(await lines('start=2026-11-28T05:53:13%2B09:00'), ['at 14', 'at 13']);
      assert.deepEqual(await lines('end=2026-11-27T15:53:13-05:00'), ['at 12']);
      assert.deepEqual(await lines('end=2026-11-27t20:53:13.000000001z'), ['at 13', 'at 12']);
    } finally {
      await p.cleanup();
    }
  });
});
