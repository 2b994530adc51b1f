// The build service: accepts uploads as tasks, runs them through the queue (intake → sandbox check
// → artifact), records every status change in the metadata store, and resolves image references
// back to verified artifacts for deployments. A task goes pending → running → completed | failed,
// and a failed task says why (the Python traceback, the zip problem, the unsupported registry).

import { performance } from 'node:perf_hooks';
import { EunhaError, invalid, notFound } from '../core/errors.js';
import { KeyedCount } from '../core/keyed-count.js';
import { PAGE_MAX_BYTES, paged, type PageKey } from '../core/page-cursor.js';
import type { BuildTask, BuildTaskResult } from '../core/types.js';
import { eachTask, requireWorkspace } from '../store/lookups.js';
import type { StorageNeed } from '../core/storage-quota.js';
import type { TaskPatch } from '../store/ports.js';
import { ArtifactCollector } from './artifact-collector.js';
import { describeArtifact, loadArtifact, storeArtifact } from './artifact.js';
import { formatImageRef, parseImageRef } from './image-ref.js';
import {
  DEFAULT_TAG,
  DEFAULT_WORKSPACE_ID,
  EXTERNAL_REGISTRY_UNSUPPORTED,
  checkTag,
  checkWorkspaceId,
  isLocalRegistry,
  resolveAppName,
} from './names.js';
import { BuildQueue, QueueClosedError } from './queue.js';
import { TaskRemoval, type BuildsUnderWay } from './task-removal.js';
import {
  DEFAULT_SOURCE_LIMITS,
  checkSourceFiles,
  readSource,
  sourceKindOf,
  storedUploadName,
  uploadStem,
  type SourceFiles,
  type SourceLimits,
} from './source.js';
import {
  CANCELLED_ERROR,
  INTERRUPTED_ERROR,
  buildBlobPrefixes,
  sourceDir,
  sourcePrefix,
  sourcesPrefix,
  type BuildOutcome,
  type BuildServiceOptions,
  type BuiltArtifact,
  type PushSubmission,
  type ResolvedImage,
  type SourceChecker,
  type UploadSubmission,
} from './types.js';

interface Job {
  taskId: string;
  workspaceId: string;
  appName: string;
  sourcePath: string | null;
  filename: string;
  registryUrl: string | undefined;
  tag: string;
}

/** Builds one workspace may have waiting for a slot (running ones aside). */
export const MAX_WAITING_PER_WORKSPACE = 20;

export class BuildService {
  private readonly queue: BuildQueue;
  /** Per workspace: submissions past their check of the waiting cap and not yet in the queue. */
  private readonly admitting = new KeyedCount();
  private readonly limits: SourceLimits;
  /** Tasks this process owns (queued or running): start() must not call them interrupted. */
  private readonly inflight = new Set<string>();
  private readonly jobs = new Set<Promise<void>>();
  /** Upload folders the pending and running tasks will build (a push builds an earlier one). */
  private readonly sourcesInUse = new KeyedCount();
  private readonly collector: ArtifactCollector;
  private readonly removal: TaskRemoval;
  /** Builds queued or running here, which the records may not show yet (retention asks too). */
  readonly underWay: BuildsUnderWay = {
    has: (taskId) => this.inflight.has(taskId),
    reads: (folder) => this.sourcesInUse.count(folder) > 0,
  };
  private closed = false;

  constructor(private readonly opts: BuildServiceOptions) {
    this.queue = new BuildQueue(opts.concurrency);
    this.collector = new ArtifactCollector(opts.meta, opts.blobs, () => opts.clock().getTime());
    this.removal = new TaskRemoval(opts.meta, opts.blobs, {
      collectArtifacts: (workspaceId, digests) => this.collectArtifacts(workspaceId, digests),
      underWay: this.underWay,
    });
    this.limits = { ...DEFAULT_SOURCE_LIMITS, ...opts.zipLimits, maxSourceBytes: opts.maxSourceBytes };
  }

  get maxSourceBytes(): number {
    return this.limits.maxSourceBytes;
  }

  /** Builds waiting for a slot. */
  get queueDepth(): number {
    return this.queue.depth;
  }

  /** Builds running now. */
  get running(): number {
    return this.queue.running;
  }

  /**
   * At start-up: a task left pending or running by a previous process will never finish, so it is
   * marked failed ("interrupted", or "cancelled" if it never started) instead of staying "running"
   * forever. Returns how many.
   */
  async start(): Promise<number> {
    let marked = 0;
    for (const ws of await this.opts.meta.listWorkspaces()) {
      for await (const task of eachTask(this.opts.meta, ws.id)) {
        if (task.status !== 'pending' && task.status !== 'running') continue;
        if (this.inflight.has(task.taskId)) continue;
        // A pending one never started: it was cancelled, not cut short.
        const error = task.status === 'running' ? INTERRUPTED_ERROR : CANCELLED_ERROR;
        await this.patch(task.taskId, { status: 'failed', error });
        marked++;
      }
    }
    if (marked > 0) this.opts.logger?.info({ tasks: marked }, 'marked interrupted build tasks as failed');
    return marked;
  }

  /** Stores the upload, records a pending task and queues it. Returns the pending task. */
  async submit(input: UploadSubmission): Promise<BuildTask> {
    this.assertOpen();
    const workspaceId = await this.workspace(input.workspaceId);
    return this.withPlace(workspaceId, () => this.submitIn(workspaceId, input));
  }

  private async submitIn(workspaceId: string, input: UploadSubmission): Promise<BuildTask> {
    sourceKindOf(input.filename);
    if (input.data.byteLength === 0) throw invalid('file', 'file is empty');
    if (input.data.byteLength > this.limits.maxSourceBytes) {
      throw new EunhaError(
        'PAYLOAD_TOO_LARGE',
        `file is larger than the ${this.limits.maxSourceBytes}-byte cap`,
        { field: 'file', limit: this.limits.maxSourceBytes },
      );
    }
    const tag = checkTag(input.tag ?? DEFAULT_TAG);
    const appName = resolveAppName(input.appName, uploadStem(input.filename));
    const taskId = this.opts.ids.opaque();
    const filename = storedUploadName(input.filename);
    const sourcePath = `${sourcePrefix(workspaceId, taskId)}/${filename}`;
    const release = await this.reserveStorage(workspaceId, { bytes: input.data.byteLength, blobs: 1 });
    try {
      // Under a task id just made: nothing is there, and the meter need not ask.
      await this.opts.blobs.put(sourcePath, input.data, { sizeBefore: undefined });
    } finally {
      release();
    }
    try {
      return await this.enqueue(input.kind, {
        taskId,
        workspaceId,
        appName,
        sourcePath,
        filename,
        registryUrl: input.registryUrl,
        tag,
      });
    } catch (err) {
      // No task names the upload (its workspace was deleted meanwhile): it must not stay behind.
      await this.opts.blobs.deletePrefix(sourcePrefix(workspaceId, taskId)).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The contract's push: for the local registry, builds an upload already stored by an earlier
   * build (s3_source_path); any other registry fails the task with a clear error.
   */
  async submitPush(input: PushSubmission): Promise<BuildTask> {
    this.assertOpen();
    const workspaceId = await this.workspace(input.workspaceId);
    return this.withPlace(workspaceId, () => this.submitPushIn(workspaceId, input));
  }

  private async submitPushIn(workspaceId: string, input: PushSubmission): Promise<BuildTask> {
    const tag = checkTag(input.tag ?? DEFAULT_TAG);
    let sourcePath: string | null = null;
    if (input.sourcePath !== undefined && input.sourcePath.trim() !== '') {
      sourcePath = await this.storedSource(workspaceId, input.sourcePath);
    } else if (isLocalRegistry(input.registryUrl)) {
      throw invalid('s3_source_path', "s3_source_path is required to push to registry 'local'");
    }
    const filename = sourcePath?.split('/').pop() ?? 'app.py';
    const appName = resolveAppName(input.appName, uploadStem(filename));
    return this.enqueue('push', {
      taskId: this.opts.ids.opaque(),
      workspaceId,
      appName,
      sourcePath,
      filename,
      registryUrl: input.registryUrl,
      tag,
    });
  }

  async getTask(taskId: string, workspaceId?: string): Promise<BuildTask> {
    const task = await this.opts.meta.getTask(taskId);
    // A task of another workspace is reported as missing, not as forbidden: ids do not leak.
    if (!task || (workspaceId !== undefined && task.workspaceId !== workspaceId)) {
      throw notFound('Task', taskId);
    }
    return task;
  }

  /** A page of the workspace's tasks, newest first, after `before` (a page's `next`). */
  async listTasks(
    workspaceId: string,
    limit: number,
    before?: PageKey,
  ): Promise<{ tasks: BuildTask[]; next: string | null }> {
    checkWorkspaceId(workspaceId);
    if (!(await this.opts.meta.getWorkspace(workspaceId))) {
      if (workspaceId === DEFAULT_WORKSPACE_ID) return { tasks: [], next: null };
      throw notFound('Workspace', workspaceId);
    }
    const read = (n: number, after: PageKey | undefined) =>
      this.opts.meta.listTasks(workspaceId, {
        limit: n,
        before: after && { createdAt: after.timestamp, taskId: after.id },
        maxBytes: PAGE_MAX_BYTES,
      });
    const { items, next } = await paged(read, limit, before, (t) => ({
      timestamp: t.createdAt,
      id: t.taskId,
    }));
    return { tasks: items, next };
  }

  /**
   * Builds files now, without a task (the deployments endpoint's path): the same checks, the same
   * queue and the same artifact as a task. Code that does not load is the caller's mistake:
   * VALIDATION_ERROR on 'code' (the seed's field for a function's source) whose message is the
   * Python traceback.
   */
  /**
   * Builds now, for a deploy. `env` is the function's environment: module code that reads
   * os.environ at import failed the check without it, though it would run once deployed.
   * `timeoutMs`, the function's timeout, sets module code's deadline as its instances' loads.
   */
  async buildNow(
    workspaceId: string,
    appName: string,
    files: SourceFiles,
    env: Record<string, string> = {},
    timeoutMs?: number,
  ): Promise<BuiltArtifact> {
    this.assertOpen();
    checkWorkspaceId(workspaceId);
    await requireWorkspace(this.opts.meta, workspaceId);
    const app = resolveAppName(appName, 'app');
    checkSourceFiles(files, this.limits);
    // Joins the queue in the same step (no await in between), so the check cannot go stale.
    this.reserve(workspaceId)();
    return this.queue.run(workspaceId, () =>
      this.timed(() => this.buildFiles(workspaceId, app, files, DEFAULT_TAG, 'code', { env, timeoutMs })),
    );
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

  /**
   * Deletes a finished task: its record, its upload unless another task builds it too, and the
   * artifact it built unless a deployment or another task names it. CONFLICT while it is pending
   * or running (task-removal.ts).
   */
  async deleteTask(taskId: string, workspaceId?: string): Promise<void> {
    await this.removal.removeFinished(await this.getTask(taskId, workspaceId));
  }

  /**
   * Removes those of the workspace's artifacts that nothing names any more (after the deployment,
   * task or function that named them was deleted). Answers how many went.
   */
  collectArtifacts(workspaceId: string, digests: Iterable<string>): Promise<number> {
    return this.collector.collect(workspaceId, digests);
  }

  /** Refuses new work, fails the builds still waiting, waits for the running ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.close();
    await Promise.allSettled([...this.jobs]);
  }

  private assertOpen(): void {
    if (this.closed) throw new EunhaError('SHUTTING_DOWN', 'the server is shutting down; retry shortly');
  }

  /**
   * Runs `enqueue` holding a place among the workspace's waiting builds, from before its first
   * await until the job is in the queue: uploads sent at once each see the others.
   */
  private async withPlace<T>(workspaceId: string, enqueue: () => Promise<T>): Promise<T> {
    const release = this.reserve(workspaceId);
    try {
      return await enqueue();
    } finally {
      release();
    }
  }

  /**
   * A place among the workspace's MAX_WAITING_PER_WORKSPACE waiting builds, or a 429. Call the
   * returned release once the job is in the queue (or has failed to get there).
   */
  private reserve(workspaceId: string): () => void {
    const waiting = this.queue.waitingFor(workspaceId) + this.admitting.count(workspaceId);
    if (waiting >= MAX_WAITING_PER_WORKSPACE) {
      throw new EunhaError(
        'RATE_LIMITED',
        `this workspace has ${waiting} builds waiting, the most allowed; retry when some have run`,
        { limit: MAX_WAITING_PER_WORKSPACE },
        { 'retry-after': '10' },
      );
    }
    return this.admitting.take(workspaceId);
  }

  /** Room for `need` in the workspace's storage quota; call the release once it is stored. */
  private async reserveStorage(workspaceId: string, need: StorageNeed): Promise<() => void> {
    if (!this.opts.quota || (need.bytes <= 0 && need.blobs <= 0)) return () => {};
    return this.opts.quota.reserve(workspaceId, need);
  }

  /** The workspace of a request; the seed's `ws-default` is created on first use. */
  private async workspace(given: string | undefined): Promise<string> {
    const id = checkWorkspaceId(given?.trim() || DEFAULT_WORKSPACE_ID);
    if (await this.opts.meta.getWorkspace(id)) return id;
    if (id !== DEFAULT_WORKSPACE_ID) throw notFound('Workspace', id);
    try {
      await this.opts.meta.createWorkspace({
        id,
        name: 'default',
        description: null,
        createdAt: this.opts.clock().toISOString(),
      });
    } catch (err) {
      // Two first requests raced; the other one created it.
      if (!(err instanceof EunhaError && err.code === 'CONFLICT')) throw err;
    }
    return id;
  }

  private async storedSource(workspaceId: string, given: string): Promise<string> {
    const path = given.trim().replace(/^s3:\/\/[^/]+\//, '');
    const prefix = `${sourcesPrefix(workspaceId)}/`;
    const rest = path.startsWith(prefix) ? path.slice(prefix.length).split('/') : [];
    if (rest.length !== 2 || rest.some((s) => s === '' || s === '.' || s === '..')) {
      throw invalid(
        's3_source_path',
        `s3_source_path must be a ${prefix}{task_id}/{file} path of this workspace`,
      );
    }
    let stored: string[];
    try {
      stored = await this.opts.blobs.list(path);
    } catch (err) {
      if (err instanceof EunhaError && err.code === 'VALIDATION_ERROR') {
        throw invalid('s3_source_path', `s3_source_path is not a valid path: ${err.message}`);
      }
      throw err;
    }
    if (!stored.includes(path)) throw notFound('Source', path);
    sourceKindOf(path);
    return path;
  }

  private async enqueue(kind: BuildTask['kind'], job: Job): Promise<BuildTask> {
    const now = this.opts.clock().toISOString();
    const task: BuildTask = {
      taskId: job.taskId,
      workspaceId: job.workspaceId,
      appName: job.appName,
      kind,
      status: 'pending',
      sourcePath: job.sourcePath,
      result: null,
      error: null,
      createdAt: now,
      updatedAt: now,
    };
    this.inflight.add(task.taskId);
    const releaseSource =
      job.sourcePath === null ? () => {} : this.sourcesInUse.take(sourceDir(job.sourcePath));
    try {
      // Refused (NOT_FOUND) if the workspace was deleted since the caller checked it.
      await this.opts.meta.putTask(task);
    } catch (err) {
      this.inflight.delete(task.taskId);
      releaseSource();
      throw err;
    }
    const done = this.queue
      .run(job.workspaceId, () => this.execute(job))
      .catch(async (err: unknown) => {
        if (err instanceof QueueClosedError) {
          await this.patch(job.taskId, { status: 'failed', error: CANCELLED_ERROR });
        } else {
          this.opts.logger?.error({ err, taskId: job.taskId }, 'build task crashed');
        }
      })
      .finally(() => {
        this.inflight.delete(job.taskId);
        releaseSource();
        this.jobs.delete(done);
      });
    this.jobs.add(done);
    return task;
  }

  private async execute(job: Job): Promise<void> {
    await this.patch(job.taskId, { status: 'running' });
    // The upload itself is no valid .py or .zip (not code that failed to load: a sandbox that died
    // or ran out of time on a loaded machine fails a load too, and a push may retry that).
    let unusable = false;
    try {
      const built = await this.timed(async () => {
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
          unusable = true;
          throw err;
        }
        return this.buildFiles(job.workspaceId, job.appName, files, job.tag, 'file');
      });
      const result: BuildTaskResult = {
        wasm_path: built.manifestPath,
        image_url: built.imageUrl,
        file_path: job.sourcePath,
      };
      let written = false;
      try {
        written = await this.patch(job.taskId, { status: 'completed', result, error: null });
      } finally {
        built.release(); // the task names it now
      }
      // Not recorded (the store failed, or the task is gone): nothing may name the artifact.
      if (!written) await this.collectArtifacts(job.workspaceId, [built.digest]).catch(() => undefined);
      this.opts.logger?.info(
        { taskId: job.taskId, workspaceId: job.workspaceId, app: job.appName, digest: built.digest },
        'build completed',
      );
    } catch (err) {
      const error = this.describe(err, job);
      // An upload that can never build is of no further use: its bytes (up to 10 MiB) went only
      // when retention took the task, 30 days on, and a review stored 190 MB of junk uploads in
      // 3 s. Not an earlier upload a push built, nor one another task still waits to build.
      const dir = job.sourcePath === null ? undefined : sourceDir(job.sourcePath);
      const ownUpload = dir === sourcePrefix(job.workspaceId, job.taskId);
      const wanted = dir !== undefined && this.sourcesInUse.count(dir) > 1; // this task is one
      if (dir !== undefined && unusable && ownUpload && !wanted) {
        // The record first, then the blob: a record never names a missing blob.
        const written = await this.patch(job.taskId, { status: 'failed', error, sourcePath: null });
        // Asked again: a push may have named it while the record was written. If the delete
        // fails, retention removes it with the task.
        if (written && this.sourcesInUse.count(dir) <= 1)
          await this.opts.blobs.deletePrefix(dir).catch(() => undefined);
        return;
      }
      await this.patch(job.taskId, { status: 'failed', error });
    }
  }

  /** Sandbox check, then the artifact. `field` names the input a load failure is blamed on. */
  private async buildFiles(
    workspaceId: string,
    app: string,
    files: SourceFiles,
    tag: string,
    field: 'file' | 'code',
    fn: { env?: Record<string, string>; timeoutMs?: number | undefined } = {},
  ): Promise<BuiltArtifact> {
    let verdict: Awaited<ReturnType<SourceChecker['check']>>;
    try {
      verdict = await this.opts.checker.check(files, fn.env ?? {}, fn.timeoutMs);
    } catch (err) {
      // A shutdown ended the check: the task was interrupted, the code is not at fault.
      if (err instanceof EunhaError && err.code === 'SHUTTING_DOWN') throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new EunhaError('INTERNAL_ERROR', `the sandbox failed while checking the code: ${message}`);
    }
    if (!verdict.ok) throw invalid(field, verdict.error, { reason: 'load_error' });
    const described = describeArtifact(app, files);
    // Pinned until the task or deployment that names it is written (artifact-collector.ts).
    const storing = this.collector.pin(workspaceId, described.digest, () =>
      storeArtifact(this.opts.blobs, workspaceId, app, files, {
        described,
        reserve: (need) => this.reserveStorage(workspaceId, need),
      }),
    );
    // A store that failed halfway (the disk or S3 went away) leaves files nothing names, which
    // count against the quota until a restart: they go now, unless something names the artifact.
    const { value: stored, release } = await storing.catch(async (err: unknown) => {
      await this.collectArtifacts(workspaceId, [described.digest]).catch(() => undefined);
      throw err;
    });
    // The workspace was deleted while this built: its delete removed the blobs there were then,
    // and would leave these behind, where no record points.
    if (!(await this.opts.meta.getWorkspace(workspaceId))) {
      release();
      for (const prefix of buildBlobPrefixes(workspaceId)) await this.opts.blobs.deletePrefix(prefix);
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

  /** The task's error text: our catalogue errors say it for the user; anything else is logged. */
  private describe(err: unknown, job: Job): string {
    if (err instanceof EunhaError && ERROR_FOR_USER.has(err.code)) return err.message;
    if (err instanceof EunhaError && err.code === 'SHUTTING_DOWN') return INTERRUPTED_ERROR;
    this.opts.logger?.error({ err, taskId: job.taskId }, 'build failed unexpectedly');
    const message = err instanceof Error ? err.message : String(err);
    return `internal error while building: ${message}`;
  }

  /** Whether the patch was written. */
  private async patch(taskId: string, patch: TaskPatch): Promise<boolean> {
    try {
      const updated = await this.opts.meta.updateTask(taskId, {
        ...patch,
        updatedAt: this.opts.clock().toISOString(),
      });
      return updated !== undefined;
    } catch (err) {
      // The store is closing or failing; the task is then marked interrupted at the next start.
      this.opts.logger?.error({ err, taskId }, 'could not record a build task status');
      return false;
    }
  }
}

const ERROR_FOR_USER = new Set<string>(['VALIDATION_ERROR', 'NOT_FOUND', 'QUOTA_EXCEEDED']);
