// Task intake: what a build request must be before it becomes a task, and what it is made into.
// An upload is checked (kind, size, tag, app name) and stored under a new task id; a push names an
// upload an earlier build stored, which must be one of the workspace's; the seed's default
// workspace is created on first use. The task itself is then task-lifecycle.ts's.

import { EunhaError, invalid, notFound } from '../core/errors.js';
import type { BuildTask } from '../core/types.js';
import { reserveStorage } from './artifact-builder.js';
import {
  DEFAULT_TAG,
  DEFAULT_WORKSPACE_ID,
  checkTag,
  checkWorkspaceId,
  isLocalRegistry,
  resolveAppName,
} from './names.js';
import { sourceKindOf, storedUploadName, uploadStem, type SourceLimits } from './source.js';
import type { Job, TaskLifecycle } from './task-lifecycle.js';
import {
  sourcePrefix,
  sourcesPrefix,
  type BuildServiceOptions,
  type PushSubmission,
  type UploadSubmission,
} from './types.js';

type IntakeOptions = Pick<BuildServiceOptions, 'meta' | 'blobs' | 'clock' | 'ids' | 'quota'>;

export class TaskIntake {
  constructor(
    private readonly opts: IntakeOptions,
    private readonly limits: SourceLimits,
    private readonly tasks: TaskLifecycle,
  ) {}

  /** The workspace of a request; the seed's `ws-default` is created on first use. */
  async workspace(given: string | undefined): Promise<string> {
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

  /** The upload checked and stored under a new task id, then its task queued (BuildService.submit). */
  async upload(workspaceId: string, input: UploadSubmission): Promise<BuildTask> {
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
    const release = await reserveStorage(this.opts.quota, workspaceId, {
      bytes: input.data.byteLength,
      blobs: 1,
    });
    try {
      // Under a task id just made: nothing is there, and the meter need not ask.
      await this.opts.blobs.put(sourcePath, input.data, { sizeBefore: undefined });
    } finally {
      release();
    }
    try {
      return await this.tasks.enqueue(input.kind, {
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
   * Checks a push and names what it would build, storing nothing: done before the push takes a
   * place in its workspace's line, so that a push that can never be taken is a 400, not a 429
   * whose retry fails the same way.
   */
  async checkPush(workspaceId: string, input: PushSubmission): Promise<Job> {
    const tag = checkTag(input.tag ?? DEFAULT_TAG);
    let sourcePath: string | null = null;
    if (input.sourcePath !== undefined && input.sourcePath.trim() !== '') {
      sourcePath = await this.storedSource(workspaceId, input.sourcePath);
    } else if (isLocalRegistry(input.registryUrl)) {
      throw invalid('s3_source_path', "s3_source_path is required to push to registry 'local'");
    }
    const filename = sourcePath?.split('/').pop() ?? 'app.py';
    let appName: string;
    try {
      appName = resolveAppName(input.appDir?.split(/[\\/]/).filter(Boolean).pop(), uploadStem(filename));
    } catch (err) {
      // The push's app name is app_dir's last folder: that is the field the client sent.
      if (!(err instanceof EunhaError && err.details.field === 'app_name')) throw err;
      throw invalid('app_dir', "app_dir's last folder must contain a letter or a digit");
    }
    return {
      taskId: this.opts.ids.opaque(),
      workspaceId,
      appName,
      sourcePath,
      filename,
      registryUrl: input.registryUrl,
      tag,
    };
  }

  /** A push's task, queued with the stored upload it names (BuildService.submitPush). */
  push(task: Job): Promise<BuildTask> {
    return this.tasks.enqueue('push', task);
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
    // Said before the store is asked: no upload is kept under any other name.
    if (!/\.(py|zip)$/i.test(path)) {
      throw invalid('s3_source_path', 's3_source_path must name a .py or .zip upload');
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
    return path;
  }
}
