// The build steps, from files to a local image and back: a task's upload read (and its registry
// checked), the code checked in the sandbox, the content-addressed artifact stored and named by an
// image reference; and an image reference resolved to its verified artifact for a deployment.
// Every build that runs reports its duration and outcome. What becomes of a task is
// task-lifecycle.ts's; this file neither reads nor writes task records.

import { performance } from 'node:perf_hooks';
import { EunhaError, invalid, notFound } from '../core/errors.js';
import type { StorageNeed, StorageQuota } from '../core/storage-quota.js';
import type { ArtifactCollector } from './artifact-collector.js';
import { describeArtifact, loadArtifact, storeArtifact } from './artifact.js';
import { formatImageRef, parseImageRef } from './image-ref.js';
import { DEFAULT_TAG, EXTERNAL_REGISTRY_UNSUPPORTED, isLocalRegistry } from './names.js';
import { readSource, type SourceFiles, type SourceLimits } from './source.js';
import {
  buildBlobPrefixes,
  type BuildOutcome,
  type BuildServiceOptions,
  type BuiltArtifact,
  type ResolvedImage,
  type SourceChecker,
} from './types.js';

/** What a task builds: the upload it names (none: a push without one), the app, where it goes. */
export interface UploadBuild {
  workspaceId: string;
  appName: string;
  sourcePath: string | null;
  filename: string;
  registryUrl: string | undefined;
  tag: string;
}

type BuilderOptions = Pick<BuildServiceOptions, 'meta' | 'blobs' | 'checker' | 'quota' | 'onBuildFinished'>;

/**
 * Room for `need` in the workspace's storage quota; call the release once it is stored. An
 * artifact's files here, a task's upload in task-intake.ts.
 */
export async function reserveStorage(
  quota: StorageQuota | undefined,
  workspaceId: string,
  need: StorageNeed,
): Promise<() => void> {
  if (!quota || (need.bytes <= 0 && need.blobs <= 0)) return () => {};
  return quota.reserve(workspaceId, need);
}

export class ArtifactBuilder {
  constructor(
    private readonly opts: BuilderOptions,
    private readonly limits: SourceLimits,
    private readonly collector: ArtifactCollector,
  ) {}

  /**
   * A task's build: its upload read, checked and made an artifact. `unusable` is called before it
   * throws when the upload itself is no valid .py or .zip (task-lifecycle.ts says why that matters).
   */
  buildUpload(job: UploadBuild, unusable: () => void): Promise<BuiltArtifact> {
    return this.timed(async () => {
      if (job.registryUrl !== undefined && !isLocalRegistry(job.registryUrl)) {
        throw new EunhaError('VALIDATION_ERROR', EXTERNAL_REGISTRY_UNSUPPORTED, { field: 'registry_url' });
      }
      if (job.sourcePath === null) throw invalid('s3_source_path', 'the task has no source to build');
      const data = await this.opts.blobs.get(job.sourcePath);
      if (!data) {
        // Removed since it was named: its own build found it unusable, or retention took it.
        throw notFound('Source', job.sourcePath);
      }
      let files;
      try {
        files = await readSource(job.filename, data, this.limits);
      } catch (err) {
        unusable();
        throw err;
      }
      return this.buildFiles(job.workspaceId, job.appName, files, job.tag, true);
    });
  }

  /**
   * Files a deploy builds now, without a task (BuildService.buildNow): not checked here, since
   * `load` loads them next as the version's first instance, which is the same check, and is timed
   * with the build as a task's check is (code that did not load was counted a completed build).
   */
  buildCode(
    workspaceId: string,
    app: string,
    files: SourceFiles,
    load: (built: BuiltArtifact) => Promise<void>,
  ): Promise<BuiltArtifact> {
    return this.timed(async () => {
      const built = await this.buildFiles(workspaceId, app, files, DEFAULT_TAG, false);
      await load(built);
      return built;
    });
  }

  /** A local image reference → its verified artifact (tampering is an error, never served). */
  async resolveImage(ref: string): Promise<ResolvedImage> {
    const parsed = parseImageRef(ref);
    // Pinned: the deployment that will name it is written after this read.
    const { value: artifact, release } = await this.collector.pin(parsed.workspaceId, parsed.digest, () =>
      loadArtifact(this.opts.blobs, parsed.workspaceId, parsed.digest),
    );
    if (artifact.manifest.app !== parsed.app) {
      release();
      throw invalid(
        'image_ref',
        `image_ref names app '${parsed.app}' but artifact sha256:${parsed.digest} is app '${artifact.manifest.app}'`,
      );
    }
    return {
      workspaceId: parsed.workspaceId,
      digest: artifact.digest,
      files: artifact.files,
      manifest: artifact.manifest,
      release,
    };
  }

  /** Sandbox check (a task's: a failure is blamed on its `file`), then the artifact. */
  private async buildFiles(
    workspaceId: string,
    app: string,
    files: SourceFiles,
    tag: string,
    check: boolean,
  ): Promise<BuiltArtifact> {
    if (check) {
      let verdict: Awaited<ReturnType<SourceChecker['check']>>;
      try {
        verdict = await this.opts.checker.check(files);
      } catch (err) {
        // A shutdown ended the check: the task was interrupted, the code is not at fault.
        if (err instanceof EunhaError && err.code === 'SHUTTING_DOWN') throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw new EunhaError('INTERNAL_ERROR', `the sandbox failed while checking the code: ${message}`);
      }
      if (!verdict.ok) throw invalid('file', verdict.error, { reason: 'load_error' });
    }
    const described = describeArtifact(app, files);
    // Pinned until the task or deployment that names it is written (artifact-collector.ts).
    const storing = this.collector.pin(workspaceId, described.digest, () =>
      storeArtifact(this.opts.blobs, workspaceId, app, files, {
        described,
        reserve: (need) => reserveStorage(this.opts.quota, workspaceId, need),
      }),
    );
    // A store that failed halfway (the disk or S3 went away) leaves files nothing names, which
    // count against the quota until a restart: they go now, unless something names the artifact.
    const { value: stored, release } = await storing.catch(async (err: unknown) => {
      await this.collector.collect(workspaceId, [described.digest]).catch(() => undefined);
      throw err;
    });
    // The workspace was deleted while this built: its delete removed the blobs there were then,
    // and would leave these behind, where no record points.
    if (!(await this.opts.meta.getWorkspace(workspaceId))) {
      release();
      // What fails to go is left for the start-up sweep (orphan-blobs.ts); the answer is still 404.
      for (const prefix of buildBlobPrefixes(workspaceId))
        await this.opts.blobs.deletePrefix(prefix).catch(() => undefined);
      throw notFound('Workspace', workspaceId);
    }
    return {
      digest: stored.digest,
      imageUrl: formatImageRef(workspaceId, app, tag, stored.digest),
      manifestPath: stored.manifestKey,
      manifest: stored.manifest,
      release,
    };
  }

  /** Runs a build and reports its duration and outcome. */
  private async timed<T>(build: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let outcome: BuildOutcome = 'failed';
    try {
      const value = await build();
      outcome = 'completed';
      return value;
    } finally {
      this.opts.onBuildFinished?.((performance.now() - started) / 1000, outcome);
    }
  }
}
