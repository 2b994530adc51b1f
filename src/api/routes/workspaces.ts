// /api/workspaces — the seed's workspace endpoints. Only the admin creates workspaces; a workspace
// key lists, reads, changes and deletes its own workspace only.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  ErrorBody,
  Workspace,
  WorkspaceCreate,
  WorkspaceParams,
  WorkspaceStorage,
  WorkspaceUpdate,
} from '../../core/schemas.js';
import { canSeeWorkspace } from '../../auth/guard.js';
import { ADMIN, ANY_KEY, type Scopes } from '../../auth/policy.js';
import type { WorkspaceService } from '../../services/workspaces.js';

const errors = { 400: ErrorBody, 404: ErrorBody };

export async function workspaceRoutes(
  base: FastifyInstance,
  workspaces: WorkspaceService,
  scope: Scopes,
): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Workspaces'];

  app.post(
    '/api/workspaces',
    {
      config: { auth: ADMIN },
      schema: {
        tags,
        summary: 'Create a workspace (admin key)',
        body: WorkspaceCreate,
        response: { 201: Workspace, 400: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(await workspaces.create(req.body)),
  );
  app.get(
    '/api/workspaces',
    {
      config: { auth: ANY_KEY },
      schema: {
        tags,
        summary: 'List workspaces',
        description: 'The admin key sees every workspace; a workspace key sees its own only.',
        response: { 200: Type.Array(Workspace) },
      },
    },
    async (req) => workspaces.list((id) => canSeeWorkspace(req, id)),
  );
  app.get(
    '/api/workspaces/:workspace_id',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Get a workspace',
        params: WorkspaceParams,
        response: { 200: Workspace, ...errors },
      },
    },
    async (req) => workspaces.get(req.params.workspace_id),
  );
  app.get(
    '/api/workspaces/:workspace_id/storage',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'What the workspace stores, against its quota',
        description:
          'Bytes and files of its functions’ code, build uploads and artifacts together. A build, deploy or code change that would pass either quota is refused with 507 `QUOTA_EXCEEDED`; deleting deployments, build tasks or functions makes room.',
        params: WorkspaceParams,
        response: { 200: WorkspaceStorage, ...errors },
      },
    },
    async (req) => workspaces.storage(req.params.workspace_id),
  );
  app.patch(
    '/api/workspaces/:workspace_id',
    {
      config: { auth: scope.workspaceParam },
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
      config: { auth: scope.workspaceParam },
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
