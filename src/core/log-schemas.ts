// JSON Schemas (TypeBox) of execution logs: one invocation's log, and the pages and live tail that
// read them (GET …/logs, the workspace's logs), with what a page may select.

import { Type } from 'typebox';
import { FunctionId } from './schemas.js';

export const ExecutionLog = Type.Object(
  {
    id: Type.String(),
    functionId: FunctionId,
    timestamp: Type.String({ format: 'date-time' }),
    status: Type.String({ description: 'success | error' }),
    duration: Type.Number({
      description: 'ms, from the request to the answer: includes any wait for an instance and a cold start',
    }),
    statusCode: Type.Integer(),
    requestBody: Type.Unknown(),
    responseBody: Type.Unknown(),
    logs: Type.Array(Type.String(), { description: 'Lines the function printed' }),
    level: Type.String({ description: 'info | warn | error' }),
    coldStart: Type.Boolean(),
    deploymentVersion: Type.Union([Type.Integer(), Type.Null()]),
    cpuMs: Type.Number({ description: 'CPU time used, in ms' }),
    runMs: Type.Optional(
      Type.Union([Type.Number(), Type.Null()], {
        description:
          'How long the handler ran, in ms, timed in its sandbox (`duration` less the wait for an instance and a cold start); null when its sandbox did not say (killed: a crash, a timeout it did not stop at) or it did not run',
      }),
    ),
    waitMs: Type.Optional(
      Type.Union([Type.Number(), Type.Null()], {
        description:
          'How long the call waited for the instance that answered it, in ms: in line behind busy instances, and for a cold start (`coldStart` says if there was one). All of `duration` for a call that never got one (429, 499); null in logs written before it was recorded',
      }),
    ),
    requestId: Type.Optional(
      Type.Union([Type.String(), Type.Null()], {
        description:
          'The `X-Request-Id` the call was answered with: the caller’s own when it sent a sane one, else the one the platform made. Null in logs written before it was recorded',
      }),
    ),
  },
  { description: 'One invocation of a function' },
);

/** What a page of logs selects (additive to the seed's `limit`); with `follow` none applies. */
const LogSelection = {
  since: Type.Optional(
    Type.String({ format: 'date-time', description: 'Only invocations at or after this instant (RFC 3339)' }),
  ),
  until: Type.Optional(
    Type.String({ format: 'date-time', description: 'Only invocations before this instant (RFC 3339)' }),
  ),
  status: Type.Optional(
    Type.String({ enum: ['success', 'error'], description: 'Only failed invocations, or only the others' }),
  ),
  before: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'The `next` of the previous page: this page goes on from where that one ended',
    }),
  ),
};

export const LogsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    follow: Type.Optional(
      Type.Boolean({ default: false, description: 'Stream new entries (Server-Sent Events)' }),
    ),
    ...LogSelection,
  },
  // Unknown query parameters (a cache-buster `_=…`) are ignored, as the seed's FastAPI did and
  // as every other route here does; unknown body fields are refused.
);
/** Documents the live tail's resume point; any value is accepted (one it cannot use starts afresh). */
export const TailHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({
      description:
        'With `follow=true`: the `id` of the last event a client had; the tail sends only entries stored after it',
    }),
  ),
});
export const WorkspaceLogsQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  follow: Type.Optional(
    Type.Boolean({
      description:
        'A live tail follows one function: `true` here is a 400 that says so (it used to be ignored, and a page came back where a stream was asked for)',
    }),
  ),
  ...LogSelection,
});

export const LogsResponse = Type.Object({
  logs: Type.Array(ExecutionLog),
  total: Type.Integer(),
  next: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as `before` for the next (older) page; null on the last page',
  }),
});
