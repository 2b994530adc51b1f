// The metering blob store: per-owner totals that match what the store holds after any mix of
// writes, without walking the owner's files for each question, nor more than one size() per
// write (none when the caller says what was there); a total read while a write of its owner runs
// is read again; a failed write forgets the total instead of keeping a wrong one.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { workspaceBlobOwners } from '../../src/services/storage-quota.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import { MeteredBlobStore } from '../../src/store/metered-blobs.js';
import type { BlobStore } from '../../src/store/ports.js';
import { overriding } from '../helpers/blob-overrides.js';
import { runBlobStoreContract } from './blob-contract.js';

const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(7);

describe('MeteredBlobStore', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'eunha-metered-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  const open = async (wrap: (b: BlobStore) => BlobStore = (b) => b) => {
    const inner = await openFsBlobStore(join(dir, `s${++n}`));
    return { inner, metered: new MeteredBlobStore(wrap(inner), workspaceBlobOwners) };
  };
  /** What a walk of the workspace's prefixes finds: the truth the totals must equal. */
  const walked = async (inner: BlobStore, ws: string) => {
    const sum = { bytes: 0, blobs: 0 };
    for (const prefix of workspaceBlobOwners.prefixesOf(ws)) {
      const u = await inner.usage(prefix);
      sum.bytes += u.bytes;
      sum.blobs += u.blobs;
    }
    return sum;
  };

  runBlobStoreContract('metered fs', async () => (await open()).metered);

  test('an owner whose blobs are all deleted (a deleted workspace) leaves nothing in memory', async () => {
    const { metered } = await open();
    for (let i = 0; i < 20; i++) {
      const ws = `ws-gone${i}`;
      await metered.put(`code/${ws}/f1/x.py`, bytes(10));
      assert.deepEqual(await metered.usageOf(ws), { bytes: 10, blobs: 1 });
      await metered.put(`artifacts/${ws}/d1/manifest.json`, bytes(5));
      await metered.deletePrefix(`code/${ws}`);
      await metered.deletePrefix(`artifacts/${ws}`);
    }
    // Each kept a total and a count of writes, for good: a soak review counted 300 after 300.
    assert.equal(metered.ownersTracked, 0);
    // And a new write of one is metered again from a fresh read.
    await metered.put('code/ws-gone0/f1/y.py', bytes(7));
    assert.deepEqual(await metered.usageOf('ws-gone0'), { bytes: 7, blobs: 1 });
  });

  test('totals follow puts, overwrites, deletes and prefix deletes of every owned prefix', async () => {
    const { inner, metered } = await open();
    await metered.put('code/ws-a/f1/x.py', bytes(100));
    await metered.put('artifacts/ws-a/d1/manifest.json', bytes(40));
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 140, blobs: 2 }, 'the first ask reads');
    await metered.put('artifacts/ws-a/d1/files/app.py', bytes(500));
    await metered.put('build-sources/ws-a/t1/app.py', bytes(1000));
    await metered.put('code/ws-a/f1/x.py', bytes(60)); // overwrite: smaller
    await metered.put('code/ws-b/f2/y.py', bytes(9)); // another owner
    await metered.put('other/ws-a/z', bytes(5000)); // no owner
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 1600, blobs: 4 });
    await metered.delete('code/ws-a/f1/x.py');
    await metered.delete('code/ws-a/f1/missing.py');
    await metered.deletePrefix('artifacts/ws-a/d1');
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 1000, blobs: 1 });
    assert.deepEqual(await metered.usageOf('ws-a'), await walked(inner, 'ws-a'));
    assert.deepEqual(await metered.usageOf('ws-b'), { bytes: 9, blobs: 1 });
    await metered.deletePrefix('build-sources/ws-a');
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 0, blobs: 0 });
    await metered.close();
  });

  test('after the first read, asking again does not walk the files', async () => {
    let walks = 0;
    const { metered } = await open((b) =>
      overriding(b, {
        usage: (prefix) => {
          if (prefix.split('/').length === 2) walks++; // a whole prefix of the owner
          return b.usage(prefix);
        },
      }),
    );
    for (let i = 0; i < 20; i++) await metered.put(`artifacts/ws-a/d${i}/manifest.json`, bytes(10));
    await metered.usageOf('ws-a');
    assert.equal(walks, 3, 'one read of its three prefixes');
    for (let i = 0; i < 20; i++) await metered.put(`artifacts/ws-a/e${i}/manifest.json`, bytes(10));
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 400, blobs: 40 });
    assert.equal(walks, 3, 'writes moved the total; nothing was walked again');
    await metered.close();
  });

  test('a put learns what was at its key with one size(), never a walk; told, it asks nothing', async () => {
    const asked = { size: 0, usage: 0 };
    const { inner, metered } = await open((b) =>
      overriding(b, {
        size: (key) => {
          asked.size++;
          return b.size(key);
        },
        usage: (prefix) => {
          asked.usage++;
          return b.usage(prefix);
        },
      }),
    );
    await metered.put('artifacts/ws-a/d/files/old.py', bytes(10));
    await metered.usageOf('ws-a'); // a total to move from here on
    asked.size = asked.usage = 0;
    await metered.put('artifacts/ws-a/d/files/old.py', bytes(25)); // an overwrite
    await metered.put('artifacts/ws-a/d/files/new.py', bytes(5));
    // usage(key) was two S3 requests (a HEAD and a LIST below the key); size(key) is one HEAD.
    assert.deepEqual(asked, { size: 2, usage: 0 });
    await metered.put('artifacts/ws-a/d/files/fresh.py', bytes(40), { sizeBefore: undefined });
    await metered.put('artifacts/ws-a/d/files/new.py', bytes(8), { sizeBefore: 5 });
    assert.deepEqual(asked, { size: 2, usage: 0 }, 'what the caller knew was not asked again');
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 73, blobs: 3 });
    assert.deepEqual(await metered.usageOf('ws-a'), await walked(inner, 'ws-a'));
    await metered.close();
  });

  test('a delete of a key that is only a folder of blobs takes nothing off the total', async () => {
    const { inner, metered } = await open();
    await metered.put('code/ws-a/f1/x.py', bytes(100));
    await metered.put('code/ws-a/f1/y.py', bytes(20));
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 120, blobs: 2 });
    // A delete removes the key's own blob; before, the meter took off all it found below the key.
    await metered.delete('code/ws-a/f1');
    assert.deepEqual(await inner.list('code/ws-a'), ['code/ws-a/f1/x.py', 'code/ws-a/f1/y.py']);
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 120, blobs: 2 });
    await metered.close();
  });

  test('a read overlapped by a write of the owner is made again, and counts it once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let slowPuts = 0;
    const { inner, metered } = await open((b) =>
      overriding(b, {
        put: async (key, data) => {
          if (key.endsWith('slow')) {
            slowPuts++;
            await gate; // the write lands while the read below runs
          }
          return b.put(key, data);
        },
      }),
    );
    await metered.put('code/ws-a/f/base', bytes(10));
    const write = metered.put('code/ws-a/f/slow', bytes(50));
    const read = metered.usageOf('ws-a');
    setTimeout(release, 30);
    await write;
    const first = await read;
    assert.equal(slowPuts, 1);
    assert.deepEqual(first, { bytes: 60, blobs: 2 }, 'read again after the write, not half of it');
    await metered.put('code/ws-a/f/more', bytes(5));
    assert.deepEqual(await metered.usageOf('ws-a'), await walked(inner, 'ws-a'));
    await metered.close();
  });

  test('a failed write forgets the total; the next ask reads the truth', async () => {
    let fail = false;
    const { inner, metered } = await open((b) =>
      overriding(b, {
        deletePrefix: async (prefix) => {
          // Half done, then a failure: the worst case for a total.
          await b.delete(`${prefix}/one`);
          if (fail) throw new Error('disk went away');
          return b.deletePrefix(prefix);
        },
      }),
    );
    await metered.put('artifacts/ws-a/d/one', bytes(30));
    await metered.put('artifacts/ws-a/d/two', bytes(70));
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 100, blobs: 2 });
    fail = true;
    await assert.rejects(metered.deletePrefix('artifacts/ws-a/d'), /disk went away/);
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 70, blobs: 1 });
    assert.deepEqual(await metered.usageOf('ws-a'), await walked(inner, 'ws-a'));
    await metered.close();
  });

  test('two deletes of the same blobs at once take them off the total once', async () => {
    const { inner, metered } = await open();
    await metered.put('build-sources/ws-a/t1/app.py', bytes(5000));
    await metered.put('build-sources/ws-a/t2/app.py', bytes(1000));
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 6000, blobs: 2 });
    await Promise.all([
      metered.deletePrefix('build-sources/ws-a/t1'),
      metered.deletePrefix('build-sources/ws-a/t1'),
      metered.delete('build-sources/ws-a/t1/app.py'),
    ]);
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 1000, blobs: 1 });
    assert.deepEqual(await metered.usageOf('ws-a'), await walked(inner, 'ws-a'));
    await metered.close();
  });

  test('a delete above every owner forgets every total', async () => {
    const { metered } = await open();
    await metered.put('code/ws-a/f/x', bytes(10));
    await metered.put('code/ws-b/f/x', bytes(20));
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 10, blobs: 1 });
    await metered.deletePrefix('code');
    assert.deepEqual(await metered.usageOf('ws-a'), { bytes: 0, blobs: 0 });
    assert.deepEqual(await metered.usageOf('ws-b'), { bytes: 0, blobs: 0 });
    await metered.close();
  });
});
