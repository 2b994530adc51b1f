// /api/v1/build, /build-and-push, /push and the task endpoints — the seed builder's contract
// (snake_case). Uploads are multipart, parsed in this plugin's own scope with hard caps; the
// build itself is the BuildService's. Passwords are accepted for compatibility, never stored or
// logged (registry 'local' needs none; external registries are not supported yet).

import multipart, { type MultipartFile } from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { TObject } from 'typebox';
import type { BuildService } from '../../build/index.js';
import { EunhaError, invalid } from '../../core/errors.js';
import { decodeCursor } from '../../core/page-cursor.js';
import type { BuildTask } from '../../core/types.js';
import { ErrorBody } from '../../core/schemas.js';
import { callerOf } from '../../auth/guard.js';
import { ADMIN, type Scopes } from '../../auth/policy.js';
import { KeyedCount } from '../../core/keyed-count.js';
import { DEFAULT_TAG, DEFAULT_WORKSPACE_ID } from '../../build/names.js';
import { validatorCompiler } from '../validation.js';
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

/**
 * The multipart body is read by readForm (in preValidation, so the guard can see its workspace_id
 * before the handler runs); the documented body schema must not be validated, and the parsed form
 * must be kept.
 */
const multipartValidator: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === 'body' ? (data: unknown) => ({ value: data }) : validatorCompiler(route);

/** How long a refused upload's connection stays open for reading after its answer. */
const LINGER_MS = 1000;

/**
 * Uploads read at once, by one caller and in all. A form is held in memory until it is whole (up
 * to the source cap, 10 MiB): a review's 60 uploads that stopped short of their end held 530 MB,
 * and at the rate limit one key could have held ~12 GB for the request timeout. An upload past
 * either count waits, unread (its bytes stay in the kernel's buffers), for up to UPLOAD_WAIT_MS;
 * one that is read must arrive whole within UPLOAD_READ_MS, so that slow senders cannot keep the
 * slots from everyone else.
 */
export const UPLOADS_PER_CALLER = 4;
export const UPLOADS_IN_ALL = 16;
export const UPLOAD_WAIT_MS = 10_000;
export const UPLOAD_READ_MS = 30_000;

/** How long an upload may wait for a slot, and take to arrive (tests shorten them). */
export interface UploadTimes {
  waitMs?: number;
  readMs?: number;
}

const callerGone = (): EunhaError =>
  new EunhaError('CLIENT_CLOSED', 'the caller closed the connection before its upload arrived', {});

class UploadSlots {
  constructor(private readonly waitMs: number) {}

  private readonly perCaller = new KeyedCount();
  private total = 0;
  private readonly waiting: Array<{ caller: string; grant: (release: () => void) => void }> = [];

  /**
   * A slot for this caller, once one is free; RATE_LIMITED after the wait. A caller that goes
   * away while it waits leaves the line (a slot handed to it would sit idle until the read
   * deadline, keeping its own retry out).
   */
  take(caller: string, request: IncomingMessage): Promise<() => void> {
    if (this.fits(caller)) return Promise.resolve(this.hold(caller));
    // Gone already: its 'close' has been and will not come again.
    if (request.destroyed) return Promise.reject(callerGone());
    return new Promise((resolve, reject) => {
      const leave = (err: EunhaError) => {
        clearTimeout(timer);
        request.off('close', gone);
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(err);
      };
      const gone = () => leave(callerGone());
      const entry = {
        caller,
        grant: (release: () => void) => {
          clearTimeout(timer);
          request.off('close', gone);
          resolve(release);
        },
      };
      const timer = setTimeout(() => leave(this.busy(caller)), this.waitMs);
      request.once('close', gone);
      this.waiting.push(entry);
    });
  }

  /** Counts the slot at once, also for a waiter it is handed to (before that one resumes). */
  private hold(caller: string): () => void {
    const release = this.perCaller.take(caller);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      this.total--;
      // The first waiter that fits now (another caller's may, when this one is at its own cap).
      const next = this.waiting.findIndex((w) => this.fits(w.caller));
      if (next >= 0) {
        const [w] = this.waiting.splice(next, 1);
        w!.grant(this.hold(w!.caller));
      }
    };
  }

  private fits(caller: string): boolean {
    return this.perCaller.count(caller) < UPLOADS_PER_CALLER && this.total < UPLOADS_IN_ALL;
  }

  private busy(caller: string): EunhaError {
    const mine = this.perCaller.count(caller) >= UPLOADS_PER_CALLER;
    return new EunhaError(
      'RATE_LIMITED',
      mine
        ? `${UPLOADS_PER_CALLER} uploads of this caller were still arriving after ${this.waitMs / 1000} s; send this one when one has finished`
        : `${UPLOADS_IN_ALL} uploads were arriving at once for ${this.waitMs / 1000} s; retry in a moment`,
      { limit: mine ? UPLOADS_PER_CALLER : UPLOADS_IN_ALL, retryAfterSeconds: 1 },
      { 'retry-after': '1' },
    );
  }
}

/**
 * The form, or REQUEST_TIMEOUT once it has taken UPLOAD_READ_MS to arrive, or CLIENT_CLOSED as
 * soon as the caller is gone (a read of a closed request waited out the whole deadline, and
 * its slot with it).
 */
async function readFormInTime(
  req: FastifyRequest,
  allowed: readonly string[],
  maxBytes: number,
  readMs: number,
): Promise<UploadForm> {
  if (req.raw.destroyed) throw callerGone();
  let timer: NodeJS.Timeout | undefined;
  let gone = (): void => {};
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new EunhaError('REQUEST_TIMEOUT', `the upload did not arrive within ${readMs / 1000} s`, {
            limit: readMs,
          }),
        ),
      readMs,
    );
    // 'close' also follows a body read to its end: only one cut short means the caller left.
    gone = () => {
      if (!req.raw.complete) reject(callerGone());
    };
    req.raw.once('close', gone);
  });
  const reading = readForm(req, allowed, maxBytes);
  reading.catch(() => {}); // when the deadline wins, how the read ends is of no interest
  try {
    return await Promise.race([reading, stopped]);
  } finally {
    clearTimeout(timer);
    req.raw.off('close', gone);
  }
}

/** Parses the form before validation and the guard; the handler reads it back from req.body. */
const parseForm =
  (schema: TObject, maxBytes: number, slots: UploadSlots, readMs: number) =>
  async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const allowed = Object.keys(schema.properties).filter((name) => name !== 'file');
    let form;
    let release = (): void => {};
    try {
      release = await slots.take(callerOf(req), req.raw);
      form = await readFormInTime(req, allowed, maxBytes, readMs);
    } catch (err) {
      // Refused before the body ended (past the cap, a bad field): Node would go on reading the
      // rest to keep the connection, however long it is. The answer goes, then the connection:
      // closed for writing at once, and for good a second later. Not with `Connection: close`:
      // Node then destroys the socket with the client's data unread, which sends a reset that
      // can reach the client before it has read the answer.
      if (!req.raw.complete) {
        reply.raw.once('finish', () => {
          const socket = req.raw.socket;
          // Only a connection (Fastify's inject() has none to close).
          if (!(socket instanceof Socket)) return;
          socket.end();
          setTimeout(() => socket.destroy(), LINGER_MS).unref();
        });
      }
      throw err;
    } finally {
      release();
    }
    checkLengths(form, schema);
    req.body = { ...Object.fromEntries(form.fields), [FORM]: form };
  };

/**
 * The form is never run through the JSON validator (multipartValidator), so the documented
 * maxLength of each text field is enforced here, from the same schema the OpenAPI document shows.
 * Lengths count code points, as Ajv does for the JSON /push.
 */
function checkLengths(form: UploadForm, schema: TObject): void {
  for (const [name, value] of form.fields) {
    const max = (schema.properties[name] as { maxLength?: unknown } | undefined)?.maxLength;
    if (typeof max === 'number' && [...value].length > max) {
      throw invalid(name, `${name} must be at most ${max} characters`, { limit: max });
    }
  }
}

const FORM = Symbol('form');
const formOf = (req: FastifyRequest): UploadForm => {
  const form = (req.body as { [FORM]?: UploadForm } | undefined)?.[FORM];
  if (!form) throw invalid('file', 'file is required (multipart field "file", a .py or a .zip)');
  return form;
};

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

interface UploadForm {
  filename: string;
  data: Buffer;
  fields: Map<string, string>;
}

/** Multipart error codes of @fastify/multipart and busboy, as the user's errors. */
function formError(err: unknown, maxBytes: number): EunhaError {
  if (err instanceof EunhaError) return err;
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new EunhaError('PAYLOAD_TOO_LARGE', `file is larger than the ${maxBytes}-byte cap`, {
        field: 'file',
        limit: maxBytes,
      });
    case 'FST_FILES_LIMIT':
      return invalid('file', 'send exactly one file, in the field "file"');
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return invalid('body', 'too many form fields');
    case 'FST_PROTO_VIOLATION':
      return invalid('body', 'forbidden form field name');
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return invalid('body', 'a form field declared as JSON is not valid JSON');
  }
  const message = err instanceof Error ? err.message : String(err);
  return invalid('body', `malformed multipart body: ${message}`);
}

/**
 * The file part's bytes, refused as soon as they pass the cap: @fastify/multipart's toBuffer()
 * read the rest of an over-cap part to its end before it said so, and a review's chunked part
 * that never ended was read for 121 s (57 GB) until the request timeout.
 */
async function fileOf(part: MultipartFile): Promise<Buffer> {
  const tooLarge = () => Object.assign(new Error('file too large'), { code: 'FST_REQ_FILE_TOO_LARGE' });
  // busboy stops passing data on at the cap and says so with 'limit'; the part itself goes on.
  let onLimit = (): void => {};
  const limited = new Promise<never>((_, reject) => {
    onLimit = () => reject(tooLarge());
  });
  part.file.once('limit', onLimit);
  const chunks: Buffer[] = [];
  // Iterating ends with an error when the form breaks off (busboy destroys the part).
  const collect = (async () => {
    for await (const chunk of part.file) chunks.push(chunk as Buffer);
  })();
  collect.catch(() => {}); // when the cap wins the race, its end is of no interest
  try {
    await Promise.race([collect, limited]);
  } finally {
    part.file.off('limit', onLimit);
  }
  if (part.file.truncated) throw tooLarge();
  return Buffer.concat(chunks);
}

async function readForm(
  req: FastifyRequest,
  allowed: readonly string[],
  maxBytes: number,
): Promise<UploadForm> {
  if (!req.isMultipart()) {
    throw new EunhaError(
      'UNSUPPORTED_MEDIA_TYPE',
      'send multipart/form-data with the upload in a field named "file"',
      { field: 'content-type' },
    );
  }
  const fields = new Map<string, string>();
  let file: { filename: string; data: Buffer } | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          throw invalid(
            part.fieldname,
            `unexpected file field '${part.fieldname}'; the upload goes in "file"`,
          );
        }
        file = { filename: part.filename, data: await fileOf(part) };
        continue;
      }
      if (!allowed.includes(part.fieldname)) {
        throw invalid(part.fieldname, `unknown form field '${part.fieldname}'`);
      }
      if (part.valueTruncated || typeof part.value !== 'string') {
        throw invalid(part.fieldname, `${part.fieldname} is too long`);
      }
      if (fields.has(part.fieldname)) throw invalid(part.fieldname, `${part.fieldname} was sent twice`);
      fields.set(part.fieldname, part.value);
    }
  } catch (err) {
    throw formError(err, maxBytes);
  }
  if (!file) throw invalid('file', 'file is required (multipart field "file", a .py or a .zip)');
  return { ...file, fields };
}

/** A form field, with '' treated as absent (HTML forms send empty inputs). */
const field = (form: UploadForm, name: string): string | undefined => {
  const value = form.fields.get(name)?.trim();
  return value === '' ? undefined : value;
};

// 413 and 415 for the uploads come from api/documented-errors.ts, which adds them to body methods.
const errors = { 400: ErrorBody, 404: ErrorBody, 503: ErrorBody };
// The uploads add what their form's arrival can end in: too many at once, or too slow.
const uploadErrors = { ...errors, 408: ErrorBody, 429: ErrorBody };

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
        const task = await builds.submitPush({
          workspaceId: body.workspace_id,
          registryUrl: body.registry_url,
          tag: body.tag,
          sourcePath: body.s3_source_path ?? undefined,
          appName: body.app_dir?.split(/[\\/]/).filter(Boolean).pop(),
        });
        return reply.code(202).send(accepted(task, `push task queued (registry '${body.registry_url}')`));
      },
    );

    app.get(
      '/api/v1/tasks/:task_id',
      {
        config: { auth: ofTask },
        schema: {
          tags,
          summary: 'Get a build task',
          description: 'Poll until status is completed or failed. `workspace_id`, when given, must match.',
          params: TaskParams,
          querystring: TaskQuery,
          response: { 200: TaskStatusResponse, ...errors },
        },
      },
      // An empty ?workspace_id= means "not given", as HTML forms and some clients send it.
      async (req) =>
        taskStatus(await builds.getTask(req.params.task_id, req.query.workspace_id || undefined)),
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
