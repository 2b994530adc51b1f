// /api/workspaces/{ws}/keys — API keys of a workspace. The admin key, or a key of the workspace
// itself (so a team can rotate its own keys), may create, list and revoke them. The key is in the
// creation answer only; listings show its prefix.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiKeyService } from '../../auth/api-keys.js';
import type { Scopes } from '../../auth/policy.js';
import { emptyBodyIfNone } from '../json-body.js';
import {
  ApiKeyCreate,
  ApiKeyCreated,
  ApiKeyParams,
  ApiKeyView,
  AT_CAP,
  ErrorBody,
  WorkspaceParams,
  OPTIONAL_BODY,
} from '../../core/schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

export async function keyRoutes(base: FastifyInstance, keys: ApiKeyService, scope: Scopes): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Keys'];

  app.post(
    '/api/workspaces/:workspace_id/keys',
    {
      config: { auth: scope.workspaceParam },
      // The name is optional, and so is the whole body.
      preValidation: emptyBodyIfNone,
      schema: {
        ...OPTIONAL_BODY,
        tags,
        summary: 'Create an API key',
        description:
          'Answers the key once; only its sha256 is stored. Send it as `Authorization: Bearer <key>`.',
        params: WorkspaceParams,
        body: ApiKeyCreate,
        response: { 201: ApiKeyCreated, 409: AT_CAP, ...errors },
      },
    },
    async (req, reply) => {
      const created = await keys.create(req.params.workspace_id, req.body.name ?? null);
      // The key must not linger in caches or proxies.
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );
  app.get(
    '/api/workspaces/:workspace_id/keys',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'List API keys (prefixes only)',
        params: WorkspaceParams,
        response: { 200: Type.Array(ApiKeyView), ...errors },
      },
    },
    async (req) => keys.list(req.params.workspace_id),
  );
  app.delete(
    '/api/workspaces/:workspace_id/keys/:key_id',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Revoke an API key',
        description: 'Takes effect at once: the next request with this key answers 401.',
        params: ApiKeyParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...errors },
      },
    },
    async (req, reply) => {
      await keys.delete(req.params.workspace_id, req.params.key_id);
      return reply.code(204).send(null);
    },
  );
}
