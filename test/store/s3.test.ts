// The S3 blob store against a local S3-compatible server (s3rver, test/helpers/s3-server.ts): the
// BlobStore contract every adapter runs, and what is S3's own: installations sharing a bucket under
// key prefixes, listings and prefix deletes past one page (1,000 keys), a bucket that is not there,
// a server that goes away (503 DEPENDENCY_UNAVAILABLE, never a 500), and the metering wrapper over
// keys that S3, unlike a filesystem, lets be a blob and a prefix at once.

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { workspaceBlobOwners } from '../../src/services/storage-quota.js';
import { MeteredBlobStore } from '../../src/store/metered-blobs.js';
import { openS3BlobStore } from '../../src/store/s3/index.js';
import { S3OpenError } from '../../src/store/s3/open-error.js';
import type { BlobStore } from '../../src/store/ports.js';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from '../helpers/s3-server.js';
import { runBlobStoreContract } from './blob-contract.js';
import { eunhaError } from './fixtures.js';

const BUCKET = 'eunha-test-blobs';

describe('S3 blob store', () => {
  let s3: LocalS3;
  let n = 0;
  before(async () => {
    s3 = await startLocalS3([BUCKET]);
  });
  after(async () => s3.stop());

  /** A store of its own: a fresh key prefix of the shared bucket is an empty store. */
  const open = async (keyPrefix = `t${++n}/`) =>
    openS3BlobStore({
      bucket: BUCKET,
      keyPrefix,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });

  runBlobStoreContract('s3 (s3rver)', async () => (await open()).store, {
    // S3 itself replaces an object atomically (a GET sees the old or the new one, racing PUTs leave
    // one whole); s3rver truncates and rewrites the file, so a GET during a PUT can read half of it
    // and two PUTs can interleave. Nothing in the adapter is between: a put is one PutObject.
    tornOverwrites: 's3rver rewrites objects in place; S3 PUTs are atomic',
  });

  test('installations under different key prefixes of one bucket never see each other', async () => {
    const a = await open('prod/a/');
    const b = await open('prod/ab/');
    assert.equal(a.blobsHeld, false);
    await a.store.put('code/ws/f/x.py', Uint8Array.of(1));
    await b.store.put('code/ws/f/y.py', Uint8Array.of(2, 3));
    assert.deepEqual(await a.store.list(''), ['code/ws/f/x.py']);
    assert.deepEqual(await b.store.list(''), ['code/ws/f/y.py']);
    assert.deepEqual(await b.store.usage(''), { bytes: 2, blobs: 1 });
    await a.store.deletePrefix('code');
    assert.deepEqual(await b.store.list(''), ['code/ws/f/y.py'], "a's delete left b alone");
    assert.equal((await open('prod/ab/')).blobsHeld, true, 'an earlier run left blobs here');
    await a.store.close();
    await b.store.close();
  });

  test('listing, usage and prefix deletes go past one page of 1,000 keys', { timeout: 120_000 }, async () => {
    const { store } = await open();
    const keys = Array.from(
      { length: 1_030 },
      (_, i) => `artifacts/ws/d/files/m${String(i).padStart(4, '0')}`,
    );
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, Uint8Array.of(7, 7))));
    }
    await store.put('artifacts/ws/d', Uint8Array.of(1)); // the prefix's own key
    await store.put('artifacts/ws/dd/x', Uint8Array.of(1)); // beside it, not under it
    const listed = await store.list('artifacts/ws/d');
    assert.equal(listed.length, 1_031);
    assert.deepEqual(listed, ['artifacts/ws/d', ...keys].sort());
    assert.deepEqual(await store.usage('artifacts/ws/d'), { bytes: 2 * 1_030 + 1, blobs: 1_031 });
    await store.deletePrefix('artifacts/ws/d');
    assert.deepEqual(await store.list(''), ['artifacts/ws/dd/x']);
    await store.close();
  });

  test('metered: a key that is also a prefix of blobs (S3 allows both) counts as its own blob alone', async () => {
    const { store } = await open();
    const metered = new MeteredBlobStore(store, workspaceBlobOwners);
    const total = async () => {
      const sum = { bytes: 0, blobs: 0 };
      for (const prefix of workspaceBlobOwners.prefixesOf('ws')) {
        const u = await store.usage(prefix);
        sum.bytes += u.bytes;
        sum.blobs += u.blobs;
      }
      return sum;
    };
    await metered.put('code/ws/f/x.py', Uint8Array.of(1, 2, 3));
    await metered.put('code/ws/f/x.py/y', Uint8Array.of(4, 5));
    assert.deepEqual(await metered.usageOf('ws'), { bytes: 5, blobs: 2 });
    // The meter asked usage(key), which counted the blob below the key as the key's old bytes.
    await metered.put('code/ws/f/x.py', Uint8Array.of(9));
    assert.deepEqual(await metered.usageOf('ws'), await total());
    await metered.delete('code/ws/f/x.py');
    assert.deepEqual(await metered.usageOf('ws'), { bytes: 2, blobs: 1 });
    assert.deepEqual(await metered.usageOf('ws'), await total());
    await metered.close();
  });

  test("a console's folder objects and other non-blob keys are not blobs", async () => {
    const { store } = await open('folders/');
    const raw = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });
    for (const key of ['folders/', 'folders/code/', 'folders/notes to self.txt']) {
      await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: new Uint8Array(0) }));
    }
    raw.destroy();
    assert.equal(await store.holdsBlobs(), false);
    assert.deepEqual(await store.list(''), []);
    await store.put('code/ws/f/x.py', Uint8Array.of(1));
    assert.deepEqual(await store.list(''), ['code/ws/f/x.py']);
    assert.deepEqual(await store.usage(''), { bytes: 1, blobs: 1 });
    assert.equal(await store.holdsBlobs(), true);
    await store.close();
  });

  test(
    'an S3 that accepts connections and never answers fails the open in bounded time',
    { timeout: 30_000 },
    async () => {
      const silent = createServer(() => {}); // reads requests, answers none
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      const started = Date.now();
      try {
        await assert.rejects(
          openS3BlobStore({
            bucket: BUCKET,
            keyPrefix: '',
            region: 'us-east-1',
            endpoint: `http://127.0.0.1:${port}`,
            forcePathStyle: true,
            credentials: S3RVER_CREDENTIALS,
            requestTimeoutMs: 300,
          }),
          (err: unknown) => err instanceof S3OpenError && /TimeoutError|timed? ?out/i.test(err.message),
        );
        assert.ok(Date.now() - started < 15_000, `gave up after ${Date.now() - started} ms`);
      } finally {
        silent.closeAllConnections();
        silent.close();
      }
    },
  );

  test('a bucket that is not there stops the open with what S3 said', async () => {
    await assert.rejects(
      openS3BlobStore({
        bucket: 'no-such-bucket',
        keyPrefix: '',
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
      }),
      (err: unknown) =>
        err instanceof S3OpenError &&
        /cannot use s3:\/\/no-such-bucket\/ at http.*: there is no bucket 'no-such-bucket' \(HTTP 404\)/.test(
          err.message,
        ),
    );
  });

  test('a key S3 does not know stops the open as access denied, not an UnknownError', async () => {
    await assert.rejects(
      openS3BlobStore({
        bucket: BUCKET,
        keyPrefix: '',
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'x' },
      }),
      (err: unknown) =>
        err instanceof S3OpenError &&
        /access denied \(HTTP 403\): the credentials are not valid/.test(err.message),
    );
  });

  test(
    'when S3 goes away, every operation is a 503 DEPENDENCY_UNAVAILABLE',
    { timeout: 60_000 },
    async () => {
      const other = await startLocalS3([BUCKET]);
      const { store } = await openS3BlobStore({
        bucket: BUCKET,
        keyPrefix: '',
        region: 'us-east-1',
        endpoint: other.endpoint,
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
      });
      await store.put('a/b', Uint8Array.of(1));
      await other.stop();
      const down = eunhaError('DEPENDENCY_UNAVAILABLE');
      const ops: Array<[string, (s: BlobStore) => Promise<unknown>]> = [
        ['put', (s) => s.put('a/c', Uint8Array.of(1))],
        ['get', (s) => s.get('a/b')],
        ['size', (s) => s.size('a/b')],
        ['delete', (s) => s.delete('a/b')],
        ['deletePrefix', (s) => s.deletePrefix('a')],
        ['list', (s) => s.list('a')],
        ['usage', (s) => s.usage('')],
      ];
      for (const [name, op] of ops) await assert.rejects(op(store), down, name);
      await store.close();
      await assert.rejects(store.get('a/b'), down, 'closed');
    },
  );
});
