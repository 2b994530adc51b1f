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
import type { ExecutionLogService } from '../../observability/execution-logs.js';

const errors = { 400: ErrorBody, 404: ErrorBody };

export async function logRoutes(base: FastifyInstance, logs: ExecutionLogService): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Logs'];

  app.get(
    '/api/workspaces/:workspace_id/functions/:function_id/logs',
    {
      schema: {
        tags,
        summary: 'Execution logs of a function, newest first',
        params: FunctionParams,
        querystring: LogsQuery,
        response: { 200: LogsResponse, ...errors },
      },
    },
    async (req) => logs.forFunction(req.params.workspace_id, req.params.function_id, req.query.limit ?? 100),
  );
  app.get(
    '/api/workspaces/:workspace_id/logs',
    {
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
