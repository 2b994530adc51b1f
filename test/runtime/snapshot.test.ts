// The cached memory snapshot carries its own digest: a file cut short (a crash or a full disk
// while it was written) or altered is made again, and sandboxes boot from the new one. Before,
// only its existence was checked, and every sandbox failed to boot until someone emptied the cache.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ensureSnapshot, isWhole, snapshotPath, sweepSnapshotCache } from '../../src/runtime/snapshot.js';
import { Runtime } from '../../src/runtime/index.js';
import { CACHE_DIR, MemoryKv, get, handler, text, version } from './helpers.js';

describe('the snapshot cache', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const freshDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'eunha-snapshot-'));
    dirs.push(d);
    return d;
  };

  test('a whole snapshot passes; one cut short, altered or without its trailer does not', async () => {
    const good = await ensureSnapshot(CACHE_DIR);
    assert.ok(await isWhole(good));
    const dir = freshDir();
    const copy = join(dir, 'copy.snapshot');
    const size = statSync(good).size;
    writeFileSync(copy, await readFile(good));
    assert.ok(await isWhole(copy));
    // One byte flipped in the middle.
    const bytes = await readFile(copy);
    bytes[Math.floor(size / 2)]! ^= 0xff;
    writeFileSync(copy, bytes);
    assert.equal(await isWhole(copy), false, 'altered');
    writeFileSync(copy, await readFile(good));
    truncateSync(copy, 1_000_000);
    assert.equal(await isWhole(copy), false, 'cut short');
    writeFileSync(copy, '');
    assert.equal(await isWhole(copy), false, 'empty');
    assert.equal(await isWhole(join(dir, 'missing')), false, 'missing');
  });

  test(
    'a damaged cached snapshot is made again, and functions run from it',
    { timeout: 120_000 },
    async () => {
      const dir = freshDir();
      const path = snapshotPath(dir);
      writeFileSync(path, Buffer.alloc(1_000_000, 7)); // what a crash mid-write could leave
      const runtime = new Runtime({ kv: new MemoryKv(), cacheDir: dir, poolSize: 1 });
      try {
        await runtime.start();
        assert.ok(await isWhole(path), 'made again');
        assert.ok(statSync(path).size > 10_000_000);
        const v = version(handler('return Response(200, {}, b"booted")'));
        await runtime.load(v);
        const r = await runtime.invoke(v.key, get());
        assert.equal(r.status, 200, r.error?.message);
        assert.equal(text(r.body), 'booted');
      } finally {
        await runtime.close();
      }
    },
  );

  test('the sweep removes dead writers’ half-written files, and other builds’ week-old snapshots only from a cache of its own', () => {
    const week = 7 * 86_400_000;
    const now = Date.now();
    const setUp = () => {
      const dir = freshDir();
      const current = snapshotPath(dir);
      const files = {
        current,
        deadTmp: `${current}.999999999.tmp`,
        liveTmp: `${current}.${process.pid}.tmp`,
        oldOther: join(dir, 'pyodide-0.0.1-0123456789abcdef.snapshot'),
        newOther: join(dir, 'pyodide-0.0.1-fedcba9876543210.snapshot'),
        unrelated: join(dir, 'notes.txt'),
      };
      for (const f of Object.values(files)) writeFileSync(f, 'x');
      const old = new Date(now - week - 60_000);
      utimesSync(files.oldOther, old, old);
      utimesSync(files.current, old, old);
      return files;
    };
    const left = (files: Record<string, string>) => Object.keys(files).filter((k) => existsSync(files[k]!));
    const owned = setUp();
    sweepSnapshotCache(dirname(owned.current), true, now);
    assert.deepEqual(left(owned), ['current', 'liveTmp', 'newOther', 'unrelated']);
    const shared = setUp();
    sweepSnapshotCache(dirname(shared.current), false, now);
    // Another container's writer may be alive in a pid namespace of its own: a fresh file stays.
    assert.deepEqual(left(shared), ['current', 'deadTmp', 'liveTmp', 'oldOther', 'newOther', 'unrelated']);
    const stale = setUp();
    const hourAgo = new Date(now - 3_700_000);
    utimesSync(stale.deadTmp, hourAgo, hourAgo);
    sweepSnapshotCache(dirname(stale.current), false, now);
    assert.deepEqual(left(stale), ['current', 'liveTmp', 'oldOther', 'newOther', 'unrelated']);
  });
});
