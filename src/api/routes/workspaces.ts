// /api/workspaces — the seed's workspace endpoints.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  ErrorBody,
  Workspace,
  WorkspaceCreate,
  WorkspaceParams,
  WorkspaceUpdate,
} from '../../core/schemas.js';
import type { WorkspaceService } from '../../services/workspaces.js';

const errors = { 400: ErrorBody, 404: ErrorBody };

export async function workspaceRoutes(base: FastifyInstance, workspaces: WorkspaceService): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Workspaces'];

  app.post(
    '/api/workspaces',
    {
      schema: {
        tags,
        summary: 'Create a workspace',
        body: WorkspaceCreate,
        response: { 201: Workspace, 400: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(await workspaces.create(req.body)),
  );
  app.get(
    '/api/workspaces',
    { schema: { tags, summary: 'List workspaces', response: { 200: Type.Array(Workspace) } } },
    async () => workspaces.list(),
  );
  app.get(
    '/api/workspaces/:workspace_id',
    {
      schema: {
        tags,
        summary: 'Get a workspace',
        params: WorkspaceParams,
        response: { 200: Workspace, ...errors },
      },
    },
    async (req) => workspaces.get(req.params.workspace_id),
  );
  app.patch(
    '/api/workspaces/:workspace_id',
    {
      schema: {
        tags,
        summary: 'Update a workspace',
        params: WorkspaceParams,
        body: WorkspaceUpdate,
        response: { 200: Workspace, ...errors },
      },
    },
    async (req) => workspaces.update(req.params.workspace_id, req.body),
  );
  app.delete(
    '/api/workspaces/:workspace_id',
    {
      schema: {
        tags,
        summary: 'Delete a workspace',
        description:
          'Removes the workspace and everything in it: functions, their code, build tasks, logs and deployments.',
        params: WorkspaceParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors },
      },
    },
    async (req, reply) => {
      await workspaces.delete(req.params.workspace_id);
      return reply.code(204).send(null);
    },
  );
}
