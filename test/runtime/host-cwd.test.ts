// The hosts' working directory: gone when its server process exits, and a start removes those of
// server processes that died without exiting; a live process's is left alone.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const MODULE = new URL('../../src/runtime/host-cwd.js', import.meta.url).href;

/** A node process with its own temp directory that makes the directory and prints it. */
function serverProcess(tmp: string): { dir: string } {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { hostWorkingDir } = await import(${JSON.stringify(MODULE)}); console.log(hostWorkingDir());`,
    ],
    { env: { PATH: process.env.PATH ?? '', TMPDIR: tmp }, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return { dir: r.stdout.trim() };
}

test('the directory is removed when its process exits, and dead processes’ ones at the next start', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'eunha-hostcwd-'));
  try {
    const { dir } = serverProcess(tmp);
    assert.match(dir, /eunha-sandbox-\d+-/);
    assert.equal(existsSync(dir), false, 'removed at exit');

    // One left by a process that died without exiting (its pid is gone), and one of a live
    // process (this one): only the first goes.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    mkdirSync(join(tmp, `eunha-sandbox-${dead}-abc123`));
    mkdirSync(join(tmp, `eunha-sandbox-${process.pid}-def456`));
    serverProcess(tmp);
    assert.deepEqual(readdirSync(tmp), [`eunha-sandbox-${process.pid}-def456`]);
    assert.equal(existsSync(join(tmp, `eunha-sandbox-${dead}-abc123`)), false, 'a dead process’s is swept');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
