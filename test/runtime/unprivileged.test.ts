// The runtime as an ordinary user runs it (`npm start` on a laptop, not root): the root-only
// isolation layers are reported as missing, functions still serve, and no sandbox is left at a
// lowered priority that only root could raise again. Run through setpriv as `nobody` when the
// suite runs as root (CI does); skipped otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../../src/runtime/index.js';
import { ensureSnapshot } from '../../src/runtime/snapshot.js';
import { CACHE_DIR, MemoryKv } from './helpers.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;

test(
  'as an unprivileged user: no root-only layers, functions serve, sandboxes boot and serve at nice 0',
  { skip: !(isRoot && hasSetpriv) && 'needs root and setpriv to switch to an unprivileged uid' },
  async () => {
    // As root, background boots are niced and taken sandboxes renice back to 0.
    const rt = new Runtime({ kv: new MemoryKv(), cacheDir: CACHE_DIR, poolSize: 0 });
    await rt.start();
    assert.equal(rt.stats().isolation.bootsNiced, true);
    await rt.close();

    // The child gets a copy of the snapshot it can read, so that it does not make one (~5 s).
    const cache = mkdtempSync(join(tmpdir(), 'eunha-unprivileged-'));
    try {
      chmodSync(cache, 0o755);
      const snap = await ensureSnapshot(CACHE_DIR);
      copyFileSync(snap, join(cache, basename(snap)));
      chmodSync(join(cache, basename(snap)), 0o644);
      const child = fileURLToPath(new URL('./unprivileged-child.js', import.meta.url));
      const r = spawnSync(
        'setpriv',
        [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, child, cache],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(r.status, 0, `child failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        uid: number;
        bodies: string[];
        isolation: {
          bootsNiced: boolean;
          privilegesDropped: boolean;
          filesJailed: boolean;
          warnings: string[];
        };
        hostNices: number[];
      };
      assert.equal(out.uid, NOBODY);
      // The host keeps the caller's uid without root, but the guest sees the sandbox's own uid 0.
      assert.deepEqual(out.bodies, Array(3).fill('hello as 0'));
      assert.equal(out.isolation.privilegesDropped, false);
      assert.equal(out.isolation.filesJailed, false);
      assert.ok(out.isolation.warnings.some((w) => w.includes('not running as root')));
      assert.equal(out.isolation.bootsNiced, false);
      // The serving sandbox, the spare booted beside it and the host's main thread: all at 0.
      assert.ok(out.hostNices.length >= 3, `threads: ${out.hostNices.join(',')}`);
      assert.deepEqual(
        out.hostNices.filter((n) => n !== 0),
        [],
      );
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  },
);
