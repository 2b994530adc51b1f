// Entry point of the S3 blob adapter: a client for AWS S3 or any S3-compatible server (MinIO,
// Ceph, s3rver in the tests), checked at open so a wrong bucket, endpoint or credential stops the
// start with what S3 said instead of failing the first upload. Credentials come from the SDK's
// usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a pod's web identity role).

import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../ports.js';
import { S3OpenError } from './open-error.js';
import { S3BlobStore, type S3Location } from './store.js';

export interface S3Options extends S3Location {
  region: string;
  /** An S3-compatible server's URL; unset: AWS's own endpoint for the region. */
  endpoint?: string | undefined;
  /** Path-style URLs (http://host/bucket/key), which most S3-compatible servers need. */
  forcePathStyle?: boolean;
  /** Given by tests; otherwise the SDK's chain (environment, profile, web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface OpenedS3 {
  store: BlobStore;
  /** Some object was under the key prefix already (an earlier run's blobs). */
  blobsHeld: boolean;
}

export async function openS3BlobStore(opts: S3Options): Promise<OpenedS3> {
  const client = new S3Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // Retries of a flaky network are the SDK's (3 attempts, backing off); a dead server is not
    // waited on for minutes.
    maxAttempts: 3,
  });
  const where = `s3://${opts.bucket}/${opts.keyPrefix}${opts.endpoint ? ` at ${opts.endpoint}` : ''}`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: opts.bucket }));
    const first = await client.send(
      new ListObjectsV2Command({ Bucket: opts.bucket, Prefix: opts.keyPrefix, MaxKeys: 1 }),
    );
    return { store: new S3BlobStore(client, opts), blobsHeld: (first.KeyCount ?? 0) > 0 };
  } catch (err) {
    client.destroy();
    const name = (err as { name?: string }).name ?? 'Error';
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    throw new S3OpenError(
      `cannot use ${where}: ${name}${status ? ` (HTTP ${status})` : ''}: ${err instanceof Error ? err.message : String(err)}. ` +
        'Check S3_BUCKET_NAME, AWS_REGION, EUNHA_S3_ENDPOINT and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).',
    );
  }
}
