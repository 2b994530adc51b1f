// Killing a sandbox: the host terminates its thread and reports the exit. A host that does not
// report it in time (its thread stuck, or the whole host unable to run) is killed with its
// process: the fallback waits for the host's report, not for the slot's channel to close, which
// the caller does at once.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { HostProcess } from '../../src/runtime/host-process.js';
import { detectIsolation } from '../../src/runtime/isolation.js';

describe('the kill fallback', () => {
  const hosts: HostProcess[] = [];
  const spawn = (): HostProcess => {
    const host = HostProcess.spawn(detectIsolation(), 2, undefined, false);
    hosts.push(host);
    return host;
  };
  after(() => {
    for (const h of hosts) {
      try {
        process.kill(h.pid, 'SIGCONT');
      } catch {
        // Already gone.
      }
      h.kill();
    }
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test(
    'a host that never reports the thread gone is killed, after the grace',
    { timeout: 20_000 },
    async () => {
      const host = spawn();
      const sb = host.start({ noSnapshot: true });
      assert.ok(sb);
      await sleep(300);
      // A stopped process cannot answer; its sandbox's channel still closes at once.
      process.kill(host.pid, 'SIGSTOP');
      const started = Date.now();
      sb.kill();
      await sb.exited;
      assert.equal(host.dead, false, 'the channel closing is not the thread ending');
      const exit = await host.exited;
      const waited = Date.now() - started;
      assert.equal(exit.signal, 'SIGKILL');
      assert.ok(waited >= 1900 && waited < 10_000, `killed after ${waited} ms`);
    },
  );

  test('a host that reports the thread gone keeps running', { timeout: 20_000 }, async () => {
    const host = spawn();
    const sb = host.start({ noSnapshot: true });
    assert.ok(sb);
    await sleep(300);
    sb.kill();
    await sb.exited;
    const deadline = Date.now() + 5000;
    while (host.exitCodeOf(0) === undefined && Date.now() < deadline) await sleep(20);
    assert.notEqual(host.exitCodeOf(0), undefined, 'the host reported the thread gone');
    await sleep(2500);
    assert.equal(host.dead, false, 'the fallback fired although the thread was gone');
    // The host still starts sandboxes in its other slot.
    assert.ok(host.start({ noSnapshot: true }));
    await sleep(200);
    assert.equal(host.dead, false);
  });
});
