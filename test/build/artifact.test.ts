// Artifacts: deterministic digests, idempotent storage, verification on load (a tampered file or
// manifest is an error), and image references that round-trip.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  canonicalJson,
  describeArtifact,
  fileKey,
  loadArtifact,
  manifestKey,
  storeArtifact,
} from '../../src/build/artifact.js';
import { formatImageRef, parseImageRef } from '../../src/build/image-ref.js';
import { EunhaError } from '../../src/core/errors.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import type { BlobStore } from '../../src/store/ports.js';

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
