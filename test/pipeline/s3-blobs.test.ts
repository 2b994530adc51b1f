// The whole platform with its blobs in S3 (EUNHA_BLOB_STORE=s3) against a local S3-compatible
// server (s3rver): code, artifacts and the storage report live in the bucket under the key
// prefix; a restart restores the deployment from there; and a fresh database in front of a prefix
// holding an earlier run's blobs refuses to start rather than sweep them away.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataDirStateError } from '../../src/store/data-dir-state.js';
import { SAMPLE_HANDLER, b64, startTestPlatform } from '../helpers/platform.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from '../helpers/s3-server.js';

const BUCKET = 'eunha-it-blobs';

describe('blobs in S3', () => {
  let s3: LocalS3;
  const dirs: string[] = [];
  before(async () => {
    s3 = await startLocalS3([BUCKET]);
    // The SDK's own credential chain, as in production (the platform passes none).
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  });
  after(async () => {
    await s3.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const env = () => ({
    EUNHA_BLOB_STORE: 's3',
    S3_BUCKET_NAME: BUCKET,
    AWS_REGION: 'us-east-1',
    EUNHA_S3_ENDPOINT: s3.endpoint,
    EUNHA_S3_PREFIX: 'installs/one',
    EUNHA_WARM_POOL_SIZE: '1',
  });
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'eunha-s3-platform-'));
    dirs.push(d);
    return d;
  };

  test(
    'deploy, call, restart and call again, with every blob in the bucket',
    { timeout: 120_000 },
    async () => {
      const dir = newDir();
      let p = await startTestPlatform(env(), dir);
      let fn: string;
      let ws: string;
      try {
        ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 's3' } })).json()
          .id;
        const created = await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          payload: { name: 'f', code: b64(SAMPLE_HANDLER) },
        });
        assert.equal(created.statusCode, 201, created.body);
        fn = created.json().id;
        const deployed = await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
        });
        assert.equal(deployed.statusCode, 201, deployed.body);
        const digest = deployed.json().digest as string;
        assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
        const keys = await p.blobs.list('');
        assert.ok(keys.includes(`artifacts/${ws}/${digest}/manifest.json`), keys.join(' '));
        assert.ok(keys.some((k) => k.startsWith(`code/${ws}/${fn}/`)));
        const storage = (await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}/storage` })).json();
        assert.equal(storage.usedFiles, 3, 'code, app.py, manifest');
      } finally {
        await p.cleanup();
      }
      p = await startTestPlatform(env(), dir);
      try {
        const again = await p.app.inject({ method: 'GET', url: `/fn/${fn}` });
        assert.equal(again.statusCode, 200, again.body);
      } finally {
        await p.cleanup();
      }

      // Another installation (its own data directory) before the same prefix: refused, and nothing
      // in the bucket is touched (its sweep would have deleted every blob its database lacks).
      await assert.rejects(
        startTestPlatform(env(), newDir()),
        (err: unknown) =>
          err instanceof DataDirStateError &&
          err.message.includes(`s3://${BUCKET}/installs/one/ belongs to another Eunha installation`),
      );
      p = await startTestPlatform(env(), dir);
      try {
        assert.equal((await p.app.inject({ method: 'GET', url: `/fn/${fn}` })).statusCode, 200);
        // Another prefix of the same bucket is another installation, empty.
        assert.ok((await p.blobs.list('')).length >= 3);
      } finally {
        await p.cleanup();
      }
      const other = await startTestPlatform({ ...env(), EUNHA_S3_PREFIX: 'installs/two' }, newDir());
      try {
        assert.deepEqual(await other.blobs.list(''), []);
      } finally {
        await other.cleanup();
      }
    },
  );

  test(
    'a credential that may read the bucket but not write it stops the start, saying so',
    { timeout: 120_000 },
    async () => {
      // S3 in front of s3rver as a read-only key sees it: reads pass, writes are AccessDenied.
      const readOnly = await startS3Proxy(s3.endpoint, { refuseWrites: true });
      try {
        const dir = newDir();
        // First a start with write access, so the prefix is already this installation's: the
        // start that follows has nothing it must write, and used to pass.
        await (await startTestPlatform({ ...env(), EUNHA_S3_PREFIX: 'installs/ro' }, dir)).cleanup();
        let started: Awaited<ReturnType<typeof startTestPlatform>> | undefined;
        let refusal = '';
        try {
          started = await startTestPlatform(
            { ...env(), EUNHA_S3_PREFIX: 'installs/ro', EUNHA_S3_ENDPOINT: readOnly.url },
            dir,
          );
        } catch (err) {
          refusal = err instanceof Error ? err.message : String(err);
        }
        await started?.cleanup();
        assert.match(
          refusal,
          /cannot write the installation marker to s3:\/\/eunha-it-blobs\/installs\/ro\/ .*access denied \(HTTP 403\)/,
        );
      } finally {
        await readOnly.close();
      }
    },
  );
});
