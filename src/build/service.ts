// The build service: the build module's one entry point for the API, deployments and the
// composition root. It accepts uploads and pushes as tasks (task-intake.ts), runs them through
// the queue (task-lifecycle.ts: pending → running → completed | failed, each change recorded),
// builds a deploy's files at once without a task, and resolves image references back to verified
// artifacts for deployments (artifact-builder.ts: sandbox check → content-addressed artifact).
// What it owns itself: being open or shut, and how many builds a workspace may have waiting.

import { EunhaError } from '../core/errors.js';
import { KeyedCount } from '../core/keyed-count.js';
import type { PageKey } from '../core/page-cursor.js';
import type { BuildTask } from '../core/types.js';
import { requireWorkspace } from '../store/lookups.js';
import { ArtifactBuilder } from './artifact-builder.js';
import { ArtifactCollector } from './artifact-collector.js';
import { checkWorkspaceId, resolveAppName } from './names.js';
import { BuildQueue, QueueClosedError } from './queue.js';
import { DEFAULT_SOURCE_LIMITS, checkSourceFiles, type SourceFiles, type SourceLimits } from './source.js';
import { TaskIntake } from './task-intake.js';
import { TaskLifecycle } from './task-lifecycle.js';
import { TaskRemoval, type BuildsUnderWay } from './task-removal.js';
import type {
  BuildServiceOptions,
  BuiltArtifact,
  PushSubmission,
  ResolvedImage,
  UploadSubmission,
} from './types.js';

/** Builds one workspace may have waiting for a slot (running ones aside). */
export const MAX_WAITING_PER_WORKSPACE = 20;

export class BuildService {
  private readonly queue: BuildQueue;
  /** Per workspace: submissions past their check of the waiting cap and not yet in the queue. */
  private readonly admitting = new KeyedCount();
  private readonly limits: SourceLimits;
  private readonly collector: ArtifactCollector;
  private readonly builder: ArtifactBuilder;
  private readonly tasks: TaskLifecycle;
  private readonly intake: TaskIntake;
  private readonly removal: TaskRemoval;
  /** Builds queued or running here, which the records may not show yet (retention asks too). */
  readonly underWay: BuildsUnderWay;
  private closed = false;

  constructor(private readonly opts: BuildServiceOptions) {
    this.queue = new BuildQueue(opts.concurrency);
    this.collector = new ArtifactCollector(opts.meta, opts.blobs, () => opts.clock().getTime());
    this.limits = { ...DEFAULT_SOURCE_LIMITS, ...opts.zipLimits, maxSourceBytes: opts.maxSourceBytes };
    this.builder = new ArtifactBuilder(opts, this.limits, this.collector);
    this.tasks = new TaskLifecycle(opts, this.queue, this.builder, this.collector);
    this.intake = new TaskIntake(opts, this.limits, this.tasks);
    this.underWay = this.tasks.underWay;
    this.removal = new TaskRemoval(opts.meta, opts.blobs, {
      collectArtifacts: (workspaceId, digests) => this.collectArtifacts(workspaceId, digests),
      underWay: this.underWay,
    });
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
   * At start-up: marks failed the tasks a previous process left pending or running, which would
   * never finish (task-lifecycle.ts). Returns how many.
   */
  start(): Promise<number> {
    return this.tasks.markInterrupted();
  }

  /** Stores the upload, records a pending task and queues it. Returns the pending task. */
  async submit(input: UploadSubmission): Promise<BuildTask> {
    this.assertOpen();
    const workspaceId = await this.intake.workspace(input.workspaceId);
    return this.withPlace(workspaceId, () => this.intake.upload(workspaceId, input));
  }

  /**
   * The contract's push: for the local registry, builds an upload already stored by an earlier
   * build (s3_source_path); any other registry fails the task with a clear error.
   */
  async submitPush(input: PushSubmission): Promise<BuildTask> {
    this.assertOpen();
    const workspaceId = await this.intake.workspace(input.workspaceId);
    const task = await this.intake.checkPush(workspaceId, input);
    return this.withPlace(workspaceId, () => this.intake.push(task));
  }

  getTask(taskId: string, workspaceId?: string): Promise<BuildTask> {
    return this.tasks.get(taskId, workspaceId);
  }

  /** A page of the workspace's tasks, newest first, after `before` (a page's `next`). */
  listTasks(
    workspaceId: string,
    limit: number,
    before?: PageKey,
  ): Promise<{ tasks: BuildTask[]; next: string | null }> {
    return this.tasks.list(workspaceId, limit, before);
  }

  /**
   * Builds files now, without a task (the deployments endpoint's path): the same queue and the
   * same artifact as a task, but no sandbox check. `load` runs next in the same slot: the deploy
   * loads the artifact as its version's first instance, which checks the same
   * (DeploymentService.deployCurrent); a separate check cost a second sandbox boot per deploy.
   * Held in the slot, a tenant's module code still runs at most as many at once as its builds.
   */
  async buildNow(
    workspaceId: string,
    appName: string,
    files: SourceFiles,
    load: (built: BuiltArtifact) => Promise<void> = async () => {},
  ): Promise<BuiltArtifact> {
    this.assertOpen();
    checkWorkspaceId(workspaceId);
    await requireWorkspace(this.opts.meta, workspaceId);
    const app = resolveAppName(appName, 'app');
    checkSourceFiles(files, this.limits);
    // Joins the queue in the same step (no await in between), so the check cannot go stale.
    this.reserve(workspaceId)();
    return this.queue
      .run(workspaceId, () => this.builder.buildCode(workspaceId, app, files, load))
      .catch((err: unknown) => {
        if (err instanceof QueueClosedError) this.assertOpen();
        throw err;
      });
  }

  /**
   * A place among the workspace's waiting builds for a deploy that must wait its turn before it
   * calls buildNow (one deploy per function at a time), or a 429: those waited uncounted, and 40
   * deploys of one function each rebuilt the same code, the last a minute later. Release it when
   * the turn comes.
   */
  waitingPlace(workspaceId: string): () => void {
    this.assertOpen();
    return this.reserve(workspaceId);
  }

  /** A local image reference → its verified artifact (tampering is an error, never served). */
  resolveImage(ref: string): Promise<ResolvedImage> {
    return this.builder.resolveImage(ref);
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

  /**
   * Refuses new work and cancels the builds still waiting (their tasks fail as cancelled, waiting
   * deploys get SHUTTING_DOWN): a shutdown's first step, since the HTTP server's close waits for
   * deploys that wait here, and the queue went on starting builds the grace period then cut.
   */
  stop(): void {
    this.closed = true;
    this.queue.stop();
  }

  /** Stops (above), then waits for the running builds. */
  async close(): Promise<void> {
    this.stop();
    await this.queue.close();
    await this.tasks.settled();
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
}
