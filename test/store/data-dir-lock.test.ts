// The data directory's lock over an older build's pid file at the same path: replaced when that
// process has gone (an upgrade refused to start on it, saying only SQLITE_NOTADB), and named when
// it still runs.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataDirInUseError, lockDataDir } from '../../src/store/data-dir-lock.js';

const inDir = (body: (dir: string) => Promise<void> | void) => async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-oldlock-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test(
  'an older build’s pid file whose process has gone is replaced by the lock',
  inDir((dir) => {
    // The largest pid Linux gives is 2^22: this one is nobody.
    writeFileSync(join(dir, 'eunha.lock'), '99999999\n');
    const unlock = lockDataDir(dir);
    try {
      assert.throws(() => lockDataDir(dir), DataDirInUseError, 'and it is a lock like any other');
    } finally {
      unlock();
    }
  }),
);

test(
  'an older build’s pid file whose process runs names it, and the file stays',
  inDir(async (dir) => {
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'eunha.lock'), `${other.pid}\n`);
      assert.throws(
        () => lockDataDir(dir),
        (e: unknown) =>
          e instanceof DataDirInUseError &&
          e.pid === other.pid &&
          /an older Eunha's lock file; if that process is no Eunha server, delete/.test(e.message),
      );
    } finally {
      other.kill();
    }
  }),
);

test(
  'another file that is no database is still refused as such',
  inDir((dir) => {
    writeFileSync(join(dir, 'eunha.lock'), 'not a database, but long enough to be read as one '.repeat(4));
    assert.throws(() => lockDataDir(dir), /not a database/);
  }),
);
