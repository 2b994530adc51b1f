// Contract: function key-value data (bytes, isolation) and cascading deletes that leave nothing
// behind, proven by listing every key in the store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EunhaError } from '../../../src/core/errors.js';
import { KV_LIST_MAX_BYTES, KV_LIST_MAX_KEYS, kvEntryBytes } from '../../../src/core/kv.js';
import type { MetadataStore } from '../../../src/store/ports.js';
import { HOUR, at, fn, log, task, uid, workspace } from '../fixtures.js';
import { type WithStore, mentions } from './harness.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Key-value data is written only for a function that exists. */
async function liveFunction(store: MetadataStore): Promise<string> {
  const ws = workspace();
  await store.createWorkspace(ws);
  const f = fn(ws.id);
  await store.createFunction(f);
  return f.id;
}

export function kvTests(withStore: WithStore): void {
  test('kv: set, get, exists, overwrite, delete, keys', () =>
    withStore(async (store) => {
      const scope = { functionId: await liveFunction(store), store: 'default' };
      assert.equal(await store.kv.get(scope, 'k'), undefined);
      assert.equal(await store.kv.exists(scope, 'k'), false);
      await store.kv.set(scope, 'k', text('v1'));
      await store.kv.set(scope, 'b', text('x'));
      await store.kv.set(scope, 'a', text('y'));
      assert.equal(await store.kv.exists(scope, 'k'), true);
      await store.kv.set(scope, 'k', text('v2'));
      assert.deepEqual(await store.kv.get(scope, 'k'), text('v2'));
      assert.deepEqual(await store.kv.keys(scope), ['a', 'b', 'k']);
      await store.kv.delete(scope, 'k');
      await store.kv.delete(scope, 'never-set');
      assert.equal(await store.kv.get(scope, 'k'), undefined);
      assert.deepEqual(await store.kv.keys(scope), ['a', 'b']);
      // What the quota counts is what the workspace's storage report shows.
      assert.deepEqual(await store.functionDataUsage(scope.functionId), {
        logBytes: 0,
        keyValueBytes: kvEntryBytes('default', 'a', 1) + kvEntryBytes('default', 'b', 1),
      });
    }));

  test('kv: a listing holds at most KV_LIST_MAX_KEYS keys and KV_LIST_MAX_BYTES of their JSON', () =>
    withStore(async (store) => {
      const fnId = await liveFunction(store);
      const many = { functionId: fnId, store: 'many' };
      const key = (i: number): string => `k${String(i).padStart(6, '0')}`;
      for (let i = 0; i < KV_LIST_MAX_KEYS; i++) await store.kv.set(many, key(i), new Uint8Array(0));
      assert.equal((await store.kv.keys(many)).length, KV_LIST_MAX_KEYS);
      await store.kv.set(many, key(KV_LIST_MAX_KEYS), new Uint8Array(0));
      await assert.rejects(store.kv.keys(many), (e: unknown) => {
        assert.ok(e instanceof EunhaError && e.code === 'QUOTA_EXCEEDED', String(e));
        assert.match(e.message, /store 'many' holds more keys than one listing may return/);
        return true;
      });
      // Control characters count as JSON writes them (six bytes each): 600 keys of 1,000 bytes
      // are 3.6 MB of JSON, 720 pass the cap. Another store of the function is listed on its own.
      const escaped = { functionId: fnId, store: 'escaped' };
      const ctl = (i: number): string => `${String(i).padStart(4, '0')}${'\x01'.repeat(996)}`;
      for (let i = 0; i < 600; i++) await store.kv.set(escaped, ctl(i), new Uint8Array(0));
      const listed = await store.kv.keys(escaped);
      assert.equal(listed.length, 600);
      assert.equal(listed[599], ctl(599));
      assert.ok(600 * JSON.stringify(ctl(0)).length < KV_LIST_MAX_BYTES);
      for (let i = 600; i < 720; i++) await store.kv.set(escaped, ctl(i), new Uint8Array(0));
      assert.ok(720 * JSON.stringify(ctl(0)).length > KV_LIST_MAX_BYTES);
      await assert.rejects(store.kv.keys(escaped), /more keys than one listing may return/);
      // Deleting keys brings a listing back.
      for (let i = 600; i < 720; i++) await store.kv.delete(escaped, ctl(i));
      assert.equal((await store.kv.keys(escaped)).length, 600);
    }));

  test('kv: bytes round-trip exactly, including non-UTF-8 and empty values', () =>
    withStore(async (store) => {
      const scope = { functionId: await liveFunction(store), store: 'bin' };
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const invalidUtf8 = bytes(0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80);
      // A view into a larger buffer: only the viewed bytes may be stored.
      const view = new Uint8Array(bytes(9, 9, 1, 2, 3, 9).buffer, 2, 3);
      await store.kv.set(scope, 'all', all);
      await store.kv.set(scope, 'bad', invalidUtf8);
      await store.kv.set(scope, 'empty', new Uint8Array(0));
      await store.kv.set(scope, 'view', view);
      const got = await store.kv.get(scope, 'all');
      assert.ok(got instanceof Uint8Array);
      assert.deepEqual(got, all);
      assert.deepEqual(await store.kv.get(scope, 'bad'), invalidUtf8);
      assert.deepEqual(await store.kv.get(scope, 'empty'), new Uint8Array(0));
      assert.equal(await store.kv.exists(scope, 'empty'), true);
      assert.deepEqual(await store.kv.get(scope, 'view'), bytes(1, 2, 3));
    }));

  test('kv: functions and stores never see each other, even with separator characters', () =>
    withStore(async (store) => {
      const [f, g] = [await liveFunction(store), await liveFunction(store)];
      const scopes = [
        { functionId: f, store: 'default' },
        { functionId: f, store: 'other' },
        { functionId: g, store: 'default' },
        { functionId: f, store: 'a#b' },
        { functionId: f, store: 'a' },
        { functionId: f, store: 'a%23b' },
      ];
      // 'a#b'/'c' and 'a'/'b#c' would share a sort key if store names were not escaped.
      const keyOf = (i: number): string => (i === 4 ? 'b#c' : 'c');
      for (const [i, s] of scopes.entries()) await store.kv.set(s, keyOf(i), text(`value ${i}`));
      for (const [i, s] of scopes.entries()) {
        assert.deepEqual(await store.kv.get(s, keyOf(i)), text(`value ${i}`), `scope ${i}`);
        assert.deepEqual(await store.kv.keys(s), [keyOf(i)], `keys of scope ${i}`);
      }
      assert.equal(await store.kv.exists({ functionId: g, store: 'other' }, 'c'), false);
      await store.kv.delete(scopes[0]!, 'c');
      assert.deepEqual(await store.kv.get(scopes[1]!, 'c'), text('value 1'));
      assert.deepEqual(await store.kv.get(scopes[2]!, 'c'), text('value 2'));
    }));

  test("kv: a function's entries together stay within its quota; deletes and smaller values make room", () =>
    withStore(
      async (store) => {
        const [f, g] = [await liveFunction(store), await liveFunction(store)];
        const a = { functionId: f, store: 'default' };
        const b = { functionId: f, store: 'other' };
        const over = (e: unknown) => e instanceof EunhaError && e.code === 'QUOTA_EXCEEDED';
        const fill = (n: number) => new Uint8Array(n).fill(7);
        // Each entry counts its label, key and value, plus KV_ENTRY_OVERHEAD.
        const cost = (scope: { store: string }, key: string, n: number) => kvEntryBytes(scope.store, key, n);
        await store.kv.set(a, 'k1', fill(2000));
        const room = 4096 - cost(a, 'k1', 2000);
        // Across stores of the same function: one byte too many is refused and writes nothing.
        const tooBig = room - cost(b, 'k2', 0) + 1;
        await assert.rejects(store.kv.set(b, 'k2', fill(tooBig)), over);
        assert.equal(await store.kv.exists(b, 'k2'), false);
        // Exactly up to the quota is allowed.
        await store.kv.set(b, 'k2', fill(tooBig - 1));
        await assert.rejects(store.kv.set(a, 'k3', new Uint8Array(0)), over, 'an empty value is not free');
        // Growing an entry is refused and keeps the old value; shrinking one is allowed, even at the limit.
        await assert.rejects(store.kv.set(a, 'k1', fill(2001)), over);
        assert.deepEqual(await store.kv.get(a, 'k1'), fill(2000));
        await store.kv.set(a, 'k1', fill(1000));
        await store.kv.set(a, 'k3', fill(900));
        // Another function has a quota of its own.
        await store.kv.set({ functionId: g, store: 'default' }, 'k1', fill(3000));
        // Deleting gives the room back (a delete of a missing key gives nothing).
        await store.kv.delete(a, 'never-set');
        await assert.rejects(store.kv.set(a, 'k4', fill(1000)), over);
        await store.kv.delete(b, 'k2');
        await store.kv.set(a, 'k4', fill(1000));
        assert.deepEqual((await store.kv.keys(a)).sort(), ['k1', 'k3', 'k4']);
      },
      { kvMaxBytesPerFunction: 4096 },
    ));

  test('kv: a set for a function that does not exist (or no longer does) writes nothing', () =>
    withStore(async (store) => {
      const gone = await liveFunction(store);
      const found = await store.findFunction(gone);
      await store.deleteFunction(found!.workspaceId, gone);
      for (const functionId of [gone, uid('fn')]) {
        await assert.rejects(
          store.kv.set({ functionId, store: 'default' }, 'k', text('late')),
          (e: unknown) => e instanceof EunhaError && e.code === 'NOT_FOUND',
        );
        assert.deepEqual(mentions(await store.dumpKeys(), [functionId]), []);
      }
    }));
}

/** Everything needed to prove a cascade: a workspace with functions, tasks, logs and kv data. */
async function populate(store: MetadataStore, now: Date) {
  const ws = workspace();
  await store.createWorkspace(ws);
  const fns = [fn(ws.id), fn(ws.id, { createdAt: '2026-03-01T00:00:01.000Z' })];
  for (const f of fns) {
    await store.createFunction(f);
    await store.appendLogs([
      log(f, { timestamp: at(now, -HOUR) }),
      log(f, { timestamp: at(now, -2 * HOUR) }),
    ]);
    await store.kv.set({ functionId: f.id, store: 'default' }, 'counter', text('1'));
    await store.kv.set({ functionId: f.id, store: 'cache' }, 'x', text('2'));
  }
  await store.putTask(task(ws.id));
  return { ws, fns };
}

export function cascadeTests(withStore: WithStore): void {
  test('layout: records use the single-table keys of the seed', () =>
    withStore(async (store, clock) => {
      const now = clock.now();
      const { ws, fns } = await populate(store, now);
      const f = fns[0]!;
      const keys = await store.dumpKeys();
      const has = (pk: string, sk: string | RegExp) =>
        keys.some((k) => k.pk === pk && (typeof sk === 'string' ? k.sk === sk : sk.test(k.sk)));
      assert.ok(has(`WS#${ws.id}`, 'METADATA'));
      assert.ok(has(`WS#${ws.id}`, `FN#${f.id}`));
      assert.ok(has(`WS#${ws.id}`, /^BUILD#task-/));
      assert.ok(has(`FN#${f.id}`, new RegExp(`^LOG#${at(now, -HOUR).replace(/\./g, '\\.')}#log-`)));
      assert.ok(has(`FN#${f.id}`, /^KV#default#counter$/));
    }));

  test('cascade: deleting a workspace leaves nothing of it, and touches no other workspace', () =>
    withStore(async (store, clock) => {
      const now = clock.now();
      const doomed = await populate(store, now);
      const kept = await populate(store, now);
      const keptIds = [kept.ws.id, ...kept.fns.map((f) => f.id)];
      const keptBefore = mentions(await store.dumpKeys(), keptIds);

      const deleted = await store.deleteWorkspace(doomed.ws.id);
      assert.deepEqual(
        deleted?.map((f) => f.id).sort(),
        doomed.fns.map((f) => f.id).sort(),
        'returns the deleted functions so their blobs can go too',
      );

      const after = await store.dumpKeys();
      assert.deepEqual(mentions(after, [doomed.ws.id, ...doomed.fns.map((f) => f.id)]), []);
      assert.deepEqual(mentions(after, keptIds), keptBefore);
      assert.equal(await store.getWorkspace(doomed.ws.id), undefined);
      for (const f of doomed.fns) {
        assert.equal(await store.findFunction(f.id), undefined);
        assert.equal(await store.countFunctionLogs(f.id), 0);
        assert.deepEqual(await store.kv.keys({ functionId: f.id, store: 'default' }), []);
      }
      assert.deepEqual(await store.listTasks(doomed.ws.id), []);
      assert.deepEqual(await store.listWorkspaceLogs(doomed.ws.id, 100), []);
      assert.deepEqual(
        (await store.listWorkspaces()).map((w) => w.id),
        [kept.ws.id],
      );
      assert.equal(await store.countFunctions(kept.ws.id), 2);
      assert.equal(await store.listWorkspaceLogs(kept.ws.id, 100).then((l) => l.length), 4);
    }));

  test('cascade: deleting a function removes its logs and kv data, not its siblings', () =>
    withStore(async (store, clock) => {
      const now = clock.now();
      const { ws, fns } = await populate(store, now);
      const [gone, stays] = [fns[0]!, fns[1]!];
      const staysBefore = mentions(await store.dumpKeys(), [stays.id]);
      await store.deleteFunction(ws.id, gone.id);
      const after = await store.dumpKeys();
      assert.deepEqual(mentions(after, [gone.id]), []);
      assert.deepEqual(mentions(after, [stays.id]), staysBefore);
      assert.equal(await store.countFunctionLogs(stays.id), 2);
      assert.deepEqual(await store.kv.get({ functionId: stays.id, store: 'default' }, 'counter'), text('1'));
      assert.equal(await store.listWorkspaceLogs(ws.id, 100).then((l) => l.length), 2);
      assert.equal(await store.listTasks(ws.id).then((t) => t.length), 1);
    }));
}
