// /api/v1/build, /build-and-push, /push and the task endpoints — the seed builder's contract
// (snake_case). Uploads are multipart, parsed in this plugin's own scope with hard caps; the
// build itself is the BuildService's. Passwords are accepted for compatibility, never stored or
// logged (registry 'local' needs none; external registries are not supported yet).

import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { BuildService } from '../../build/index.js';
import { invalid } from '../../core/errors.js';
import { decodeCursor } from '../../core/page-cursor.js';
import type { BuildTask } from '../../core/types.js';
import { ErrorBody, OUT_OF_STORAGE } from '../../core/schemas.js';
import { Type } from 'typebox';
import { ADMIN, type Scopes } from '../../auth/policy.js';
import { DEFAULT_TAG, DEFAULT_WORKSPACE_ID } from '../../build/names.js';
import {
  field,
  formOf,
  multipartValidator,
  parseForm,
  UPLOAD_READ_MS,
  type UploadTimes,
} from '../upload-form.js';
import { UPLOAD_WAIT_MS, UploadSlots } from '../upload-slots.js';
import {
  BuildResponse,
  TaskStatusResponse,
  TasksQuery,
  WorkspaceTasksResponse,
  MAX_FIELD,
  BuildForm,
  BuildAndPushForm,
  PushRequest,
  TaskParams,
  TaskQuery,
  WorkspaceParams,
} from './build-schemas.js';

const taskStatus = (t: BuildTask) => ({
  task_id: t.taskId,
  status: t.status,
  result: t.result,
  error: t.error,
});

const accepted = (t: BuildTask, message: string) => ({
  task_id: t.taskId,
  status: t.status,
  message,
  source_s3_path: t.sourcePath,
});

// 413 and 415 for the uploads come from api/documented-errors.ts, which adds them to body methods.
const errors = { 400: ErrorBody, 404: ErrorBody, 503: ErrorBody };
// The uploads add what their form's arrival can end in: too many at once, or too slow.
const uploadErrors = { ...errors, 408: ErrorBody, 429: ErrorBody, 507: OUT_OF_STORAGE };

/** `scopes` is omitted only by harnesses that mount these routes without the guard; fail closed then. */
export async function buildRoutes(
  base: FastifyInstance,
  builds: BuildService,
  scopes?: Scopes,
  uploads: UploadTimes = {},
): Promise<void> {
  const inWorkspaceField = scopes?.workspaceField(DEFAULT_WORKSPACE_ID) ?? ADMIN;
  const ofTask = scopes?.taskParam ?? ADMIN;
  const inWorkspaceParam = scopes?.workspaceParam ?? ADMIN;
  const slots = new UploadSlots(uploads.waitMs ?? UPLOAD_WAIT_MS);
  const readMs = uploads.readMs ?? UPLOAD_READ_MS;
  // Own scope: the multipart parser and its caps apply to these routes only.
  await base.register(async (scope) => {
    await scope.register(multipart, {
      limits: {
        fileSize: builds.maxSourceBytes,
        files: 1,
        fields: 10,
        fieldSize: MAX_FIELD,
        fieldNameSize: 100,
        parts: 12,
        headerPairs: 100,
      },
    });
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['Builds'];

    app.post(
      '/api/v1/build',
      {
        config: { auth: inWorkspaceField },
        preValidation: parseForm(BuildForm, builds.maxSourceBytes, slots, readMs),
        validatorCompiler: multipartValidator,
        schema: {
          tags,
          summary: 'Build an app from a .py or .zip upload',
          description:
            'Stores the upload, then (asynchronously) checks the code in the sandbox — syntax, ' +
            'imports, an `IncomingHandler` class — and stores an immutable, content-addressed ' +
            'artifact. A zip must hold `app.py` at its root or in one top-level folder. Poll the ' +
            'task for `result.image_url`.',
          consumes: ['multipart/form-data'],
          body: BuildForm,
          response: { 202: BuildResponse, ...uploadErrors },
        },
      },
      async (req, reply) => {
        const form = formOf(req);
        const task = await builds.submit({
          kind: 'build',
          workspaceId: field(form, 'workspace_id'),
          appName: field(form, 'app_name'),
          filename: form.filename,
          data: form.data,
          tag: DEFAULT_TAG,
        });
        return reply.code(202).send(accepted(task, 'build task queued'));
      },
    );

    app.post(
      '/api/v1/build-and-push',
      {
        config: { auth: inWorkspaceField },
        preValidation: parseForm(BuildAndPushForm, builds.maxSourceBytes, slots, readMs),
        validatorCompiler: multipartValidator,
        schema: {
          tags,
          summary: 'Build an app and push its image',
          description:
            'With `registry_url` **local** the artifact stays in the platform and ' +
            '`result.image_url` (`local/{ws}/{app}:{tag}@sha256:{digest}`) can be deployed at once. ' +
            'Pushing to external OCI registries is not supported yet: such a task fails with a ' +
            'clear error. `username`/`password` are accepted for compatibility and never stored.',
          consumes: ['multipart/form-data'],
          body: BuildAndPushForm,
          response: { 202: BuildResponse, ...uploadErrors },
        },
      },
      async (req, reply) => {
        const form = formOf(req);
        const registryUrl = field(form, 'registry_url');
        if (registryUrl === undefined)
          throw invalid('registry_url', "registry_url is required (use 'local')");
        const task = await builds.submit({
          kind: 'build-and-push',
          workspaceId: field(form, 'workspace_id'),
          appName: field(form, 'app_name'),
          filename: form.filename,
          data: form.data,
          registryUrl,
          tag: field(form, 'tag') ?? DEFAULT_TAG,
        });
        return reply.code(202).send(accepted(task, `build and push task queued (registry '${registryUrl}')`));
      },
    );

    app.post(
      '/api/v1/push',
      {
        config: { auth: inWorkspaceField },
        schema: {
          tags,
          summary: 'Push a previously uploaded source',
          description:
            "For registry 'local', builds the source stored at `s3_source_path` (the " +
            '`source_s3_path` of an earlier build of the same workspace) into a local artifact. ' +
            'Other registries are not supported yet; the task fails with a clear error.',
          body: PushRequest,
          response: { 202: BuildResponse, ...errors },
        },
      },
      async (req, reply) => {
        const body = req.body;
        // Read as the build forms' fields are: trimmed, and blank is absent.
        const registryUrl = body.registry_url.trim();
        if (registryUrl === '') throw invalid('registry_url', "registry_url is required (use 'local')");
        const task = await builds.submitPush({
          workspaceId: body.workspace_id,
          registryUrl,
          tag: body.tag?.trim() || undefined,
          sourcePath: body.s3_source_path ?? undefined,
          appDir: body.app_dir ?? undefined,
        });
        return reply.code(202).send(accepted(task, `push task queued (registry '${registryUrl}')`));
      },
    );

    app.get(
      '/api/v1/tasks/:task_id',
      {
        config: { auth: ofTask },
        schema: {
          tags,
          summary: 'Get a build task',
          description:
            'Poll until status is completed or failed. `workspace_id` is accepted and ignored, as the seed did: its README polls `?workspace_id=ws-default` whatever workspace built the task. Access is still checked against the task’s own workspace.',
          params: TaskParams,
          querystring: TaskQuery,
          response: { 200: TaskStatusResponse, ...errors },
        },
      },
      async (req) => taskStatus(await builds.getTask(req.params.task_id)),
    );

    app.delete(
      '/api/v1/tasks/:task_id',
      {
        config: { auth: ofTask },
        schema: {
          tags,
          summary: 'Delete a finished build task',
          description:
            'Removes the task, its upload (unless another task builds it) and the artifact it built (unless a deployment or another task names it). A pending or running task cannot be deleted (409). `workspace_id`, when given, must match.',
          params: TaskParams,
          querystring: TaskQuery,
          response: { 204: Type.Null({ description: 'Deleted' }), 409: ErrorBody, ...errors },
        },
      },
      async (req, reply) => {
        // An empty ?workspace_id= means "not given", as HTML forms and some clients send it.
        await builds.deleteTask(req.params.task_id, req.query.workspace_id || undefined);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/api/v1/workspaces/:workspace_id/tasks',
      {
        config: { auth: inWorkspaceParam },
        schema: {
          tags,
          summary: 'List the build tasks of a workspace',
          description:
            'Newest first, at most `limit` (default and most 1000) and 4 MiB of tasks a page; `next` is the `before` of the page after, null on the last.',
          params: WorkspaceParams,
          querystring: TasksQuery,
          response: { 200: WorkspaceTasksResponse, ...errors },
        },
      },
      async (req) => {
        const before = req.query.before === undefined ? undefined : decodeCursor(req.query.before);
        const { tasks, next } = await builds.listTasks(
          req.params.workspace_id,
          req.query.limit ?? 1000,
          before,
        );
        return {
          workspace_id: req.params.workspace_id,
          tasks: tasks.map((t) => ({
            task_id: t.taskId,
            status: t.status,
            app_name: t.appName,
            created_at: t.createdAt,
            updated_at: t.updatedAt,
            result: t.result,
            error: t.error,
          })),
          count: tasks.length,
          next,
        };
      },
    );
  });
}
