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
});
