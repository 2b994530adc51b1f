// The build service's contract with its callers: what it is constructed with, what it accepts,
// what it returns, and the fixed texts of tasks that a restart or shutdown ended.

import type { Clock, IdSource } from '../core/ids.js';
import type { BuildTask } from '../core/types.js';
import type { StorageQuota } from '../core/storage-quota.js';
import type { BlobStore, MetadataStore } from '../store/ports.js';
import { artifactsPrefix, type ArtifactManifest } from './artifact.js';
import type { SourceFiles } from './source.js';
import type { ZipLimits } from './zip.js';

/** Loads code the way the runtime will (syntax, imports, IncomingHandler); error = the traceback. */
export interface SourceChecker {
  /**
   * A task's build belongs to no function: module code loads with an empty environment and a
   * 10-s deadline. (A deploy's code is checked by its own first load instead.)
   */
  check(files: SourceFiles): Promise<{ ok: true } | { ok: false; error: string }>;
}

/** The subset of a pino logger the service uses. */
export interface BuildLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export type BuildOutcome = 'completed' | 'failed';

export interface BuildServiceOptions {
  meta: MetadataStore;
  blobs: BlobStore;
  clock: Clock;
  ids: IdSource;
  checker: SourceChecker;
  /** Builds running at once; more wait, taken in turn from each workspace. */
  concurrency: number;
  /** Cap on an upload (.py or compressed .zip), in bytes. */
  maxSourceBytes: number;
  /** Overrides of the zip caps (entries, inflated bytes, ratio). */
  zipLimits?: Partial<ZipLimits>;
  logger?: BuildLogger;
  /** Bytes and files each workspace may store; none: no limit. */
  quota?: StorageQuota;
  /** Called once per build that ran (tasks and buildNow), with its duration, for metrics. */
  onBuildFinished?: (seconds: number, outcome: BuildOutcome) => void;
}

export interface UploadSubmission {
  kind: BuildTask['kind'];
  workspaceId?: string;
  appName?: string;
  filename: string;
  data: Uint8Array;
  /** Absent for a plain build; 'local' keeps the artifact in the platform. */
  registryUrl?: string;
  tag?: string;
}

export interface PushSubmission {
  workspaceId?: string;
  /** A `build-sources/{ws}/…` key of that workspace (an `s3://bucket/` prefix is tolerated). */
  sourcePath?: string;
  /** The app's folder: its last name is the app name. */
  appDir?: string;
  registryUrl: string;
  tag?: string;
}

export interface BuiltArtifact {
  digest: string;
  imageUrl: string;
  /** Blob key of the manifest. */
  manifestPath: string;
  manifest: ArtifactManifest;
  /** Lets the artifact be removed again; call once a record names it (artifact-collector.ts). */
  release: () => void;
}

export interface ResolvedImage {
  workspaceId: string;
  digest: string;
  files: SourceFiles;
  manifest: ArtifactManifest;
  /** As BuiltArtifact's. */
  release: () => void;
}

export const INTERRUPTED_ERROR = 'interrupted: the server stopped while this task was running';
export const CANCELLED_ERROR = 'cancelled: the server stopped before this task started';

/** Where a workspace's uploads are kept: `build-sources/{ws}/{task}/{file}`. */
export const sourcesPrefix = (workspaceId: string): string => `build-sources/${workspaceId}`;
export const sourcePrefix = (workspaceId: string, taskId: string): string =>
  `${sourcesPrefix(workspaceId)}/${taskId}`;
/** The `build-sources/{ws}/{task}` an upload's key lies in. */
export const sourceDir = (sourcePath: string): string => sourcePath.split('/').slice(0, 3).join('/');

/** Blob prefixes a workspace owns through builds; removed with the workspace. */
export const buildBlobPrefixes = (workspaceId: string): string[] => [
  sourcesPrefix(workspaceId),
  artifactsPrefix(workspaceId),
];
