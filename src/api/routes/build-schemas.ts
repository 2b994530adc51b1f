// Schemas of the seed builder's snake_case objects (/api/v1/build, /build-and-push, /push, tasks).

import { Type } from 'typebox';
import { DEFAULT_TAG, DEFAULT_WORKSPACE_ID } from '../../build/names.js';

const NullableString = (description: string) => Type.Union([Type.String(), Type.Null()], { description });

export const BuildResponse = Type.Object(
  {
    task_id: Type.String({ description: 'Task id; poll GET /api/v1/tasks/{task_id}' }),
    status: Type.String({ description: 'pending | running | completed | failed' }),
    message: Type.String(),
    source_s3_path: NullableString('Blob key of the stored upload (build-sources/{ws}/{task}/{file})'),
  },
  {
    description: 'A build task was accepted',
    examples: [
      {
        task_id: 'mc1x2y3z-k3j4h5g6f7d8',
        status: 'pending',
        message: 'build task queued',
        source_s3_path: 'build-sources/ws-default/mc1x2y3z-k3j4h5g6f7d8/app.py',
      },
    ],
  },
);

const BuildTaskResult = Type.Object(
  {
    wasm_path: NullableString('Blob key of the artifact manifest'),
    image_url: NullableString('local/{ws}/{app}:{tag}@sha256:{digest} — use as image_ref to deploy'),
    file_path: NullableString('Blob key of the source that was built'),
  },
  { description: 'What a completed build produced' },
);
const TaskResult = Type.Union([BuildTaskResult, Type.Null()]);

export const TaskStatusResponse = Type.Object(
  {
    task_id: Type.String(),
    status: Type.String({ description: 'pending | running | completed | failed' }),
    result: TaskResult,
    error: NullableString('Why the task failed: the Python traceback, the zip problem, …'),
  },
  { description: 'The state of a build task' },
);

const TaskSummary = Type.Object({
  task_id: Type.String(),
  status: Type.String({ description: 'pending | running | completed | failed' }),
  app_name: NullableString('App name'),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  result: TaskResult,
  error: NullableString('Why the task failed'),
});

export const WorkspaceTasksResponse = Type.Object(
  {
    workspace_id: Type.String(),
    tasks: Type.Array(TaskSummary),
    count: Type.Integer({ description: 'Tasks in this page' }),
    next: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as `before` for the next (older) page; null on the last page',
    }),
  },
  { description: 'Build tasks of a workspace, newest first, a page at a time' },
);

export const TasksQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1000 })),
  before: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'The `next` of the previous page: this page goes on from where that one ended',
    }),
  ),
});

export const MAX_FIELD = 4096;
const WorkspaceField = Type.String({
  maxLength: 100,
  default: DEFAULT_WORKSPACE_ID,
  description: 'Workspace (default ws-default, created on first use)',
});
const TagField = Type.String({
  maxLength: 128,
  default: DEFAULT_TAG,
  description: 'Image tag; "sha256" (default) = the first 12 hex digits of the digest',
});
const RegistryField = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: "'local' keeps the artifact in the platform; external OCI registries are not supported yet",
  examples: ['local'],
});
const AppNameField = Type.String({
  maxLength: 128,
  description: 'App name (default: the file name without extension), kept as [a-z0-9-]',
});

/** Documents the multipart form; the form itself is read by readForm, not by the JSON validator. */
/** Other fields are refused ("unknown form field"), as in a JSON body. */
const FORM = { additionalProperties: false } as const;

export const BuildForm = Type.Object(
  {
    file: Type.String({ format: 'binary', description: 'A .py file or a .zip holding app.py' }),
    app_name: Type.Optional(AppNameField),
    workspace_id: Type.Optional(WorkspaceField),
  },
  FORM,
);
export const BuildAndPushForm = Type.Object(
  {
    file: Type.String({ format: 'binary', description: 'A .py file or a .zip holding app.py' }),
    registry_url: RegistryField,
    username: Type.Optional(Type.String({ maxLength: 256, description: 'Registry user (unused for local)' })),
    password: Type.Optional(
      Type.String({ maxLength: MAX_FIELD, description: 'Registry password (never stored)' }),
    ),
    tag: Type.Optional(TagField),
    app_name: Type.Optional(AppNameField),
    workspace_id: Type.Optional(WorkspaceField),
  },
  FORM,
);

export const PushRequest = Type.Object(
  {
    registry_url: RegistryField,
    username: Type.Optional(Type.String({ maxLength: 256, default: 'AWS' })),
    password: Type.Optional(Type.Union([Type.String({ maxLength: MAX_FIELD }), Type.Null()])),
    tag: Type.Optional(TagField),
    app_dir: Type.Optional(
      Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], {
        description: 'Used as the app name when given',
      }),
    ),
    workspace_id: Type.Optional(WorkspaceField),
    s3_source_path: Type.Optional(
      Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], {
        description:
          'source_s3_path of an earlier build of this workspace. Required: `local`, the only registry ' +
          'that works today, pushes from it (a 400 without it)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TaskParams = Type.Object({ task_id: Type.String({ minLength: 1, maxLength: 200 }) });
export const TaskQuery = Type.Object({ workspace_id: Type.Optional(Type.String({ maxLength: 100 })) });
export const WorkspaceParams = Type.Object({ workspace_id: Type.String({ maxLength: 100 }) });
