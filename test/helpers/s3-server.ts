// A local S3 for the tests: s3rver (an S3-compatible server that keeps objects in a folder, a dev
// dependency), in a child process on a free port of 127.0.0.1, with the buckets asked for. The S3
// blob store is tested against it, not against a mock: the AWS SDK's real requests, signatures,
// paging and errors. Its own process because s3rver makes continuation tokens (listings past
// 1,000 keys) with DES, which Node's OpenSSL 3 offers only with --openssl-legacy-provider, a flag
// the test process itself should not run with.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** s3rver's fixed key pair; the SDK signs with it and s3rver checks the signature. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  stop(): Promise<void>;
}

const BIN = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');

export async function startLocalS3(buckets: string[]): Promise<LocalS3> {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-s3rver-'));
  const args = ['--openssl-legacy-provider', BIN, '-d', dir, '-a', '127.0.0.1', '-p', '0', '-s'];
  for (const b of buckets) args.push('--configure-bucket', b);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${output}`)), 15_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const m = /listening on [\d.]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}): ${output}`));
    });
  });
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
