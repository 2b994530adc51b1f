// Rotating the secrets key: with EUNHA_SECRETS_KEY (new) and EUNHA_SECRETS_KEY_PREVIOUS (old),
// start-up re-seals every stored secret value with the new key before the server answers, so the
// restored deployments run and the old key can be retired; a start with the new key alone before
// that still fails them as before (secrets_key).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { SecretBox, WRONG_KEY, secretContext } from '../../src/auth/secrets.js';
import { resealWithCurrentKey } from '../../src/auth/secrets-rotation.js';
import { EunhaError } from '../../src/core/errors.js';
import type { MetadataStore } from '../../src/store/ports.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';
import {
  b64,
  deployedFunction,
  newFunction,
  SHARED_CACHE_DIR,
  startLoggedPlatform,
  startTestPlatform,
  type TestPlatform,
} from '../helpers/platform.js';
import { startServer } from '../helpers/server-process.js';
import { SECRET, SECRET_HANDLER } from './world.js';

const newKey = (): string => randomBytes(32).toString('base64');
const keyA = newKey();
const keyB = newKey();

/** A start with key B and the old key A as EUNHA_SECRETS_KEY_PREVIOUS: a rotation from A to B. */
const rotatingAToB = (env: Record<string, string>, dir: string) =>
  startLoggedPlatform({ ...env, EUNHA_SECRETS_KEY: keyB, EUNHA_SECRETS_KEY_PREVIOUS: keyA }, 'info', dir);
const boxOf = (key: string): SecretBox => new SecretBox(Buffer.from(key, 'base64'));
const OLD_VALUE = 'the-value-of-version-1';

interface Stored {
  /** 'function' or 'v{version}'. */
  where: string;
  name: string;
  sealed: string;
}

/** Every stored sealed value of the function: its record's and each of its deployments'. */
async function storedSecrets(meta: MetadataStore, ws: string, fn: string): Promise<Stored[]> {
  const out: Stored[] = [];
  const add = (where: string, sealed: Record<string, string> | undefined) => {
    for (const [name, value] of Object.entries(sealed ?? {})) out.push({ where, name, sealed: value });
  };
  add('function', (await meta.getFunction(ws, fn))?.secretEnvironmentVariables);
  for (const d of await meta.listDeployments(fn)) add(`v${d.version}`, d.config.secretEnvironmentVariables);
  return out;
}

/** What `key` opens each value to; WRONG_KEY where it was sealed with another key. */
function openedWith(key: string, ws: string, fn: string, stored: Stored[]): string[] {
  return stored.map((s) => {
    try {
      return boxOf(key).open(s.sealed, secretContext(ws, fn, s.name));
    } catch (err) {
      if (err instanceof EunhaError && err.details.reason === WRONG_KEY) return WRONG_KEY;
      throw err;
    }
  });
}

/** A function whose active version 2 reads SECRET and whose version 1 holds OLD_VALUE. */
async function twoVersions(p: TestPlatform): Promise<{ ws: string; fn: string }> {
  const { ws, fn } = await deployedFunction(p, {
    code: b64(SECRET_HANDLER),
    secretEnvironmentVariables: { API_TOKEN: OLD_VALUE },
  });
  const url = `/api/workspaces/${ws}/functions/${fn}`;
  const patched = await p.app.inject({
    method: 'PATCH',
    url,
    payload: { secretEnvironmentVariables: { API_TOKEN: SECRET } },
  });
  assert.equal(patched.statusCode, 200, patched.body);
  const v2 = await p.app.inject({ method: 'POST', url: `${url}/deployments` });
  assert.equal(v2.statusCode, 201, v2.body);
  return { ws, fn };
}

const call = (p: Pick<TestPlatform, 'app'>, fn: string) => p.app.inject({ method: 'GET', url: `/fn/${fn}` });

describe('rotating the secrets key', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-rotate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { EUNHA_WARM_POOL_SIZE: '1' };
  let ids: { ws: string; fn: string };
  let underA: Stored[];

  before(async () => {
    const a = await startTestPlatform({ ...env, EUNHA_SECRETS_KEY: keyA }, dir);
    try {
      ids = await twoVersions(a);
      assert.equal((await call(a, ids.fn)).body, SECRET);
      underA = await storedSecrets(a.meta, ids.ws, ids.fn);
    } finally {
      await a.cleanup();
    }
    assert.deepEqual(
      underA.map((s) => s.where),
      ['function', 'v2', 'v1'],
    );
    assert.deepEqual(openedWith(keyA, ids.ws, ids.fn, underA), [SECRET, SECRET, OLD_VALUE]);
  });

  test('before the rotation, a start with the new key alone fails the function as before (secrets_key), changing nothing', async () => {
    const { p, logged, cleanup } = await startLoggedPlatform(
      { ...env, EUNHA_SECRETS_KEY: keyB },
      'error',
      dir,
    );
    try {
      const summary = await p.restoring;
      assert.deepEqual([summary.failed, summary.retrying], [1, 0], 'failed for good, not retried');
      const res = await call(p, ids.fn);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().error.code, 'DEPENDENCY_UNAVAILABLE');
      const failure = logged()
        .split('\n')
        .find((l) => l.includes('could not restore deployment'));
      assert.ok(failure, logged());
      assert.equal(JSON.parse(failure).err.details.reason, WRONG_KEY);
      assert.deepEqual(await storedSecrets(p.meta, ids.ws, ids.fn), underA);
    } finally {
      await cleanup();
    }
  });

  let underB: Stored[];

  test('with the old key as EUNHA_SECRETS_KEY_PREVIOUS, every stored value is under the new key before the server answers, and the function runs', async () => {
    const { p, logged, cleanup } = await rotatingAToB(env, dir);
    try {
      // Read as soon as the platform could serve, before the restore has loaded anything.
      underB = await storedSecrets(p.meta, ids.ws, ids.fn);
      assert.deepEqual(openedWith(keyB, ids.ws, ids.fn, underB), [SECRET, SECRET, OLD_VALUE]);
      assert.deepEqual(openedWith(keyA, ids.ws, ids.fn, underB), [WRONG_KEY, WRONG_KEY, WRONG_KEY]);
      await p.restoring;
      const res = await call(p, ids.fn);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.body, SECRET);
      const lines = logged()
        .split('\n')
        .filter((l) => l.includes('EUNHA_SECRETS_KEY_PREVIOUS'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; resealed?: number });
      assert.equal(lines.length, 2, logged());
      assert.equal(lines[0]!.level, 30);
      assert.equal(lines[0]!.resealed, 3);
      assert.match(lines[0]!.msg, /re-sealed 3 stored secret values of 1 function with/);
      assert.equal(lines[1]!.level, 40);
      assert.match(lines[1]!.msg, /remove EUNHA_SECRETS_KEY_PREVIOUS/);
      assert.ok(!logged().includes(SECRET), 'no secret value in the process log');
    } finally {
      await cleanup();
    }
  });

  test('then with the new key alone, the function still answers with its secret', async () => {
    const b = await startTestPlatform({ ...env, EUNHA_SECRETS_KEY: keyB }, dir);
    try {
      const res = await call(b, ids.fn);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.body, SECRET);
    } finally {
      await b.cleanup();
    }
  });

  test('the rotation run again changes nothing: values under the new key are left alone', async () => {
    const { p, logged, cleanup } = await rotatingAToB(env, dir);
    try {
      assert.deepEqual(await storedSecrets(p.meta, ids.ws, ids.fn), underB);
      assert.match(logged(), /re-sealed 0 stored secret values of 0 functions/);
      await p.restoring;
      assert.equal((await call(p, ids.fn)).body, SECRET);
    } finally {
      await cleanup();
    }
  });
});

describe('rotating the secrets key: what neither key opens, and a rotation cut short', () => {
  const env = { EUNHA_WARM_POOL_SIZE: '0' };
  const keyC = newKey();
  const secrets = { API_TOKEN: SECRET, OTHER: 'other-secret-value' };
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const ownDir = (): string => {
    dirs.push(mkdtempSync(join(tmpdir(), 'eunha-rotate-left-')));
    return dirs[dirs.length - 1]!;
  };

  /** A function holding `secrets` sealed with `key`, in a new workspace of `dir`. */
  async function functionUnder(dir: string, key: string): Promise<{ ws: string; fn: string }> {
    const p = await startTestPlatform({ ...env, EUNHA_SECRETS_KEY: key }, dir);
    try {
      return await newFunction(p, { code: b64(SECRET_HANDLER), secretEnvironmentVariables: secrets });
    } finally {
      await p.cleanup();
    }
  }

  test('a value neither key opens is left as it is, counted and named; the others are re-sealed', async () => {
    const dir = ownDir();
    const a = await functionUnder(dir, keyA);
    const c = await functionUnder(dir, keyC);
    const meta = await openSqliteMetadataStore(join(dir, 'eunha.db'));
    const underC = await storedSecrets(meta, c.ws, c.fn);
    await meta.close();
    const { p, logged, cleanup } = await rotatingAToB(env, dir);
    try {
      assert.deepEqual(await storedSecrets(p.meta, c.ws, c.fn), underC, 'kept, not deleted');
      const rotated = await storedSecrets(p.meta, a.ws, a.fn);
      assert.deepEqual(openedWith(keyB, a.ws, a.fn, rotated), Object.values(secrets));
      const warning = logged()
        .split('\n')
        .find((l) => l.includes('open with neither'));
      assert.ok(warning, logged());
      const w = JSON.parse(warning) as {
        level: number;
        msg: string;
        unopenable: number;
        functions: string[];
      };
      assert.equal(w.level, 40);
      assert.equal(w.unopenable, 2);
      assert.deepEqual(w.functions, [c.fn]);
      assert.match(w.msg, /^2 stored secret values of 1 function open with neither/);
      assert.match(logged(), /re-sealed 2 stored secret values of 1 function with/);
      assert.doesNotMatch(logged(), /remove EUNHA_SECRETS_KEY_PREVIOUS/);
    } finally {
      await cleanup();
    }
  });

  test('a store failure half-way leaves each function wholly on one key, and the next run finishes', async () => {
    const dir = ownDir();
    const fns = [await functionUnder(dir, keyA), await functionUnder(dir, keyA)];
    const meta = await openSqliteMetadataStore(join(dir, 'eunha.db'));
    try {
      const rotating = new SecretBox(Buffer.from(keyB, 'base64'), Buffer.from(keyA, 'base64'));
      // The first function's step is stored, then the store fails, as a crash there would stop it.
      const stepped: string[] = [];
      const failing = new Proxy(meta, {
        get(target, name, receiver) {
          if (name !== 'rewriteSecrets') return Reflect.get(target, name, receiver) as unknown;
          return (...args: Parameters<MetadataStore['rewriteSecrets']>) => {
            stepped.push(args[1]);
            if (stepped.length === 2) throw new EunhaError('DEPENDENCY_UNAVAILABLE', 'the disk went away');
            return target.rewriteSecrets(...args);
          };
        },
      });
      await assert.rejects(resealWithCurrentKey(failing, rotating), /the disk went away/);
      const keyOf = async (fn: string) => {
        const f = fns.find((x) => x.fn === fn)!;
        const stored = await storedSecrets(meta, f.ws, f.fn);
        for (const key of [keyA, keyB]) {
          if (isDeepStrictEqual(openedWith(key, f.ws, f.fn, stored), Object.values(secrets)))
            return key === keyA ? 'A' : 'B';
        }
        return 'mixed';
      };
      assert.deepEqual([await keyOf(stepped[0]!), await keyOf(stepped[1]!)], ['B', 'A']);
      const finished = await resealWithCurrentKey(meta, rotating);
      assert.deepEqual(
        { resealed: finished.resealed, functions: finished.functions, unopenable: finished.unopenable },
        { resealed: 2, functions: 1, unopenable: 0 },
        'the function done before the failure is not done twice',
      );
      assert.deepEqual([await keyOf(stepped[0]!), await keyOf(stepped[1]!)], ['B', 'B']);
    } finally {
      await meta.close();
    }
  });
});

describe('rotating away from a generated secrets.key', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-rotate-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { EUNHA_WARM_POOL_SIZE: '1' };

  test("EUNHA_SECRETS_KEY=new with EUNHA_SECRETS_KEY_PREVIOUS=the file's content works; the file is then unread and said to be deleted", async () => {
    const a = await startTestPlatform(env, dir);
    let ids: { ws: string; fn: string };
    try {
      ids = await deployedFunction(a, {
        code: b64(SECRET_HANDLER),
        secretEnvironmentVariables: { API_TOKEN: SECRET },
      });
    } finally {
      await a.cleanup();
    }
    const keyFile = join(dir, 'secrets.key');
    const old = readFileSync(keyFile, 'utf8').trim();
    const { p, logged, cleanup } = await startLoggedPlatform(
      { ...env, EUNHA_SECRETS_KEY: keyB, EUNHA_SECRETS_KEY_PREVIOUS: old },
      'info',
      dir,
    );
    try {
      const stored = await storedSecrets(p.meta, ids.ws, ids.fn);
      assert.deepEqual(openedWith(keyB, ids.ws, ids.fn, stored), [SECRET, SECRET]);
      await p.restoring;
      assert.equal((await call(p, ids.fn)).body, SECRET);
      assert.match(logged(), new RegExp(`remove EUNHA_SECRETS_KEY_PREVIOUS.*delete ${keyFile}`));
    } finally {
      await cleanup();
    }
    rmSync(keyFile);
    const b = await startTestPlatform({ ...env, EUNHA_SECRETS_KEY: keyB }, dir);
    try {
      assert.equal((await call(b, ids.fn)).body, SECRET);
    } finally {
      await b.cleanup();
    }
  });

  test('the old key given as the previous one while it is still the current key is refused (exit 2, one line)', async () => {
    const own = mkdtempSync(join(tmpdir(), 'eunha-rotate-same-'));
    const base = { EUNHA_DATA_DIR: own, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '0' };
    const refusal = async (vars: Record<string, string>): Promise<string> => {
      try {
        const s = await startServer(vars);
        s.child.kill('SIGKILL');
        await s.exited;
      } catch (e) {
        return String(e);
      }
      return assert.fail(`the server started with ${JSON.stringify(vars)}`);
    };
    try {
      // Both variables the same key, written two ways (base64 and base64url without padding).
      const same = Buffer.from(keyA, 'base64');
      let err = await refusal({
        ...base,
        EUNHA_SECRETS_KEY: same.toString('base64'),
        EUNHA_SECRETS_KEY_PREVIOUS: same.toString('base64url'),
      });
      assert.match(err, /exited with 2/);
      assert.match(
        err,
        /eunha: invalid configuration: EUNHA_SECRETS_KEY_PREVIOUS: is the same key as EUNHA_SECRETS_KEY/,
      );
      assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
      // Only the previous key set, and it is the generated file's: that file is still the key in use.
      const first = await startServer(base);
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);
      const file = join(own, 'secrets.key');
      err = await refusal({ ...base, EUNHA_SECRETS_KEY_PREVIOUS: readFileSync(file, 'utf8').trim() });
      assert.match(err, /exited with 2/);
      assert.match(
        err,
        new RegExp(
          `eunha: failed to start: invalid configuration: EUNHA_SECRETS_KEY_PREVIOUS: is the key ${file} holds`,
        ),
      );
      assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('while EUNHA_SECRETS_KEY_PREVIOUS is set', { timeout: 120_000 }, () => {
  test('a value under the old key opens at run time, and a write seals it with the new key', async () => {
    const p = await startTestPlatform({
      EUNHA_WARM_POOL_SIZE: '1',
      EUNHA_SECRETS_KEY: keyB,
      EUNHA_SECRETS_KEY_PREVIOUS: keyA,
    });
    try {
      const { ws, fn } = await newFunction(p, {
        code: b64(SECRET_HANDLER),
        secretEnvironmentVariables: { API_TOKEN: SECRET },
      });
      // Stored under the old key behind the running server's back: the start-up's re-sealing
      // leaves none, so this is the only way to have one while it runs.
      const ctx = secretContext(ws, fn, 'API_TOKEN');
      await p.meta.updateFunction(ws, fn, {
        secretEnvironmentVariables: { API_TOKEN: boxOf(keyA).seal(SECRET, ctx) },
      });
      const url = `/api/workspaces/${ws}/functions/${fn}`;
      const deployed = await p.app.inject({ method: 'POST', url: `${url}/deployments` });
      assert.equal(deployed.statusCode, 201, deployed.body);
      assert.equal((await call(p, fn)).body, SECRET);
      // The same value again: kept as it was under the new key, sealed afresh under the old one.
      const patched = await p.app.inject({
        method: 'PATCH',
        url,
        payload: { secretEnvironmentVariables: { API_TOKEN: SECRET } },
      });
      assert.equal(patched.statusCode, 200, patched.body);
      const stored = (await p.meta.getFunction(ws, fn))!.secretEnvironmentVariables!.API_TOKEN!;
      assert.equal(boxOf(keyB).open(stored, ctx), SECRET);
    } finally {
      await p.cleanup();
    }
  });
});

describe('SecretBox with a previous key', () => {
  const ctx = secretContext('ws-a', 'fn-a', 'TOKEN');
  const a = boxOf(keyA);
  const rotating = new SecretBox(Buffer.from(keyB, 'base64'), Buffer.from(keyA, 'base64'));

  test('opens what either key sealed, seals with the current key only', () => {
    const old = a.seal('v', ctx);
    assert.equal(rotating.open(old, ctx), 'v');
    assert.equal(rotating.sealedWithCurrentKey(old), false);
    const fresh = rotating.seal('v', ctx);
    assert.equal(rotating.sealedWithCurrentKey(fresh), true);
    assert.equal(boxOf(keyB).open(fresh, ctx), 'v');
    assert.throws(
      () => a.open(fresh, ctx),
      (e: unknown) => e instanceof EunhaError && e.details.reason === WRONG_KEY,
    );
    // A third key's value is still the wrong key's error.
    assert.throws(
      () => rotating.open(boxOf(newKey()).seal('v', ctx), ctx),
      (e: unknown) => e instanceof EunhaError && e.details.reason === WRONG_KEY,
    );
  });
});
