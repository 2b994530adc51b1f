// The S3 BlobStore: one object per key, under an optional key prefix of the bucket (so one bucket
// can hold several installations). Keys are validated by the same rules as the filesystem store
// (../blob-keys.ts), so a key one accepts the other accepts too. S3 writes are atomic per object
// (a reader sees the old or the new bytes), which is what the port asks.
//
// A listing or a prefix delete reads `{prefix}/…` a page (1,000 keys) at a time, and the key
// itself with one HEAD: a plain prefix listing of `ws-1` would also read all of `ws-10/…`. The
// size of one key is that HEAD alone.

import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { EunhaError } from '../../core/errors.js';
import { validateBlobKey, validateBlobPrefix } from '../blob-keys.js';
import type { BlobStore, BlobUsage } from '../ports.js';

/** What the store needs to know where its objects live. */
export interface S3Location {
  bucket: string;
  /** Prepended to every key ('' or ending in '/'), e.g. 'eunha/prod/'. */
  keyPrefix: string;
}

const MISSING = new Set(['NoSuchKey', 'NotFound']);

function isBlobKey(key: string): boolean {
  try {
    validateBlobKey(key);
    return true;
  } catch {
    return false;
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  return MISSING.has((err as { name?: string }).name ?? '') || statusOf(err) === 404;
}

/**
 * S3 down, slow or refusing us: the dependency's fault, a 503 naming the kind of failure. Not the
 * SDK's own text: it can hold the endpoint's address, which is no tenant's business.
 */
function unavailable(err: unknown, what: string): EunhaError {
  if (err instanceof EunhaError) return err;
  const name = (err as { name?: string }).name ?? 'Error';
  return new EunhaError('DEPENDENCY_UNAVAILABLE', `blob store (S3): could not ${what} (${name})`, {
    code: name,
    status: statusOf(err) ?? null,
  });
}

export class S3BlobStore implements BlobStore {
  private closed = false;

  constructor(
    private readonly client: S3Client,
    private readonly at: S3Location,
  ) {}

  async put(key: string, data: Uint8Array): Promise<void> {
    this.check();
    validateBlobKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.at.bucket,
          Key: this.objectKey(key),
          Body: data,
          ContentLength: data.byteLength,
        }),
      );
    } catch (err) {
      throw unavailable(err, `write '${key}'`);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.check();
    validateBlobKey(key);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.at.bucket, Key: this.objectKey(key) }),
      );
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw unavailable(err, `read '${key}'`);
    }
  }

  async size(key: string): Promise<number | undefined> {
    this.check();
    validateBlobKey(key);
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.at.bucket, Key: this.objectKey(key) }),
      );
      return head.ContentLength ?? 0;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw unavailable(err, `read '${key}'`);
    }
  }

  async delete(key: string): Promise<void> {
    this.check();
    validateBlobKey(key);
    try {
      // S3 answers a delete of a missing key with success: a no-op, as the port asks.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.at.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw unavailable(err, `delete '${key}'`);
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    this.check();
    const key = validateBlobKey(prefix).join('/');
    await this.delete(key);
    // Page by page: each page is listed after the one before was deleted, so it starts afresh.
    for (;;) {
      const page = await this.page(`${key}/`, undefined);
      if (page.objects.length === 0) return;
      try {
        const res = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.at.bucket,
            Delete: { Objects: page.objects.map((o) => ({ Key: o.objectKey })), Quiet: true },
          }),
        );
        const failed = res.Errors ?? [];
        if (failed.length > 0) {
          const first = failed[0]!;
          throw new EunhaError(
            'DEPENDENCY_UNAVAILABLE',
            `blob store (S3): could not delete ${failed.length} objects under '${key}': ${first.Code}: ${first.Message}`,
            { code: first.Code ?? null },
          );
        }
      } catch (err) {
        throw unavailable(err, `delete under '${key}'`);
      }
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    await this.visit(prefix, (key) => void keys.push(key));
    return keys.sort();
  }

  async usage(prefix: string): Promise<BlobUsage> {
    const usage = { bytes: 0, blobs: 0 };
    await this.visit(prefix, (_key, size) => {
      usage.bytes += size;
      usage.blobs++;
    });
    return usage;
  }

  /** Whether any blob is under the prefix (stops at the first one). */
  async holdsBlobs(): Promise<boolean> {
    this.check();
    let token: string | undefined;
    do {
      const page = await this.page('', token);
      if (page.objects.length > 0) return true;
      token = page.next;
    } while (token !== undefined);
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.destroy();
  }

  private check(): void {
    if (this.closed) throw new EunhaError('DEPENDENCY_UNAVAILABLE', 'the blob store is closed');
  }

  private objectKey(key: string): string {
    return `${this.at.keyPrefix}${key}`;
  }

  /** The key itself (one HEAD) and everything below it, or everything for ''. */
  private async visit(prefix: string, found: (key: string, size: number) => void): Promise<void> {
    this.check();
    const segments = validateBlobPrefix(prefix);
    if (segments.length === 0) return this.visitBelow('', found);
    const key = segments.join('/');
    const size = await this.size(key);
    if (size !== undefined) found(key, size);
    await this.visitBelow(`${key}/`, found);
  }

  private async visitBelow(below: string, found: (key: string, size: number) => void): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.page(below, token);
      for (const o of page.objects) found(o.key, o.size);
      token = page.next;
    } while (token !== undefined);
  }

  /** One page of the objects whose keys start with `below` (a store key prefix, '' for all). */
  private async page(
    below: string,
    token: string | undefined,
  ): Promise<{ objects: Array<{ key: string; objectKey: string; size: number }>; next: string | undefined }> {
    let res;
    try {
      res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.at.bucket,
          Prefix: this.objectKey(below),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
    } catch (err) {
      throw unavailable(err, `list '${below}'`);
    }
    const strip = this.at.keyPrefix.length;
    // Only blobs: not the "folder" objects an S3 console makes (`code/`), nor anything else under
    // the prefix no blob key can name (the installation marker, another tool's objects).
    const objects = (res.Contents ?? []).flatMap((o) =>
      o.Key === undefined || !isBlobKey(o.Key.slice(strip))
        ? []
        : [{ key: o.Key.slice(strip), objectKey: o.Key, size: o.Size ?? 0 }],
    );
    return { objects, next: res.IsTruncated ? res.NextContinuationToken : undefined };
  }
}
