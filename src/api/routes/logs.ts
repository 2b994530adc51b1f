// Execution logs: per function (the seed's endpoint) and across a workspace.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  ErrorBody,
  ExecutionLog,
  FunctionParams,
  LogsQuery,
  LogsResponse,
  WorkspaceLogsQuery,
  WorkspaceParams,
} from '../../core/schemas.js';
import type { Scopes } from '../../auth/policy.js';
import type { ExecutionLogService } from '../../observability/execution-logs.js';
import type { LiveTails } from '../../observability/live-tail.js';

const errors = { 400: ErrorBody, 404: ErrorBody };

export async function logRoutes(
  base: FastifyInstance,
  logs: ExecutionLogService,
  tails: LiveTails,
  scope: Scopes,
): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Logs'];

  app.get(
    '/api/workspaces/:workspace_id/functions/:function_id/logs',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Execution logs of a function, newest first',
        description:
          'With `follow=true` the answer is a live tail (text/event-stream): the newest `limit` entries oldest first, then each new one as an `event: log` until the client leaves.',
        params: FunctionParams,
        querystring: LogsQuery,
        response: { 200: LogsResponse, ...errors },
      },
    },
    async (req, reply) => {
      const page = await logs.forFunction(
        req.params.workspace_id,
        req.params.function_id,
        req.query.limit ?? 100,
      );
      if (!req.query.follow) return page;
      reply.hijack();
      await tails.stream(reply.raw, req.params.function_id, [...page.logs].reverse(), {
        'x-request-id': String(req.id),
        ...(reply.getHeader('access-control-allow-origin')
          ? { 'access-control-allow-origin': String(reply.getHeader('access-control-allow-origin')) }
          : {}),
      });
      return reply;
    },
  );
  app.get(
    '/api/workspaces/:workspace_id/logs',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Recent execution logs across a workspace, newest first',
        params: WorkspaceParams,
        querystring: WorkspaceLogsQuery,
        response: { 200: Type.Array(ExecutionLog), ...errors },
      },
    },
    async (req) => logs.forWorkspace(req.params.workspace_id, req.query.limit ?? 50),
  );
}
