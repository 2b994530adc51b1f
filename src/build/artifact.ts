// Immutable, content-addressed artifacts (the "locked app" of a build). An artifact is a manifest
// listing every file with its sha256 and size, serialised as canonical JSON; the sha256 of those
// exact bytes is the artifact's digest. Layout in the blob store:
//   artifacts/{ws}/{digest}/manifest.json
//   artifacts/{ws}/{digest}/files/{path}
// The same files and app name always give the same digest, so storing is idempotent, and a
// loader can prove that what it read is what was built (a tampered blob is an error).

import { createHash } from 'node:crypto';
import { eachBounded } from '../core/each-bounded.js';
import { EunhaError, notFound } from '../core/errors.js';
import type { StorageNeed } from '../core/storage-quota.js';
import type { BlobStore } from '../store/ports.js';
import { checkFilePath } from './paths.js';
import { ENTRY_FILE, type SourceFiles } from './source.js';

export const ARTIFACT_SCHEMA = 'eunha.artifact/v1';

export interface ArtifactFile {
  path: string;
  sha256: string;
  size: number;
}

export interface ArtifactManifest {
  schema: typeof ARTIFACT_SCHEMA;
  engine: 'python';
  entry: typeof ENTRY_FILE;
  app: string;
  files: ArtifactFile[];
}

export interface StoredArtifact {
  digest: string;
  manifest: ArtifactManifest;
  /** Blob key of manifest.json. */
  manifestKey: string;
}

export interface LoadedArtifact {
  digest: string;
  manifest: ArtifactManifest;
  files: SourceFiles;
}

export const artifactsPrefix = (workspaceId: string): string => `artifacts/${workspaceId}`;
export const artifactPrefix = (workspaceId: string, digest: string): string =>
  `${artifactsPrefix(workspaceId)}/${digest}`;
export const manifestKey = (workspaceId: string, digest: string): string =>
  `${artifactPrefix(workspaceId, digest)}/manifest.json`;
export const fileKey = (workspaceId: string, digest: string, path: string): string =>
  `${artifactPrefix(workspaceId, digest)}/files/${path}`;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** JSON with object keys sorted at every level and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The manifest of a set of files, its canonical bytes and their digest. No I/O. */
export function describeArtifact(
  app: string,
  files: SourceFiles,
): { manifest: ArtifactManifest; bytes: Uint8Array; digest: string } {
  const list = Object.keys(files)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((path) => {
      const data = files[path] as Uint8Array;
      return { path, sha256: sha256(data), size: data.byteLength };
    });
  const manifest: ArtifactManifest = {
    schema: ARTIFACT_SCHEMA,
    engine: 'python',
    entry: ENTRY_FILE,
    app,
    files: list,
  };
  const bytes = Buffer.from(canonicalJson(manifest), 'utf8');
  return { manifest, bytes, digest: sha256(bytes) };
}

/** Files of an artifact written or read at once: one at a time, S3's round trips added up. */
export const STORE_CONCURRENCY = 8;

export interface StoreArtifactOptions {
  /** describeArtifact(app, files), when the caller has it already. */
  described?: ReturnType<typeof describeArtifact>;
  /**
   * Holds room in the storage quota for what the store adds, before anything is written, and
   * answers its release (called once the store has ended): none when the artifact is stored
   * already (code built before: a redeploy, a rollback's rebuild), else its files and manifest.
   */
  reserve?: (need: StorageNeed) => Promise<() => void>;
}

/**
 * Stores an artifact. Files are written when absent, and rewritten when a stored copy does not
 * match its hash (a damaged blob is repaired with the bytes the digest promises, never replaced by
 * different content). The manifest goes last, so its presence means every file is in place.
 *
 * One listing of the artifact, taken first, answers both what it costs and which of its blobs are
 * there, and each write tells the blob store what was at its key (KnownBlob), so the metering
 * wrapper asks nothing per file. That holds while no other store or removal of the same artifact
 * runs meanwhile: the build service stores under ArtifactCollector.pin, which sees to it.
 */
export async function storeArtifact(
  blobs: BlobStore,
  workspaceId: string,
  app: string,
  files: SourceFiles,
  opts: StoreArtifactOptions = {},
): Promise<StoredArtifact> {
  const described = opts.described ?? describeArtifact(app, files);
  const { manifest, bytes, digest } = described;
  const existing = new Set(await blobs.list(artifactPrefix(workspaceId, digest)));
  const mKey = manifestKey(workspaceId, digest);
  const release = (await opts.reserve?.(costOf(described, existing.has(mKey)))) ?? (() => {});
  try {
    await eachBounded(manifest.files, STORE_CONCURRENCY, async (file) => {
      const key = fileKey(workspaceId, digest, file.path);
      await ensureBlob(blobs, key, files[file.path] as Uint8Array, file.sha256, existing.has(key));
    });
    await ensureBlob(blobs, mKey, bytes, digest, existing.has(mKey));
  } finally {
    release();
  }
  return { digest, manifest, manifestKey: mKey };
}

/** Writes the blob unless the copy the listing named hashes to `sha`. */
async function ensureBlob(
  blobs: BlobStore,
  key: string,
  data: Uint8Array,
  sha: string,
  listed: boolean,
): Promise<void> {
  const stored = listed ? await blobs.get(key) : undefined;
  if (stored && sha256(stored) === sha) return;
  await blobs.put(key, data, { sizeBefore: stored?.byteLength });
}

/** Nothing when the manifest is stored (so is every file), else every file and the manifest. */
function costOf(described: ReturnType<typeof describeArtifact>, manifestStored: boolean): StorageNeed {
  if (manifestStored) return { bytes: 0, blobs: 0 };
  const { files } = described.manifest;
  return { bytes: files.reduce((n, f) => n + f.size, described.bytes.byteLength), blobs: files.length + 1 };
}

const corrupt = (digest: string, why: string): EunhaError =>
  new EunhaError('INTERNAL_ERROR', `artifact sha256:${digest} is corrupt: ${why}`, { digest });

/**
 * Reads an artifact and verifies it completely: the manifest must hash to the digest, and every
 * file to the sha256 and size the manifest lists. NOT_FOUND when there is no such artifact in the
 * workspace; INTERNAL_ERROR (ours, not the user's) when the stored bytes were altered.
 */
export async function loadArtifact(
  blobs: BlobStore,
  workspaceId: string,
  digest: string,
): Promise<LoadedArtifact> {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw notFound('Artifact', digest);
  const bytes = await blobs.get(manifestKey(workspaceId, digest));
  if (!bytes) throw notFound('Artifact', `sha256:${digest}`);
  if (sha256(bytes) !== digest) throw corrupt(digest, 'manifest.json does not match the digest');
  const manifest = parseManifest(digest, bytes);
  // Read a few at a time, as they are stored: one by one, a 999-file artifact was 999 round
  // trips to S3 in a row before a deploy or a restore could load it.
  const read: Uint8Array[] = new Array<Uint8Array>(manifest.files.length);
  await eachBounded(
    manifest.files.map((file, i) => ({ file, i })),
    STORE_CONCURRENCY,
    async ({ file, i }) => {
      const data = await blobs.get(fileKey(workspaceId, digest, file.path));
      if (!data) throw corrupt(digest, `${file.path} is missing`);
      if (data.byteLength !== file.size || sha256(data) !== file.sha256) {
        throw corrupt(digest, `${file.path} does not match its sha256`);
      }
      read[i] = data;
    },
  );
  // fromEntries defines own properties, so even a file named "__proto__" stays a plain file.
  return {
    digest,
    manifest,
    files: Object.fromEntries(manifest.files.map((file, i) => [file.path, read[i] as Uint8Array])),
  };
}

/** The manifest hashed correctly, so it is ours; the shape is still checked before use. */
function parseManifest(digest: string, bytes: Uint8Array): ArtifactManifest {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw corrupt(digest, 'manifest.json is not JSON');
  }
  const m = value as Partial<ArtifactManifest>;
  if (
    m.schema !== ARTIFACT_SCHEMA ||
    m.engine !== 'python' ||
    m.entry !== ENTRY_FILE ||
    typeof m.app !== 'string' ||
    !Array.isArray(m.files)
  ) {
    throw corrupt(digest, `manifest.json is not a ${ARTIFACT_SCHEMA} manifest`);
  }
  for (const f of m.files as unknown[]) {
    const file = f as Partial<ArtifactFile>;
    if (typeof file.path !== 'string' || typeof file.sha256 !== 'string' || typeof file.size !== 'number') {
      throw corrupt(digest, 'manifest.json lists a malformed file');
    }
    checkFilePath(file.path);
  }
  return m as ArtifactManifest;
}
