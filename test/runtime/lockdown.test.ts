// The lockdown's os.setPriority denier, in a process of its own (the lockdown cannot be undone):
// guest code that reached JavaScript cannot renice anything, while the sandbox's own copy, taken
// at import, still sets its thread's nice value.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const lockdown = fileURLToPath(new URL('../../src/runtime/host/lockdown.js', import.meta.url));
const threadNice = fileURLToPath(new URL('../../src/runtime/host/thread-nice.js', import.meta.url));

describe('lockdown', () => {
  test('os.setPriority is denied after the lockdown; a request past 5 ms of CPU still yields its thread', () => {
    const script = `
      import os from 'node:os';
      const { startRequest, yieldIfLong } = await import(${JSON.stringify(threadNice)});
      const { disarmFilesAndProcess } = await import(${JSON.stringify(lockdown)});
      const getPriority = os.getPriority;
      disarmFilesAndProcess();
      let denied = '';
      try { os.setPriority(0, 1); } catch (e) { denied = e.message; }
      startRequest(3, Date.now());
      const early = yieldIfLong(1);
      const before = getPriority(0);
      const yielded = yieldIfLong(5);
      console.log(JSON.stringify({ denied, early, before, yielded, nice: getPriority(0) }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      denied: 'os.setPriority is disabled in the Eunha sandbox',
      early: false,
      before: 0,
      yielded: true,
      nice: 3,
    });
  });
});
