// The warm pool when a boot never ends: a host process that is stopped (SIGSTOP here; in life a
// wedged or swapped-out process) must not hold the takers waiting for it. Its boot is given up
// on at the deadline, the process gets no more boots, and the taker goes on with another
// process. Also: no boots once the runtime is closing; boots that fail back off; a snapshot
// deleted under a running pool is made again.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { detectIsolation } from '../../src/runtime/isolation.js';
import { ensureSnapshot, snapshotPath } from '../../src/runtime/snapshot.js';
import { WarmPool } from '../../src/runtime/warm-pool.js';
import { CACHE_DIR } from './helpers.js';

// Every boot in these pools has this deadline, the replacements too: long enough for a boot beside
// another test file on 2 cores.
const BOOT_TIMEOUT_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live (not zombie) child processes of this test process. */
function children(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z') out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

async function newChild(known: number[]): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const fresh = children().filter((p) => !known.includes(p));
    if (fresh.length > 0) return fresh[0]!;
    assert.ok(Date.now() < deadline, 'no host process was started');
    await sleep(2);
  }
}

describe('warm pool: boots that hang', () => {
  const pools: WarmPool[] = [];
  const stopped: number[] = [];
  const pool = (target: number, perProcess: number, log: Record<string, unknown>[]): WarmPool => {
    const p = new WarmPool(
      detectIsolation(),
      () => ensureSnapshot(CACHE_DIR),
      target,
      1,
      perProcess,
      BOOT_TIMEOUT_MS,
      (e) => log.push(e),
    );
    pools.push(p);
    return p;
  };
  const stop = (pid: number): void => {
    stopped.push(pid);
    process.kill(pid, 'SIGSTOP');
  };
  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Already gone.
      }
    }
    await Promise.all(pools.map((p) => p.close()));
  });

  test(
    "the pool's refill hangs: every taker waiting for it boots a process of its own at the deadline",
    { timeout: 40_000 },
    async () => {
      await ensureSnapshot(CACHE_DIR);
      const log: Record<string, unknown>[] = [];
      const p = pool(1, 2, log);
      const known = children();
      const t0 = Date.now();
      p.fill();
      const hung = await newChild(known);
      stop(hung);
      assert.equal(p.stats.booting, 1);
      // Without a deadline these wait for the pool's boot for ever; with it, but waking one taker
      // per ended boot, the second and third would.
      const sbs = await Promise.all(['a', 'b', 'c'].map((w) => p.take(`ws-pool-hang-${w}`)));
      const waited = Date.now() - t0;
      const pids = new Set(sbs.map((sb) => sb.pid));
      assert.equal(pids.size, 3, 'each workspace got a process of its own');
      assert.ok(!pids.has(hung));
      assert.ok(waited >= BOOT_TIMEOUT_MS && waited < 25_000, `waited ${waited} ms`);
      const failure = log.find((e) => e.msg === 'sandbox boot failed');
      assert.match(String(failure?.error), new RegExp(`did not boot within ${BOOT_TIMEOUT_MS} ms`));
      // The stopped process was killed, not left behind.
      const deadline = Date.now() + 5000;
      while (children().includes(hung) && Date.now() < deadline) await sleep(20);
      assert.ok(!children().includes(hung), 'the hung process is still there');
      assert.ok(sbs.every((sb) => !sb.dead));
    },
  );

  test(
    "a workspace's spare boot hangs: the next taker goes on elsewhere, and the process boots no more",
    { timeout: 40_000 },
    async () => {
      await ensureSnapshot(CACHE_DIR);
      const log: Record<string, unknown>[] = [];
      const p = pool(0, 4, log);
      const first = await p.take('ws-spare-hang');
      const host = first.host;
      // The workspace's next sandbox starts booting in the same process; the process stops.
      const t0 = Date.now();
      p.settle(first);
      stop(host.pid);
      assert.ok(host.spareBoot, 'the spare boot started');
      const second = await p.take('ws-spare-hang');
      const waited = Date.now() - t0;
      assert.notEqual(second.pid, host.pid, 'the taker waited for the hung process');
      assert.ok(waited >= BOOT_TIMEOUT_MS && waited < 25_000, `waited ${waited} ms`);
      assert.equal(host.freeSlots, 0, 'the process that hung still boots sandboxes');
      // Stopped, it cannot report its thread gone either: the kill fallback takes the process.
      const exit = await Promise.race([host.exited, sleep(8000).then(() => null)]);
      assert.equal(exit?.signal, 'SIGKILL');
    },
  );

  test('no boots once the runtime is closing', async () => {
    const p = pool(0, 2, []);
    const known = children();
    p.closing();
    await assert.rejects(p.take('ws-closing'), { code: 'SHUTTING_DOWN' });
    await sleep(100);
    assert.deepEqual(
      children().filter((c) => !known.includes(c)),
      [],
    );
  });
});

describe('warm pool: boots that fail', () => {
  test('a failed refill waits before the next one, even with processes ready (no hot loop)', async () => {
    const real = await ensureSnapshot(CACHE_DIR);
    // The first boot gets the real file, later ones a path that is gone (as after the cache was
    // cleaned). Past 200 calls it gives the real one again, so that the loop this test is about
    // ends and the test fails rather than hangs: it never yielded to the event loop.
    let calls = 0;
    const log: Record<string, unknown>[] = [];
    const p = new WarmPool(
      detectIsolation(),
      () => Promise.resolve(++calls === 1 || calls > 200 ? real : join(tmpdir(), 'eunha-no-such.snapshot')),
      2,
      1,
      1,
      BOOT_TIMEOUT_MS,
      (e) => log.push(e),
    );
    try {
      p.fill();
      const deadline = Date.now() + 20_000;
      while (p.stats.ready === 0 && Date.now() < deadline) await sleep(20);
      assert.equal(p.stats.ready, 1, 'the first boot did not end');
      await sleep(1500);
      const failed = log.filter((e) => e.msg === 'sandbox boot failed');
      // One at once, one a second later (the next waits two): two calls each, one a remake.
      assert.ok(calls <= 5, `${calls} snapshot lookups in 1.5 s`);
      assert.ok(failed.length >= 1 && failed.length <= 2, `${failed.length} failed boots in 1.5 s`);
      assert.deepEqual(
        failed.map((e) => e.retryInMs),
        [1000, 2000].slice(0, failed.length),
      );
    } finally {
      await p.close();
    }
  });

  test(
    'a snapshot deleted under a running pool is made again, and the boot goes on',
    { timeout: 120_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eunha-snap-gone-'));
      const path = snapshotPath(dir);
      copyFileSync(await ensureSnapshot(CACHE_DIR), path);
      const log: Record<string, unknown>[] = [];
      const p = new WarmPool(
        detectIsolation(),
        () => ensureSnapshot(dir),
        0,
        1,
        1,
        60_000,
        (e) => log.push(e),
      );
      try {
        const first = await p.take('ws-snap-1');
        rmSync(dir, { recursive: true });
        // Another workspace: a process of its own, spawned with the snapshot's file.
        const second = await p.take('ws-snap-2');
        assert.notEqual(second.pid, first.pid);
        assert.ok(existsSync(path), 'the snapshot was not made again');
        assert.deepEqual(
          log.map((e) => e.msg),
          ['the sandbox snapshot is gone from its cache: making it again'],
        );
      } finally {
        await p.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
