// Contract: execution logs (ordering, limits, live tails) and the statistics computed from them
// over a real rolling window on an injected clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FunctionRecord, LogFilter, SequencedLog, Workspace } from '../../../src/core/types.js';
import type { MetadataStore } from '../../../src/store/ports.js';
import { HOUR, MINUTE, at, eunhaError, fn, log, uid, workspace } from '../fixtures.js';
import { mentions, type WithStore } from './harness.js';

const DAY = 24 * HOUR;

async function seed(store: MetadataStore, count: number): Promise<{ ws: Workspace; fns: FunctionRecord[] }> {
  const ws = workspace();
  await store.createWorkspace(ws);
  const fns: FunctionRecord[] = [];
  for (let i = 0; i < count; i++) {
    const f = fn(ws.id, { createdAt: at(new Date('2026-03-01T00:00:00.000Z'), i) });
    await store.createFunction(f);
    fns.push(f);
  }
  return { ws, fns };
}

const ids = (logs: Array<{ id: string }>): string[] => logs.map((l) => l.id);

export function logTests(withStore: WithStore): void {
  test('logs: a log of a deleted or unknown function is dropped, the rest of the batch lands', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 2);
      const [gone, kept] = [fns[0]!, fns[1]!];
      await store.deleteFunction(ws.id, gone.id);
      const now = clock.now();
      const stranger = { ...gone, id: uid('fn') };
      await store.appendLogs([
        log(gone, { id: 'late', timestamp: now.toISOString() }),
        log(stranger, { id: 'nobody', timestamp: now.toISOString() }),
        log(kept, { id: 'fine', timestamp: now.toISOString() }),
      ]);
      assert.deepEqual(await store.listFunctionLogs(gone.id, 10), []);
      assert.deepEqual(await store.listFunctionLogs(stranger.id, 10), []);
      assert.deepEqual(ids(await store.listFunctionLogs(kept.id, 10)), ['fine']);
      const leftovers = (await store.dumpKeys()).filter(
        (k) => k.pk.includes(gone.id) || k.pk.includes(stranger.id),
      );
      assert.deepEqual(leftovers, []);
    }));

  test('logs: retention deletes a function’s logs older than a cutoff, oldest first, in batches', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 2);
      const [f, other] = [fns[0]!, fns[1]!];
      const now = clock.now();
      // Ages in days: 9, 8, 7, 2, 0; the cutoff is 7 days ago, so the 9- and 8-day-old ones go.
      await store.appendLogs(
        [9, 8, 7, 2, 0].map((d) => log(f, { id: `age-${d}`, timestamp: at(now, -d * DAY) })),
      );
      await store.appendLogs([log(other, { id: 'other-old', timestamp: at(now, -9 * DAY) })]);
      const cutoff = at(now, -7 * DAY);
      assert.equal(await store.deleteFunctionLogsBefore(f.id, cutoff, 1), 1);
      assert.deepEqual(ids(await store.listFunctionLogs(f.id, 10)), ['age-0', 'age-2', 'age-7', 'age-8']);
      assert.equal(await store.deleteFunctionLogsBefore(f.id, cutoff, 10), 1);
      assert.equal(await store.deleteFunctionLogsBefore(f.id, cutoff, 10), 0);
      assert.deepEqual(ids(await store.listFunctionLogs(f.id, 10)), ['age-0', 'age-2', 'age-7']);
      // Another function's logs, the workspace's view and the statistics follow.
      assert.deepEqual(ids(await store.listFunctionLogs(other.id, 10)), ['other-old']);
      assert.deepEqual(ids(await store.listWorkspaceLogs(ws.id, 10)).sort(), [
        'age-0',
        'age-2',
        'age-7',
        'other-old',
      ]);
      assert.equal((await store.functionStats(f.id, at(now, -30 * DAY))).invocations, 3);
      assert.equal(await store.countFunctionLogs(f.id), 3);

      // A cutoff inside a minute (of the other function, 8 days ago): that minute keeps the sums of
      // what is left of it, exactly.
      const minute = new Date(Math.floor((now.getTime() - 8 * DAY) / MINUTE) * MINUTE);
      await store.appendLogs([
        log(other, { id: 'm-1', timestamp: at(minute, 10_000), duration: 4, cpuMs: 1 }),
        log(other, { id: 'm-2', timestamp: at(minute, 40_000), duration: 6, cpuMs: 2, status: 'error' }),
      ]);
      assert.equal(await store.countFunctionLogs(other.id), 3);
      // 'other-old' (9 days) and m-1 go.
      assert.equal(await store.deleteFunctionLogsBefore(other.id, at(minute, 30_000), 10), 2);
      assert.equal(await store.countFunctionLogs(other.id), 1);
      const name = minute.toISOString().slice(0, 16);
      assert.deepEqual(await store.functionMinutes(other.id, at(minute, 0), at(minute, MINUTE)), [
        { minute: name, invocations: 1, errors: 1, durationMs: 6, cpuMs: 2 },
      ]);
      assert.equal(await store.deleteFunctionLogsBefore(other.id, at(minute, MINUTE), 10), 1);
      assert.equal(await store.countFunctionLogs(other.id), 0);
      assert.deepEqual(await store.functionMinutes(other.id, at(minute, 0), at(minute, MINUTE)), []);
      // Nothing of the function's logs is left behind, not even an empty minute: only the note of
      // the highest sequence number deleted (a tail resumed before it missed those).
      assert.deepEqual(mentions(await store.dumpKeys(), [other.id]), [
        `FN#${other.id} | LOGDELETED`,
        `WS#${ws.id} | FN#${other.id}`,
      ]);
      await assert.rejects(
        store.deleteFunctionLogsBefore(f.id, 'not a time', 10),
        eunhaError('VALIDATION_ERROR', 'before'),
      );
    }));

  test('logs: per-minute sums of a function over [since, until), only minutes with invocations', () =>
    withStore(async (store, clock) => {
      const { fns } = await seed(store, 2);
      const [f, other] = [fns[0]!, fns[1]!];
      const t = (s: string): string => `2026-03-02T11:${s}Z`;
      await store.appendLogs([
        log(f, { id: 'a', timestamp: t('58:59.999'), duration: 5, cpuMs: 1 }),
        log(f, { id: 'b', timestamp: t('59:00.000'), duration: 10, cpuMs: 2, status: 'error' }),
        log(f, { id: 'c', timestamp: t('59:30.000'), duration: 20, cpuMs: 4 }),
        log(f, { id: 'd', timestamp: '2026-03-02T12:00:00.000Z', duration: 40, cpuMs: 8 }),
        log(other, { id: 'x', timestamp: t('59:10.000'), duration: 99, cpuMs: 99 }),
      ]);
      const minutes = await store.functionMinutes(f.id, t('58:00.000'), '2026-03-02T12:00:00.000Z');
      assert.deepEqual(minutes, [
        { minute: '2026-03-02T11:58', invocations: 1, errors: 0, durationMs: 5, cpuMs: 1 },
        { minute: '2026-03-02T11:59', invocations: 2, errors: 1, durationMs: 30, cpuMs: 6 },
      ]);
      assert.deepEqual(await store.functionMinutes(f.id, t('59:00.001'), t('59:59.999')), [
        { minute: '2026-03-02T11:59', invocations: 1, errors: 0, durationMs: 20, cpuMs: 4 },
      ]);
      assert.deepEqual(
        await store.functionMinutes(f.id, at(clock.now(), HOUR), at(clock.now(), 2 * HOUR)),
        [],
      );
      await assert.rejects(
        store.functionMinutes(f.id, 'soon', t('59:00.000')),
        eunhaError('VALIDATION_ERROR', 'since'),
      );
    }));

  test('logs: statistics and minutes agree with sums over the logs, at any window bounds', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 3);
      const now = clock.now().getTime();
      // A fixed pseudo-random spread over the last 3 hours, several logs per minute, three functions.
      let seedN = 7;
      const rand = (): number => (seedN = (seedN * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const all = Array.from({ length: 600 }, (_, i) => {
        const f = fns[i % 3]!;
        return log(f, {
          id: `r-${i}`,
          timestamp: new Date(now - Math.floor(rand() * 3 * HOUR)).toISOString(),
          status: rand() < 0.2 ? 'error' : 'success',
          duration: Math.round(rand() * 100),
          cpuMs: Math.round(rand() * 40) / 4,
        });
      });
      for (let i = 0; i < all.length; i += 50) await store.appendLogs(all.slice(i, i + 50));
      const sums = (logs: typeof all) => {
        const invocations = logs.length;
        const duration = logs.reduce((a, l) => a + l.duration, 0);
        return {
          invocations,
          errors: logs.filter((l) => l.status === 'error').length,
          avgDuration: invocations ? duration / invocations : 0,
        };
      };
      const close = (a: { avgDuration: number }, b: { avgDuration: number }) =>
        Math.abs(a.avgDuration - b.avgDuration) < 1e-9;
      for (const back of [0, 59_999, 61_001, 37 * MINUTE + 123, 2 * HOUR + 30_500, 4 * HOUR]) {
        const since = new Date(now - back).toISOString();
        const inWindow = all.filter((l) => l.timestamp >= since);
        const f = fns[1]!;
        const want = sums(inWindow.filter((l) => l.functionId === f.id));
        const got = await store.functionStats(f.id, since);
        assert.deepEqual({ ...got, avgDuration: 0 }, { ...want, avgDuration: 0 }, `function since ${since}`);
        assert.ok(close(got, want), `${got.avgDuration} vs ${want.avgDuration}`);
        const wsGot = await store.workspaceStats(ws.id, since);
        const wsWant = sums(inWindow);
        assert.deepEqual(
          { ...wsGot, avgDuration: 0 },
          { ...wsWant, avgDuration: 0 },
          `workspace since ${since}`,
        );
        assert.ok(close(wsGot, wsWant));
        // Minutes over [since, since + 50 min 30 s): the same sums, minute by minute.
        const until = new Date(now - back + 50 * MINUTE + 30_000).toISOString();
        const minutes = await store.functionMinutes(f.id, since, until);
        const expected = new Map<
          string,
          { invocations: number; errors: number; durationMs: number; cpuMs: number }
        >();
        for (const l of all) {
          if (l.functionId !== f.id || l.timestamp < since || l.timestamp >= until) continue;
          const m = expected.get(l.timestamp.slice(0, 16)) ?? {
            invocations: 0,
            errors: 0,
            durationMs: 0,
            cpuMs: 0,
          };
          m.invocations++;
          if (l.status === 'error') m.errors++;
          m.durationMs += l.duration;
          m.cpuMs += l.cpuMs;
          expected.set(l.timestamp.slice(0, 16), m);
        }
        assert.deepEqual(
          minutes,
          [...expected.entries()]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([minute, m]) => ({ minute, ...m })),
          `minutes of [${since}, ${until})`,
        );
      }
    }));

  test('logs: appending the same log again replaces it, and the statistics count it once', () =>
    withStore(async (store, clock) => {
      const { fns } = await seed(store, 1);
      const f = fns[0]!;
      const ts = at(clock.now(), -10 * MINUTE);
      await store.appendLogs([
        log(f, { id: 'same', timestamp: ts, status: 'error', duration: 30, cpuMs: 3 }),
      ]);
      await store.appendLogs([
        log(f, { id: 'same', timestamp: ts, status: 'success', duration: 10, cpuMs: 1 }),
      ]);
      assert.equal(await store.countFunctionLogs(f.id), 1);
      assert.deepEqual(await store.functionStats(f.id, at(clock.now(), -HOUR)), {
        invocations: 1,
        errors: 0,
        avgDuration: 10,
      });
      const minute = ts.slice(0, 16);
      assert.deepEqual(await store.functionMinutes(f.id, at(clock.now(), -HOUR), clock.now().toISOString()), [
        { minute, invocations: 1, errors: 0, durationMs: 10, cpuMs: 1 },
      ]);
    }));

  test('logs: round-trip, newest first, limit, count', () =>
    withStore(async (store, clock) => {
      const { fns } = await seed(store, 1);
      const f = fns[0]!;
      const now = clock.now();
      const logs = [3, 1, 4, 2].map((m) => log(f, { id: `log-${m}`, timestamp: at(now, -m * MINUTE) }));
      await store.appendLogs(logs);
      const listed = await store.listFunctionLogs(f.id, 10);
      assert.deepEqual(ids(listed), ['log-1', 'log-2', 'log-3', 'log-4']);
      assert.deepEqual(listed[0], logs[1], 'the record comes back whole');
      assert.deepEqual(ids(await store.listFunctionLogs(f.id, 2)), ['log-1', 'log-2']);
      assert.deepEqual(await store.listFunctionLogs(f.id, 0), []);
      assert.equal(await store.countFunctionLogs(f.id), 4);
      assert.equal(await store.countFunctionLogs(uid('missing')), 0);
      await store.appendLogs([]);
      assert.equal(await store.countFunctionLogs(f.id), 4);
    }));

  test('logs: a page ends once its logs pass maxBytes, newest first; the first always comes back', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 1);
      const f = fns[0]!;
      const now = clock.now();
      // Ten logs of ~20 KB each (printed lines), newest log-0.
      const big = Array.from({ length: 10 }, (_, m) =>
        log(f, { id: `log-${m}`, timestamp: at(now, -m * MINUTE), logs: ['x'.repeat(20_000)] }),
      );
      await store.appendLogs(big);
      const all = ids(big);
      for (const list of [
        (limit: number, maxBytes?: number) => store.listFunctionLogs(f.id, limit, { maxBytes }),
        (limit: number, maxBytes?: number) => store.listWorkspaceLogs(ws.id, limit, { maxBytes }),
      ]) {
        assert.deepEqual(ids(await list(10)), all);
        assert.deepEqual(ids(await list(10, 10_000_000)), all);
        assert.deepEqual(ids(await list(10, 1)), ['log-0'], 'one log over the budget still comes back');
        const some = ids(await list(10, 70_000));
        assert.ok(some.length >= 2 && some.length <= 4, `~3 of ~20 KB fit 70 KB: ${some.length}`);
        assert.deepEqual(some, all.slice(0, some.length), 'the newest ones, in order');
        assert.deepEqual(ids(await list(2, 10_000_000)), ['log-0', 'log-1'], 'limit still applies');
      }
    }));

  test('logs: logs sharing a timestamp are all kept', () =>
    withStore(async (store, clock) => {
      const { fns } = await seed(store, 1);
      const f = fns[0]!;
      const ts = clock.now().toISOString();
      await store.appendLogs([log(f, { id: 'a', timestamp: ts }), log(f, { id: 'b', timestamp: ts })]);
      assert.equal(await store.countFunctionLogs(f.id), 2);
    }));

  test('logs: workspace listing spans its functions, newest first, and no other workspace', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 2);
      const other = await seed(store, 1);
      const now = clock.now();
      const [f, g] = [fns[0]!, fns[1]!];
      await store.appendLogs([
        log(f, { id: 'f-old', timestamp: at(now, -3 * MINUTE) }),
        log(g, { id: 'g-new', timestamp: at(now, -1 * MINUTE) }),
        log(f, { id: 'f-new', timestamp: at(now, -2 * MINUTE) }),
        log(other.fns[0]!, { id: 'other', timestamp: at(now, 0) }),
      ]);
      assert.deepEqual(ids(await store.listWorkspaceLogs(ws.id, 10)), ['g-new', 'f-new', 'f-old']);
      assert.deepEqual(ids(await store.listWorkspaceLogs(ws.id, 1)), ['g-new']);
      assert.deepEqual(ids(await store.listWorkspaceLogs(other.ws.id, 10)), ['other']);
    }));

  test('logs: listings select by time, after a cursor, and by outcome; both orders agree', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 2);
      const [f, g] = [fns[0]!, fns[1]!];
      const now = clock.now();
      // Minutes ago: f0 f1 f2(error) f3 f4(error); g2 shares f2's instant (ties go by id).
      const fLogs = [0, 1, 2, 3, 4].map((m) =>
        log(f, {
          id: `f${m}`,
          timestamp: at(now, -m * MINUTE),
          ...(m % 2 === 0 && m > 0 ? { status: 'error' as const, statusCode: 500 } : {}),
        }),
      );
      await store.appendLogs([...fLogs, log(g, { id: 'g2', timestamp: at(now, -2 * MINUTE) })]);
      const fnIds = async (limit: number, filter: LogFilter) =>
        ids(await store.listFunctionLogs(f.id, limit, filter));
      const wsIds = async (limit: number, filter: LogFilter) =>
        ids(await store.listWorkspaceLogs(ws.id, limit, filter));

      assert.deepEqual(await wsIds(10, {}), ['f0', 'f1', 'g2', 'f2', 'f3', 'f4']);
      // since is inclusive, until exclusive, in any ISO 8601 form.
      const twoAgo = new Date(now.getTime() - 2 * MINUTE);
      assert.deepEqual(await fnIds(10, { since: twoAgo.toISOString() }), ['f0', 'f1', 'f2']);
      assert.deepEqual(await fnIds(10, { until: twoAgo.toISOString() }), ['f3', 'f4']);
      const offset = twoAgo.toISOString().replace('Z', '+00:00');
      assert.deepEqual(await wsIds(10, { since: offset, until: at(now, -1 * MINUTE) }), ['g2', 'f2']);
      // Bounds finer than the millisecond: f2 is stamped at a whole one, just before each bound.
      const finer = (digits: string) => twoAgo.toISOString().replace('Z', `${digits}Z`);
      for (const digits of ['5', '000001']) {
        assert.deepEqual(await fnIds(10, { since: finer(digits) }), ['f0', 'f1'], `since …${digits}`);
        assert.deepEqual(await fnIds(10, { until: finer(digits) }), ['f2', 'f3', 'f4'], `until …${digits}`);
        assert.deepEqual(await wsIds(10, { since: finer(digits) }), ['f0', 'f1'], `since …${digits}`);
      }
      assert.deepEqual(await fnIds(10, { since: finer('000') }), ['f0', 'f1', 'f2'], 'zeros are no later');
      // A cursor: strictly after that log in the listing's order, the tie with g2 broken by id.
      const cursor = { timestamp: at(now, -2 * MINUTE), id: 'g2' };
      assert.deepEqual(await wsIds(10, { before: cursor }), ['f2', 'f3', 'f4']);
      assert.deepEqual(await wsIds(1, { before: cursor }), ['f2']);
      assert.deepEqual(await fnIds(10, { before: { timestamp: at(now, -1 * MINUTE), id: 'f1' } }), [
        'f2',
        'f3',
        'f4',
      ]);
      // until and a cursor together: the lower bound wins.
      assert.deepEqual(await fnIds(10, { before: cursor, until: at(now, -3 * MINUTE) }), ['f4']);
      // Outcomes, alone and with the rest.
      assert.deepEqual(await fnIds(10, { status: 'error' }), ['f2', 'f4']);
      assert.deepEqual(await wsIds(10, { status: 'error' }), ['f2', 'f4']);
      assert.deepEqual(await fnIds(10, { status: 'success' }), ['f0', 'f1', 'f3']);
      assert.deepEqual(await wsIds(10, { status: 'success' }), ['f0', 'f1', 'g2', 'f3']);
      assert.deepEqual(
        await fnIds(1, { status: 'error', before: { timestamp: at(now, -2 * MINUTE), id: 'f2' } }),
        ['f4'],
      );
      assert.deepEqual(await wsIds(10, { status: 'error', since: at(now, -3 * MINUTE) }), ['f2']);
      assert.deepEqual(await fnIds(10, { since: at(now, MINUTE) }), [], 'nothing after now');
      for (const bad of [
        { since: 'yesterday' },
        { until: '2026-13-01T00:00:00Z' },
        { before: { timestamp: 'x', id: 'f1' } },
      ]) {
        await assert.rejects(store.listFunctionLogs(f.id, 10, bad), eunhaError('VALIDATION_ERROR'));
        await assert.rejects(store.listWorkspaceLogs(ws.id, 10, bad), eunhaError('VALIDATION_ERROR'));
      }
    }));

  test('logs: each stored log gets a sequence number, in the order written, never twice', () =>
    withStore(async (store, clock) => {
      const { fns } = await seed(store, 2);
      const [f, g] = [fns[0]!, fns[1]!];
      const now = clock.now();
      const seqs = (stored: SequencedLog[]) => stored.map((e) => [e.log.id, e.seq] as const);
      // Written out of timestamp order, across two functions; a deleted function's log is dropped.
      const first = await store.appendLogs([
        log(f, { id: 'late', timestamp: at(now, 3000) }),
        log({ ...f, id: 'fn-gone0000' }, { id: 'gone', timestamp: at(now, 0) }),
        log(g, { id: 'g1', timestamp: at(now, 2000) }),
        log(f, { id: 'early', timestamp: at(now, 1000) }),
      ]);
      assert.deepEqual(
        first.map((e) => e.log.id),
        ['late', 'g1', 'early'],
      );
      const n = first.map((e) => e.seq);
      assert.ok(n[0]! >= 1 && n[1]! > n[0]! && n[2]! > n[1]!, String(n));
      // A batch that fails takes no numbers.
      await assert.rejects(store.appendLogs([log(f, { id: 'bad', timestamp: 'nope' })]));
      const second = await store.appendLogs([log(f, { id: 'next', timestamp: at(now, 0) })]);
      assert.ok(second[0]!.seq > n[2]!);
      // The same (timestamp, id) again replaces the log under a new number.
      const again = await store.appendLogs([
        log(f, { id: 'late', timestamp: at(now, 3000), statusCode: 500 }),
      ]);
      assert.ok(again[0]!.seq > second[0]!.seq);

      const all = await store.tailFunctionLogs(f.id, 0, 10);
      assert.deepEqual(seqs(all.logs), [
        ['early', n[2]!],
        ['next', second[0]!.seq],
        ['late', again[0]!.seq],
      ]);
      assert.equal(all.logs[2]!.log.statusCode, 500);
      assert.equal(all.more, false);
      assert.equal(all.last, again[0]!.seq);
      // Strictly after; g's logs are g's.
      assert.deepEqual(
        (await store.tailFunctionLogs(f.id, second[0]!.seq, 10)).logs.map((e) => e.log.id),
        ['late'],
      );
      assert.deepEqual(
        (await store.tailFunctionLogs(g.id, 0, 10)).logs.map((e) => e.log.id),
        ['g1'],
      );
      const none = await store.tailFunctionLogs(f.id, again[0]!.seq, 10);
      assert.deepEqual(none, { logs: [], more: false, last: again[0]!.seq });
    }));

  test('logs: a tail page is the newest `limit` after the number, oldest first, and says when it left some out', () =>
    withStore(async (store, clock) => {
      const { fns } = await seed(store, 1);
      const f = fns[0]!;
      const now = clock.now();
      const stored = await store.appendLogs(
        [1, 2, 3, 4, 5].map((s) => log(f, { id: `s${s}`, timestamp: at(now, s * 1000) })),
      );
      const page = (after: number, limit: number, maxBytes?: number) =>
        store
          .tailFunctionLogs(f.id, after, limit, maxBytes)
          .then((p) => [p.logs.map((e) => e.log.id), p.more]);
      assert.deepEqual(await page(0, 2), [['s4', 's5'], true]);
      assert.deepEqual(await page(stored[2]!.seq, 2), [['s4', 's5'], false]);
      assert.deepEqual(await page(stored[1]!.seq, 2), [['s4', 's5'], true]);
      assert.deepEqual(await page(0, 0), [[], false]);
      // A log after the number that retention deleted is missed too: `more`, though the page
      // holds every one left. Its deletion after a client's number is the one that counts.
      assert.equal(await store.deleteFunctionLogsBefore(f.id, at(now, 2500), 10), 2); // s1, s2
      assert.deepEqual(await page(stored[2]!.seq, 10), [['s4', 's5'], false]);
      assert.deepEqual(await page(stored[0]!.seq, 10), [['s3', 's4', 's5'], true]);
      // Past maxBytes the page ends; the newest always comes back.
      assert.deepEqual(await page(0, 10, 1), [['s5'], true]);
    }));

  test('logs: an unparseable timestamp is a VALIDATION_ERROR and nothing of the batch lands', () =>
    withStore(async (store) => {
      const { fns } = await seed(store, 1);
      const f = fns[0]!;
      await assert.rejects(
        store.appendLogs([log(f), log(f, { timestamp: 'yesterday-ish' })]),
        eunhaError('VALIDATION_ERROR', 'timestamp'),
      );
      assert.equal(await store.countFunctionLogs(f.id), 0);
    }));
}

export function statsTests(withStore: WithStore): void {
  test('stats: a rolling 24h window over the logs, on the injected clock', () =>
    withStore(async (store, clock) => {
      const { fns } = await seed(store, 1);
      const f = fns[0]!;
      const now = clock.now();
      await store.appendLogs([
        log(f, { timestamp: at(now, -25 * HOUR), status: 'error', duration: 1000 }), // outside
        log(f, { timestamp: at(now, -DAY), duration: 30 }), // exactly at the edge: inside
        log(f, { timestamp: at(now, -23 * HOUR), duration: 10 }),
        log(f, { timestamp: at(now, -1 * HOUR), status: 'error', statusCode: 500, duration: 50 }),
        log(f, { timestamp: at(now, -1 * MINUTE), duration: 10 }),
      ]);
      const since = at(clock.now(), -DAY);
      assert.deepEqual(await store.functionStats(f.id, since), {
        invocations: 4,
        errors: 1,
        avgDuration: 25,
      });

      // Two hours later the -24h and -23h invocations have rolled out; nothing was decremented.
      clock.advance(2 * HOUR);
      const later = await store.functionStats(f.id, at(clock.now(), -DAY));
      assert.deepEqual(later, { invocations: 2, errors: 1, avgDuration: 30 });
    }));

  test('stats: no invocations gives zeros; a fractional mean is exact', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 1);
      const f = fns[0]!;
      const since = at(clock.now(), -DAY);
      assert.deepEqual(await store.functionStats(f.id, since), { invocations: 0, errors: 0, avgDuration: 0 });
      assert.deepEqual(await store.workspaceStats(ws.id, since), {
        invocations: 0,
        errors: 0,
        avgDuration: 0,
      });
      assert.deepEqual(await store.functionStats(uid('missing'), since), {
        invocations: 0,
        errors: 0,
        avgDuration: 0,
      });
      await store.appendLogs(
        [10, 20, 40].map((d) => log(f, { timestamp: at(clock.now(), -MINUTE), duration: d })),
      );
      const s = await store.functionStats(f.id, since);
      assert.equal(s.invocations, 3);
      assert.ok(Math.abs(s.avgDuration - 70 / 3) < 1e-9, `avgDuration ${s.avgDuration}`);
    }));

  test('stats: the workspace aggregate sums its functions and nothing else', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 3);
      const other = await seed(store, 1);
      const now = clock.now();
      const [f, g, h] = [fns[0]!, fns[1]!, fns[2]!];
      await store.appendLogs([
        log(f, { timestamp: at(now, -2 * HOUR), duration: 100 }),
        log(f, { timestamp: at(now, -3 * HOUR), status: 'error', duration: 300 }),
        log(g, { timestamp: at(now, -4 * HOUR), status: 'error', duration: 200 }),
        log(g, { timestamp: at(now, -30 * HOUR), status: 'error', duration: 9999 }), // outside
        log(h, { timestamp: at(now, -5 * HOUR), duration: 400 }),
        log(other.fns[0]!, { timestamp: at(now, -1 * HOUR), status: 'error', duration: 7 }),
      ]);
      const since = at(now, -DAY);
      const perFn = await Promise.all([f, g, h].map((x) => store.functionStats(x.id, since)));
      assert.deepEqual(perFn, [
        { invocations: 2, errors: 1, avgDuration: 200 },
        { invocations: 1, errors: 1, avgDuration: 200 },
        { invocations: 1, errors: 0, avgDuration: 400 },
      ]);
      const total = await store.workspaceStats(ws.id, since);
      assert.deepEqual(total, { invocations: 4, errors: 2, avgDuration: 250 });
      assert.equal(
        total.invocations,
        perFn.reduce((n, s) => n + s.invocations, 0),
      );
      assert.deepEqual(await store.workspaceStats(other.ws.id, since), {
        invocations: 1,
        errors: 1,
        avgDuration: 7,
      });
    }));

  test('stats: timestamps are instants, whatever their ISO spelling', () =>
    withStore(async (store) => {
      const { fns } = await seed(store, 1);
      const f = fns[0]!;
      await store.appendLogs([
        log(f, { id: 'plain', timestamp: '2026-03-02T11:00:00Z', duration: 10 }),
        log(f, { id: 'offset', timestamp: '2026-03-02T12:30:00.000+01:00', duration: 30 }), // 11:30Z
        log(f, { id: 'before', timestamp: '2026-03-02T10:59:59.999Z', duration: 1000 }),
      ]);
      // The edge, spelled without milliseconds, still includes the log exactly on it.
      const s = await store.functionStats(f.id, '2026-03-02T11:00:00Z');
      assert.deepEqual(s, { invocations: 2, errors: 0, avgDuration: 20 });
      assert.deepEqual(ids(await store.listFunctionLogs(f.id, 10)), ['offset', 'plain', 'before']);
      await assert.rejects(store.functionStats(f.id, 'not a time'), eunhaError('VALIDATION_ERROR', 'since'));
    }));

  test('stats: deleted functions stop counting', () =>
    withStore(async (store, clock) => {
      const { ws, fns } = await seed(store, 2);
      const now = clock.now();
      await store.appendLogs(fns.map((f) => log(f, { timestamp: at(now, -HOUR), duration: 20 })));
      await store.deleteFunction(ws.id, fns[0]!.id);
      const since = at(now, -DAY);
      assert.deepEqual(await store.workspaceStats(ws.id, since), {
        invocations: 1,
        errors: 0,
        avgDuration: 20,
      });
      assert.deepEqual(await store.functionStats(fns[0]!.id, since), {
        invocations: 0,
        errors: 0,
        avgDuration: 0,
      });
    }));
}
