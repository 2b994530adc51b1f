// Entry point of the S3 blob adapter: a client for AWS S3 or any S3-compatible server (MinIO,
// Ceph, s3rver in the tests), checked at open so a wrong bucket, endpoint or credential stops the
// start with what S3 said instead of failing the first upload. Credentials come from the SDK's
// usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a pod's web identity role).
//
// A key prefix belongs to one installation (one database): another's start-up sweep would delete
// every blob its own database does not name. So the prefix holds a marker naming the installation
// that claimed it (the id in its data directory), and a start by another one is refused.

import { GetObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
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
  /** How long a request may wait for a connection, and for its answer (ms). */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Not a blob key ('~' is outside their alphabet): no listing of blobs ever shows it. */
export const INSTALLATION_MARKER = 'eunha~installation';

export interface OpenedS3 {
  store: S3BlobStore;
  /** Some blob was under the key prefix already (an earlier run's). */
  blobsHeld: boolean;
  /** The installation that claimed the prefix, if one did. */
  owner: string | undefined;
  /** Marks the prefix as this installation's; each start does, so a read-only credential fails there. */
  claim(installationId: string): Promise<void>;
}

/**
 * What S3 said, in words: an answer to a HEAD has no body, so the SDK can only call a missing
 * bucket or a refused key "UnknownError"; its status says which.
 */
export function why(err: unknown, bucket: string): string {
  const name = (err as { name?: string }).name ?? 'Error';
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const said = `${name}${status ? ` (HTTP ${status})` : ''}: ${err instanceof Error ? err.message : String(err)}`;
  if (status === 404 && (name === 'NotFound' || name === 'NoSuchBucket'))
    return `there is no bucket '${bucket}' (HTTP 404)`;
  if (status === 403)
    return `access denied (HTTP 403): the credentials are not valid, or may not use this bucket for this (${said})`;
  if (status === 301)
    return `the bucket is in another region than AWS_REGION (HTTP 301 from S3): set AWS_REGION to its region`;
  return said;
}

export async function openS3BlobStore(opts: S3Options): Promise<OpenedS3> {
  const client = new S3Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // Retries of a flaky network are the SDK's (3 attempts, backing off). Without deadlines, an
    // S3 that accepted a connection and went silent held a request, and the locks it held (a
    // function's writes), for good: a review's stalled endpoint hung every later deploy.
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: opts.connectionTimeoutMs ?? 5_000,
      requestTimeout: opts.requestTimeoutMs ?? 60_000,
      throwOnRequestTimeout: true,
    },
  });
  const where = `s3://${opts.bucket}/${opts.keyPrefix}${opts.endpoint ? ` at ${opts.endpoint}` : ''}`;
  const marker = `${opts.keyPrefix}${INSTALLATION_MARKER}`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: opts.bucket }));
    let owner: string | undefined;
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: opts.bucket, Key: marker }));
      owner = (await res.Body?.transformToString('utf8'))?.trim() || undefined;
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name !== 'NoSuchKey' && name !== 'NotFound') throw err;
    }
    const store = new S3BlobStore(client, opts);
    return {
      store,
      blobsHeld: await store.holdsBlobs(),
      owner,
      async claim(installationId) {
        try {
          await client.send(new PutObjectCommand({ Bucket: opts.bucket, Key: marker, Body: installationId }));
        } catch (err) {
          throw new S3OpenError(
            `cannot write the installation marker to ${where} (a blob store must take writes): ${why(err, opts.bucket)}`,
          );
        }
      },
    };
  } catch (err) {
    client.destroy();
    if (err instanceof S3OpenError) throw err;
    throw new S3OpenError(
      `cannot use ${where}: ${why(err, opts.bucket)}. ` +
        'Check S3_BUCKET_NAME, AWS_REGION, EUNHA_S3_ENDPOINT and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).',
    );
  }
}
