// The build task lifecycle: a task is recorded pending and handed to the queue, goes running →
// completed | failed with every status change in the metadata store, and a failed task says why
// (the Python traceback, the zip problem, the unsupported registry). At start-up the tasks a
// previous process left unfinished are marked failed. Also reading tasks back (polling, listing),
// and which builds are under way in this process. The build steps are artifact-builder.ts's.

import { EunhaError, notFound } from '../core/errors.js';
import { PAGE_MAX_BYTES, paged, type PageKey } from '../core/page-cursor.js';
import type { BuildTask, BuildTaskResult } from '../core/types.js';
import { KeyedCount } from '../core/keyed-count.js';
import { eachTask } from '../store/lookups.js';
import type { TaskPatch } from '../store/ports.js';
import type { ArtifactBuilder, UploadBuild } from './artifact-builder.js';
import type { ArtifactCollector } from './artifact-collector.js';
import { DEFAULT_WORKSPACE_ID, checkWorkspaceId } from './names.js';
import { QueueClosedError, type BuildQueue } from './queue.js';
import type { BuildsUnderWay } from './task-removal.js';
import {
  CANCELLED_ERROR,
  INTERRUPTED_ERROR,
  sourceDir,
  sourcePrefix,
  type BuildServiceOptions,
} from './types.js';

/** A task's build: what it builds, under the task's id. */
export interface Job extends UploadBuild {
  taskId: string;
}

type LifecycleOptions = Pick<BuildServiceOptions, 'meta' | 'blobs' | 'clock' | 'logger'>;

export class TaskLifecycle {
  /** Tasks this process owns (queued or running): markInterrupted() must not call them interrupted. */
  private readonly inflight = new Set<string>();
  private readonly jobs = new Set<Promise<void>>();
  /** Upload folders the pending and running tasks will build (a push builds an earlier one). */
  private readonly sourcesInUse = new KeyedCount();
  /** Builds queued or running here, which the records may not show yet (BuildService.underWay). */
  readonly underWay: BuildsUnderWay = {
    has: (taskId) => this.inflight.has(taskId),
    reads: (folder) => this.sourcesInUse.count(folder) > 0,
  };

  constructor(
    private readonly opts: LifecycleOptions,
    private readonly queue: BuildQueue,
    private readonly builder: ArtifactBuilder,
    private readonly collector: ArtifactCollector,
  ) {}

  /**
   * At start-up: a task left pending or running by a previous process will never finish, so it is
   * marked failed ("interrupted", or "cancelled" if it never started) instead of staying "running"
   * forever. Returns how many.
   */
  async markInterrupted(): Promise<number> {
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

  async get(taskId: string, workspaceId?: string): Promise<BuildTask> {
    const task = await this.opts.meta.getTask(taskId);
    // A task of another workspace is reported as missing, not as forbidden: ids do not leak.
    if (!task || (workspaceId !== undefined && task.workspaceId !== workspaceId)) {
      throw notFound('Task', taskId);
    }
    return task;
  }

  /** A page of the workspace's tasks, newest first, after `before` (a page's `next`). */
  async list(
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

  /** Records the job's task as pending and hands it to the queue. Returns the pending task. */
  async enqueue(kind: BuildTask['kind'], job: Job): Promise<BuildTask> {
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

  /** Resolves once every task handed to the queue so far has settled (the queue closed first). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.jobs]);
  }

  private async execute(job: Job): Promise<void> {
    await this.patch(job.taskId, { status: 'running' });
    // The upload itself is no valid .py or .zip (not code that failed to load: a sandbox that died
    // or ran out of time on a loaded machine fails a load too, and a push may retry that).
    let unusable = false;
    try {
      const built = await this.builder.buildUpload(job, () => {
        unusable = true;
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
      if (!written) await this.collector.collect(job.workspaceId, [built.digest]).catch(() => undefined);
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
