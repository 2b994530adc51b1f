// Safe defaults of the server process: open on loopback without an admin key (and says so
// loudly), refuses to start on any other address without one (exit 2, naming EUNHA_ADMIN_KEY),
// and enforces keys whenever an admin key is configured, loopback included.

import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isLoopback, loadConfig, requireProtectedBinding } from '../../src/config/config.js';
import { SHARED_CACHE_DIR, startTestPlatform } from '../helpers/platform.js';
import { startServer } from '../helpers/server-process.js';
import { ADMIN_KEY } from './world.js';
import Database from 'better-sqlite3';

describe('start-up safety', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eunha-startup-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { EUNHA_DATA_DIR: dataDir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '0' };

  test('refuses to listen on 0.0.0.0 without EUNHA_ADMIN_KEY: exit 2, the variable named', async () => {
    let err: unknown;
    try {
      const s = await startServer({ ...env, EUNHA_HOST: '0.0.0.0' });
      s.child.kill('SIGKILL');
    } catch (e) {
      err = e;
    }
    assert.match(String(err), /exited with 2/);
    assert.match(String(err), /EUNHA_ADMIN_KEY/);
  });

  test('a damaged secrets key file stops the start in one line, exit 2, naming what to fix', async () => {
    const own = mkdtempSync(join(tmpdir(), 'eunha-badkey-'));
    try {
      writeFileSync(join(own, 'secrets.key'), '');
      let err: unknown;
      try {
        const s = await startServer({ ...env, EUNHA_DATA_DIR: own });
        s.child.kill('SIGKILL');
      } catch (e) {
        err = e;
      }
      assert.match(String(err), /exited with 2/);
      assert.match(
        String(err),
        /eunha: failed to start: invalid configuration: EUNHA_SECRETS_KEY: .*secrets\.key/,
      );
      assert.doesNotMatch(String(err), /\n\s+at /, 'no stack trace');
      // The key is created whole or not at all: no temporary file is left beside it.
      assert.deepEqual(
        readdirSync(own).filter((f) => f.startsWith('secrets.key')),
        ['secrets.key'],
      );
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  test('on 0.0.0.0 with an admin key it starts, and enforces keys', { timeout: 60_000 }, async () => {
    const s = await startServer({ ...env, EUNHA_HOST: '0.0.0.0', EUNHA_ADMIN_KEY: ADMIN_KEY });
    try {
      const url = s.url.replace('0.0.0.0', '127.0.0.1');
      assert.equal((await fetch(`${url}/health`)).status, 200);
      assert.equal((await fetch(`${url}/api/workspaces`)).status, 401);
      assert.equal(
        (await fetch(`${url}/api/workspaces`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status,
        200,
      );
      assert.doesNotMatch(s.output(), /ACCESS CONTROL IS OFF/);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  test(
    'on loopback without a key it runs open and warns loudly; the secrets key file is 0600',
    { timeout: 60_000 },
    async () => {
      const s = await startServer(env);
      try {
        assert.equal((await fetch(`${s.url}/api/workspaces`)).status, 200);
        assert.match(s.output(), /ACCESS CONTROL IS OFF/);
        assert.equal(statSync(join(dataDir, 'secrets.key')).mode & 0o777, 0o600);
      } finally {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    },
  );

  test("the data directory is for the server's user only, made so or set so at start", async () => {
    for (const existing of [false, true]) {
      const parent = mkdtempSync(join(tmpdir(), 'eunha-private-'));
      const dir = join(parent, 'data');
      if (existing) {
        mkdirSync(dir);
        chmodSync(dir, 0o755);
      }
      const p = await startTestPlatform({}, dir);
      try {
        assert.equal(
          statSync(dir).mode & 0o777,
          0o700,
          existing ? 'an existing 0755 directory' : 'a new one',
        );
      } finally {
        await p.cleanup();
        rmSync(parent, { recursive: true, force: true });
      }
    }
  });

  test('loopback detection and the binding rule', () => {
    for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) assert.ok(!isLoopback(h), h);
    const open = loadConfig({});
    assert.throws(() => requireProtectedBinding(open, '0.0.0.0'), /EUNHA_ADMIN_KEY/);
    requireProtectedBinding(open, '127.0.0.1');
    requireProtectedBinding(loadConfig({ EUNHA_ADMIN_KEY: ADMIN_KEY }), '0.0.0.0');
  });

  test('config validates the new variables and names them', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ EUNHA_ADMIN_KEY: 'short' }, 'EUNHA_ADMIN_KEY'],
      [{ EUNHA_ADMIN_KEY: 'has spaces in it but is long enough' }, 'EUNHA_ADMIN_KEY'],
      [{ EUNHA_SECRETS_KEY: 'c2hvcnQ=' }, 'EUNHA_SECRETS_KEY'],
      [{ EUNHA_SECRETS_KEY: 'not base64 at all!' }, 'EUNHA_SECRETS_KEY'],
      [{ EUNHA_RATE_LIMIT_PER_MINUTE: '-1' }, 'EUNHA_RATE_LIMIT_PER_MINUTE'],
      [{ EUNHA_HEADERS_TIMEOUT_MS: '5000', EUNHA_REQUEST_TIMEOUT_MS: '2000' }, 'EUNHA_HEADERS_TIMEOUT_MS'],
    ];
    for (const [e, name] of bad)
      assert.throws(() => loadConfig(e), new RegExp(`^ConfigError: ${name}|${name}`), JSON.stringify(e));
    const c = loadConfig({
      EUNHA_ADMIN_KEY: ADMIN_KEY,
      EUNHA_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
    });
    assert.equal(c.adminKey, ADMIN_KEY);
    assert.equal(c.secretsKey?.length, 32);
    assert.equal(c.rateLimitPerMinute, 600);
  });

  /** What a start that must fail printed; it fails the test if the server listened. */
  const refusal = async (vars: Record<string, string>, cwd?: string): Promise<string> => {
    try {
      const s = await startServer(vars, 20_000, cwd);
      s.child.kill('SIGKILL');
      await s.exited;
    } catch (e) {
      return String(e);
    }
    return assert.fail(`the server started with ${JSON.stringify(vars)}`);
  };
  const oneLine = (err: string, code: number, pattern: RegExp) => {
    assert.match(err, new RegExp(`exited with ${code}`), err);
    assert.match(err, pattern);
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
  };

  test('a blank path is refused, not taken for the current directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'eunha-cwd-'));
    chmodSync(cwd, 0o755);
    try {
      for (const name of ['EUNHA_DATA_DIR', 'EUNHA_CACHE_DIR']) {
        const err = await refusal({ ...env, [name]: '   ' }, cwd);
        oneLine(err, 2, new RegExp(`invalid configuration: ${name}: is blank`));
      }
      assert.deepEqual(readdirSync(cwd), [], 'nothing written in the current directory');
      assert.equal(statSync(cwd).mode & 0o777, 0o755, 'the current directory is not chmodded');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  test('a host that is no address nor resolvable name is refused before the data directory is made', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'eunha-host-'));
    try {
      const own = { ...env, EUNHA_DATA_DIR: join(parent, 'data'), EUNHA_ADMIN_KEY: ADMIN_KEY };
      for (const h of ['999.999.999.999', '-', 'no-such-host.invalid']) {
        const err = await refusal({ ...own, EUNHA_HOST: h });
        oneLine(err, 2, /invalid configuration: EUNHA_HOST: /);
        assert.ok(!existsSync(join(parent, 'data')), `${h}: nothing made`);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  test('a port in use is a one-line refusal naming EUNHA_HOST and EUNHA_PORT', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const own = mkdtempSync(join(tmpdir(), 'eunha-port-'));
    try {
      const port = (taken.address() as { port: number }).port;
      const err = await refusal({ ...env, EUNHA_DATA_DIR: own, EUNHA_PORT: String(port) });
      oneLine(
        err,
        2,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1 port ${port}: another process has this port`),
      );
      assert.match(err, /EUNHA_HOST and EUNHA_PORT/);
      // Found before anything is made: no database, no secrets key, no snapshot.
      assert.deepEqual(readdirSync(own), [], 'the refused start made files');
    } finally {
      taken.close();
      rmSync(own, { recursive: true, force: true });
    }
  });

  test('a database file it cannot use is named; one from a newer Eunha is refused (exit 2)', async () => {
    const own = mkdtempSync(join(tmpdir(), 'eunha-db-'));
    try {
      const db = join(own, 'eunha.db');
      const newer = new Database(db);
      newer.pragma('user_version = 99');
      newer.close();
      oneLine(
        await refusal({ ...env, EUNHA_DATA_DIR: own }),
        2,
        new RegExp(`failed to start: ${db}: metadata database schema version 99 is newer`),
      );
      rmSync(db);
      writeFileSync(db, 'not a database, but long enough to be read as one '.repeat(4));
      oneLine(
        await refusal({ ...env, EUNHA_DATA_DIR: own }),
        1,
        new RegExp(`failed to start: ${db}: file is not a database \\(SQLITE_NOTADB\\)`),
      );
      // What a data directory the server may not write gives (SQLITE_CANTOPEN), as root too.
      rmSync(db);
      rmSync(join(own, 'eunha.lock'), { force: true });
      mkdirSync(join(own, 'eunha.lock'));
      oneLine(
        await refusal({ ...env, EUNHA_DATA_DIR: own }),
        1,
        new RegExp(`failed to start: ${join(own, 'eunha.lock')}: unable to open database file`),
      );
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  test('a directory it cannot make is named, and a dangling symbolic link said to be one', async () => {
    const own = mkdtempSync(join(tmpdir(), 'eunha-link-'));
    try {
      // mkdir said only "ENOENT: no such file or directory" of a blobs/ that was there, as a link.
      symlinkSync(join(own, 'gone'), join(own, 'blobs'));
      oneLine(
        await refusal({ ...env, EUNHA_DATA_DIR: own }),
        1,
        new RegExp(
          `${join(own, 'blobs')}: cannot be created: it is a symbolic link to ${join(own, 'gone')}, which does not exist`,
        ),
      );
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  test('a directory under /proc is refused at once, not retried for ever', { timeout: 30_000 }, async () => {
    // Node's recursive mkdir looped there at 100% CPU, and SIGTERM could not stop it.
    const cache = `/proc/eunha-test-${process.pid}`;
    oneLine(
      await refusal({ ...env, EUNHA_CACHE_DIR: cache }),
      1,
      new RegExp(`no such file or directory, mkdir '${cache}'`),
    );
  });

  test('unknown EUNHA_* variables are named in one warning, with the name meant; the start goes on', async () => {
    const s = await startServer({ ...env, EUNHA_MAX_INSTANCE: '4', EUNHA_SHUTDOWN_GRACE: '5000' });
    try {
      const warnings = s
        .output()
        .split('\n')
        .filter((l) => l.includes('does not read'));
      assert.equal(warnings.length, 1, s.output());
      assert.equal(JSON.parse(warnings[0]!).level, 40);
      assert.match(
        warnings[0]!,
        /EUNHA_MAX_INSTANCE \(did you mean EUNHA_MAX_INSTANCES\?\), EUNHA_SHUTDOWN_GRACE \(did you mean EUNHA_SHUTDOWN_GRACE_MS\?\)/,
      );
    } finally {
      s.child.kill('SIGTERM');
      assert.equal(await s.exited, 0);
    }
  });
});
