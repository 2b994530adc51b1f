// Artifacts: deterministic digests, idempotent storage (one listing, a few files at a time, exact
// through the meter), verification on load (a tampered file or manifest is an error), and image
// references that round-trip.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  STORE_CONCURRENCY,
  canonicalJson,
  describeArtifact,
  fileKey,
  loadArtifact,
  manifestKey,
  storeArtifact,
} from '../../src/build/artifact.js';
import { formatImageRef, parseImageRef } from '../../src/build/image-ref.js';
import { EunhaError } from '../../src/core/errors.js';
import type { StorageNeed } from '../../src/core/storage-quota.js';
import { workspaceBlobOwners } from '../../src/services/storage-quota.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import { MeteredBlobStore } from '../../src/store/metered-blobs.js';
import type { BlobStore, KnownBlob } from '../../src/store/ports.js';
import { overriding } from '../helpers/blob-overrides.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const FILES = { 'app.py': bytes('class IncomingHandler: pass\n'), 'lib/a.py': bytes('A = 1\n') };

describe('artifacts', () => {
  let dir: string;
  let blobs: BlobStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eunha-artifact-'));
    blobs = await openFsBlobStore(dir);
  });
  after(async () => {
    await blobs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the same files give the same digest, whatever their order; any change gives another', () => {
    const a = describeArtifact('hello', FILES);
    const b = describeArtifact('hello', { 'lib/a.py': FILES['lib/a.py'], 'app.py': FILES['app.py'] });
    assert.equal(a.digest, b.digest);
    assert.match(a.digest, /^[0-9a-f]{64}$/);
    assert.equal(a.digest, createHash('sha256').update(a.bytes).digest('hex'));
    assert.notEqual(describeArtifact('hello', { ...FILES, 'app.py': bytes('x') }).digest, a.digest);
    assert.notEqual(describeArtifact('other', FILES).digest, a.digest);
    assert.deepEqual(
      a.manifest.files.map((f) => f.path),
      ['app.py', 'lib/a.py'],
    );
    assert.equal(a.manifest.schema, 'eunha.artifact/v1');
    assert.equal(a.manifest.entry, 'app.py');
  });

  test('canonical JSON sorts keys at every level', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 'x', c: null }] }), '{"a":[{"c":null,"d":"x"}],"b":1}');
  });

  test('store is idempotent and load verifies every file', async () => {
    const first = await storeArtifact(blobs, 'ws-a', 'hello', FILES);
    const second = await storeArtifact(blobs, 'ws-a', 'hello', FILES);
    assert.equal(first.digest, second.digest);
    assert.equal(first.manifestKey, `artifacts/ws-a/${first.digest}/manifest.json`);
    assert.deepEqual(await blobs.list(`artifacts/ws-a/${first.digest}`), [
      `artifacts/ws-a/${first.digest}/files/app.py`,
      `artifacts/ws-a/${first.digest}/files/lib/a.py`,
      `artifacts/ws-a/${first.digest}/manifest.json`,
    ]);
    const loaded = await loadArtifact(blobs, 'ws-a', first.digest);
    assert.deepEqual(loaded.manifest, first.manifest);
    assert.deepEqual(
      Object.fromEntries(Object.entries(loaded.files).map(([k, v]) => [k, Buffer.from(v).toString()])),
      { 'app.py': 'class IncomingHandler: pass\n', 'lib/a.py': 'A = 1\n' },
    );
  });

  test('a tampered file or manifest is an error, not silently served; a rebuild repairs it', async () => {
    const { digest } = await storeArtifact(blobs, 'ws-t', 'hello', FILES);
    await blobs.put(fileKey('ws-t', digest, 'lib/a.py'), bytes('A = 2\n'));
    await assert.rejects(loadArtifact(blobs, 'ws-t', digest), (err: unknown) => {
      assert.ok(err instanceof EunhaError);
      assert.equal(err.code, 'INTERNAL_ERROR');
      assert.match(err.message, /corrupt: lib\/a\.py does not match its sha256/);
      return true;
    });
    await storeArtifact(blobs, 'ws-t', 'hello', FILES);
    await loadArtifact(blobs, 'ws-t', digest);

    const mKey = manifestKey('ws-t', digest);
    const manifest = Buffer.from((await blobs.get(mKey)) ?? new Uint8Array()).toString();
    await blobs.put(mKey, bytes(manifest.replace('"hello"', '"hellp"')));
    await assert.rejects(loadArtifact(blobs, 'ws-t', digest), /manifest\.json does not match the digest/);
  });

  test('a store lists the artifact once, writes 8 files at a time, and says what was at each key', async () => {
    const many = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [i === 0 ? 'app.py' : `lib/m${i}.py`, bytes(`M = ${i}\n`)]),
    );
    const lists: string[] = [];
    const puts: Array<{ key: string; known: KnownBlob | undefined }> = [];
    let running = 0;
    let most = 0;
    const watched = overriding(blobs, {
      list: (prefix) => {
        lists.push(prefix);
        return blobs.list(prefix);
      },
      put: async (key, data, known) => {
        puts.push({ key, known });
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await blobs.put(key, data, known);
        running--;
      },
    });
    const needs: StorageNeed[] = [];
    let released = 0;
    const reserve = async (need: StorageNeed) => {
      needs.push(need);
      return () => void released++;
    };
    const first = await storeArtifact(watched, 'ws-c', 'many', many, { reserve });
    assert.deepEqual(lists, [`artifacts/ws-c/${first.digest}`], 'one listing for the cost and the store');
    assert.ok(STORE_CONCURRENCY > 1);
    assert.equal(most, STORE_CONCURRENCY, 'the files went a few at a time, not one by one');
    assert.equal(puts.length, 31);
    assert.equal(puts.at(-1)?.key, first.manifestKey, 'the manifest last');
    assert.ok(
      puts.every((p) => p.known !== undefined && p.known.sizeBefore === undefined),
      'all new keys',
    );
    const described = describeArtifact('many', many);
    const fileBytes = described.manifest.files.reduce((n, f) => n + f.size, 0);
    assert.deepEqual(needs, [{ bytes: fileBytes + described.bytes.byteLength, blobs: 31 }]);
    assert.equal(released, 1);

    // Stored again with one file damaged: only that one is written, and the store says its size.
    await blobs.put(fileKey('ws-c', first.digest, 'lib/m7.py'), bytes('damaged!!'));
    lists.length = 0;
    puts.length = 0;
    await storeArtifact(watched, 'ws-c', 'many', many, { reserve });
    assert.equal(lists.length, 1);
    assert.deepEqual(puts, [{ key: fileKey('ws-c', first.digest, 'lib/m7.py'), known: { sizeBefore: 9 } }]);
    assert.deepEqual(needs.at(-1), { bytes: 0, blobs: 0 }, 'stored already: it costs nothing');
    await loadArtifact(blobs, 'ws-c', first.digest);
  });

  test('a load reads 8 files at a time and gives them back as the manifest lists them', async () => {
    const many = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [i === 0 ? 'app.py' : `lib/m${i}.py`, bytes(`M = ${i}\n`)]),
    );
    const stored = await storeArtifact(blobs, 'ws-r', 'reads', many);
    let running = 0;
    let most = 0;
    const watched = overriding(blobs, {
      get: async (key) => {
        most = Math.max(most, ++running);
        // The later files answer first: the order must come from the manifest, not the answers.
        await new Promise((resolve) => setTimeout(resolve, key.endsWith('app.py') ? 20 : 2));
        running--;
        return blobs.get(key);
      },
    });
    const loaded = await loadArtifact(watched, 'ws-r', stored.digest);
    assert.equal(most, STORE_CONCURRENCY);
    assert.deepEqual(
      Object.keys(loaded.files),
      stored.manifest.files.map((f) => f.path),
    );
    for (const [path, data] of Object.entries(many))
      assert.deepEqual(Buffer.from(loaded.files[path] as Uint8Array), Buffer.from(data), path);
    // A damaged file among them is still found.
    await blobs.put(fileKey('ws-r', stored.digest, 'lib/m29.py'), bytes('M = 28\n'));
    await assert.rejects(
      loadArtifact(watched, 'ws-r', stored.digest),
      /lib\/m29\.py does not match its sha256/,
    );
  });

  test('a failed write starts no more: the store fails once the writes under way have landed', async () => {
    const many = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [i === 0 ? 'app.py' : `lib/f${i}.py`, bytes(`F = ${i}\n`)]),
    );
    let started = 0;
    let landed = 0;
    const failing = overriding(blobs, {
      put: async (key, data) => {
        const n = ++started;
        await new Promise((resolve) => setTimeout(resolve, n === 3 ? 1 : 20));
        if (n === 3) throw new Error('storage went away');
        await blobs.put(key, data);
        landed++;
      },
    });
    await assert.rejects(storeArtifact(failing, 'ws-f', 'many', many), /storage went away/);
    assert.equal(started, STORE_CONCURRENCY, 'none began after the failure');
    assert.equal(landed, STORE_CONCURRENCY - 1, 'those under way had landed when it failed');
    const digest = describeArtifact('many', many).digest;
    assert.equal(await blobs.size(manifestKey('ws-f', digest)), undefined, 'no manifest');
  });

  test('through the meter, a store a few files at a time keeps the total exact, repairs too', async () => {
    const metered = new MeteredBlobStore(blobs, workspaceBlobOwners);
    const ws = 'ws-m';
    const walked = async () => {
      const sum = { bytes: 0, blobs: 0 };
      for (const prefix of workspaceBlobOwners.prefixesOf(ws)) {
        const u = await blobs.usage(prefix);
        sum.bytes += u.bytes;
        sum.blobs += u.blobs;
      }
      return sum;
    };
    await metered.put(`code/${ws}/f/x.py`, bytes('x = 1\n'));
    await metered.usageOf(ws);
    const many = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [i === 0 ? 'app.py' : `pkg/n${i}.py`, bytes(`N = ${i}\n`)]),
    );
    const { digest } = await storeArtifact(metered, ws, 'many', many);
    assert.deepEqual(await metered.usageOf(ws), await walked());
    await metered.put(fileKey(ws, digest, 'pkg/n3.py'), bytes('a longer damaged copy\n'));
    await metered.delete(fileKey(ws, digest, 'pkg/n4.py'));
    await storeArtifact(metered, ws, 'many', many);
    assert.deepEqual(await metered.usageOf(ws), await walked());
    assert.equal((await metered.usageOf(ws)).blobs, 52);
  });

  test('an unknown digest, or one of another workspace, is NOT_FOUND', async () => {
    const { digest } = await storeArtifact(blobs, 'ws-n', 'hello', FILES);
    for (const [ws, d] of [
      ['ws-n', '0'.repeat(64)],
      ['ws-other', digest],
      ['ws-n', 'nothex'],
    ] as const) {
      await assert.rejects(loadArtifact(blobs, ws, d), (err: unknown) => {
        assert.ok(err instanceof EunhaError);
        assert.equal(err.code, 'NOT_FOUND');
        return true;
      });
    }
  });
});

describe('image references', () => {
  const digest = 'ab'.repeat(32);

  test('the default tag "sha256" is the first 12 hex digits; refs parse back', () => {
    const ref = formatImageRef('ws-default', 'hello', 'sha256', digest);
    assert.equal(ref, `local/ws-default/hello:${digest.slice(0, 12)}@sha256:${digest}`);
    assert.deepEqual(parseImageRef(ref), {
      registry: 'local',
      workspaceId: 'ws-default',
      app: 'hello',
      tag: digest.slice(0, 12),
      digest,
    });
    assert.equal(
      formatImageRef('ws-a1b2c3d4', 'my-app', 'v1.2', digest).split('@')[0],
      'local/ws-a1b2c3d4/my-app:v1.2',
    );
    assert.equal(parseImageRef(`local/ws-x/app@sha256:${digest}`).tag, null);
  });

  test('refs without a digest, from other registries or malformed are VALIDATION_ERROR on image_ref', () => {
    for (const [ref, pattern] of [
      ['local/ws-x/app:latest', /must pin its digest/],
      ['123.dkr.ecr.ap-northeast-2.amazonaws.com/app:v1', /external registries is not supported/],
      [`local/ws-x/App@sha256:${digest}`, /malformed/],
      [`local/ws-x/app@sha256:${digest.slice(1)}`, /malformed/],
      [`local/../app@sha256:${digest}`, /malformed/],
    ] as const) {
      assert.throws(
        () => parseImageRef(ref),
        (err: unknown) => {
          assert.ok(err instanceof EunhaError);
          assert.equal(err.details.field, 'image_ref');
          assert.match(err.message, pattern);
          return true;
        },
        ref,
      );
    }
  });
});
