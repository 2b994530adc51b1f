// The artifact collector (src/build/artifact-collector.ts) against real stores: it removes the
// artifacts nothing names, keeps those a deployment or a task names, keeps a pinned one (a build
// that stored it and has not yet written the record naming it) until the pin is released or runs
// out, and never removes one while a pin's store of it runs. Task retention removes the artifacts
// of the tasks it deletes through it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ArtifactCollector, PIN_MS, digestOfTask } from '../../src/build/artifact-collector.js';
import { artifactPrefix, formatImageRef, manifestKey, storeArtifact } from '../../src/build/index.js';
import { TaskRetention } from '../../src/build/task-retention.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import type { BlobStore, MetadataStore } from '../../src/store/ports.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';
import { HOUR, at, deployment, fn, task, workspace } from '../store/fixtures.js';

const files = (tag: string) => ({ 'app.py': Buffer.from(`# ${tag}\n`) });

describe('ArtifactCollector', () => {
  let dir: string;
  let meta: MetadataStore;
  let blobs: BlobStore;
  let now = Date.parse('2026-11-27T12:00:00Z');
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eunha-collector-'));
    meta = await openSqliteMetadataStore(join(dir, 'eunha.db'), { now: () => new Date(now) });
    blobs = await openFsBlobStore(join(dir, 'blobs'));
  });
  after(async () => {
    await meta.close();
    await blobs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const newWorkspace = async () => {
    const ws = workspace();
    await meta.createWorkspace(ws);
    return ws.id;
  };
  const store = async (ws: string, tag: string) => (await storeArtifact(blobs, ws, 'app', files(tag))).digest;
  const present = async (ws: string, digest: string) =>
    (await blobs.list(manifestKey(ws, digest))).length > 0;

  test('removes what nothing names; keeps what a deployment or a task names', async () => {
    const ws = await newWorkspace();
    const collector = new ArtifactCollector(meta, blobs, () => now);
    const [loose, deployed, built] = [
      await store(ws, 'loose'),
      await store(ws, 'deployed'),
      await store(ws, 'built'),
    ];
    const f = fn(ws);
    await meta.createFunction(f);
    await meta.createDeployment(deployment(f, { digest: deployed }));
    const t = task(ws, {
      status: 'completed',
      result: {
        image_url: formatImageRef(ws, 'app', 'latest', built),
        wasm_path: manifestKey(ws, built),
        file_path: null,
      },
    });
    await meta.putTask(t);
    assert.equal(digestOfTask(t), built);
    assert.equal(await collector.collect(ws, [loose, deployed, built, loose]), 1);
    assert.deepEqual(
      [await present(ws, loose), await present(ws, deployed), await present(ws, built)],
      [false, true, true],
    );
    assert.deepEqual(
      await blobs.list(artifactPrefix(ws, loose)),
      [],
      'every file of it, not just the manifest',
    );
  });

  test('a pinned artifact stays until its pin is released, or has run out', async () => {
    const ws = await newWorkspace();
    const collector = new ArtifactCollector(meta, blobs, () => now);
    const digest = await store(ws, 'p1');
    const first = await collector.pin(ws, digest, async () => 'stored');
    assert.equal(first.value, 'stored');
    const second = await collector.pin(ws, digest, async () => undefined);
    assert.equal(await collector.collect(ws, [digest]), 0, 'pinned twice');
    first.release();
    first.release(); // once is all it counts
    assert.equal(await collector.collect(ws, [digest]), 0, 'still pinned once');
    second.release();
    assert.equal(await collector.collect(ws, [digest]), 1, 'released');

    const other = await store(ws, 'p2');
    await collector.pin(ws, other, async () => undefined); // never released: a lost caller
    assert.equal(await collector.collect(ws, [other]), 0);
    now += PIN_MS + 1;
    assert.equal(await collector.collect(ws, [other]), 1, 'the pin ran out');
  });

  test('a failed pin releases itself', async () => {
    const ws = await newWorkspace();
    const collector = new ArtifactCollector(meta, blobs, () => now);
    const digest = await store(ws, 'f');
    await assert.rejects(
      collector.pin(ws, digest, async () => {
        throw new Error('store failed');
      }),
      /store failed/,
    );
    assert.equal(await collector.collect(ws, [digest]), 1);
  });

  test('a removal waits for a store under way, then sees its pin', async () => {
    const ws = await newWorkspace();
    const collector = new ArtifactCollector(meta, blobs, () => now);
    const digest = await store(ws, 'race');
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let stored = false;
    const pinning = collector.pin(ws, digest, async () => {
      await gate; // the store is slow; the removal below arrives meanwhile
      await store(ws, 'race');
      stored = true;
    });
    const removal = collector.collect(ws, [digest]);
    await new Promise((r) => setTimeout(r, 20));
    open();
    const [pinned, removed] = await Promise.all([pinning, removal]);
    assert.ok(stored);
    assert.equal(removed, 0, 'the removal ran after the store, and the pin kept it');
    assert.ok(await present(ws, digest), 'what the store wrote is whole');
    pinned.release();
  });

  test('a digest another function names while an earlier one of the same removal goes is kept', async () => {
    const ws = await newWorkspace();
    const [a, b] = [await store(ws, 'first'), await store(ws, 'second')];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Removing A is slow (many files): held until B has been deployed elsewhere.
    const slow = {
      deletePrefix: async (prefix: string) => {
        if (prefix === artifactPrefix(ws, a)) await gate;
        await blobs.deletePrefix(prefix);
      },
    };
    const collector = new ArtifactCollector(meta, slow, () => now);
    // A deleted function named A and B; nothing names them now.
    const removal = collector.collect(ws, [a, b]);
    await new Promise((r) => setTimeout(r, 30)); // inside A's turn, past its read of the records
    // Another function deploys B as /api/v1/deploy does: pin, record, release.
    const other = fn(ws);
    await meta.createFunction(other);
    const pinned = await collector.pin(ws, b, async () => undefined);
    await meta.createDeployment(deployment(other, { digest: b }));
    pinned.release();
    open();
    assert.equal(await removal, 1, 'A only');
    assert.deepEqual([await present(ws, a), await present(ws, b)], [false, true]);
  });

  test('task retention removes the artifacts of the tasks it deletes, unless something names them', async () => {
    const ws = await newWorkspace();
    const collector = new ArtifactCollector(meta, blobs, () => now);
    const [alone, shared] = [await store(ws, 'alone'), await store(ws, 'shared')];
    const result = (digest: string) => ({
      image_url: formatImageRef(ws, 'app', 'latest', digest),
      wasm_path: manifestKey(ws, digest),
      file_path: null,
    });
    const old = at(new Date(now), -40 * 24 * HOUR);
    await meta.putTask(task(ws, { status: 'completed', updatedAt: old, result: result(alone) }));
    await meta.putTask(task(ws, { status: 'completed', updatedAt: old, result: result(shared) }));
    await meta.putTask(
      task(ws, { status: 'completed', updatedAt: new Date(now).toISOString(), result: result(shared) }),
    );
    const retention = new TaskRetention(meta, blobs, () => new Date(now), {
      retentionMs: 30 * 24 * HOUR,
      collectArtifacts: (w, digests) => collector.collect(w, digests),
    });
    await retention.sweep(); // (tasks of the tests above go too: they are old)
    assert.equal((await meta.listTasks(ws)).length, 1, 'the two old ones went');
    assert.deepEqual([await present(ws, alone), await present(ws, shared)], [false, true]);
    await retention.close();
  });
});
