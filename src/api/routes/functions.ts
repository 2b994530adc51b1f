// /api/workspaces/{ws}/functions — the seed's function endpoints. Each answer adds to the
// service's view what the record cannot say: whether calls fail whatever the code does
// (`unavailable`), which the route table knows and the stored status does not.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import {
  AT_CAP,
  CHANGED_SINCE,
  IfMatchHeaders,
  OUT_OF_STORAGE,
  ErrorBody,
  FunctionConfig,
  FunctionCreate,
  FunctionParams,
  FunctionUpdate,
  WorkspaceParams,
} from '../../core/schemas.js';
import type { Scopes } from '../../auth/policy.js';
import type { LocalTarget } from '../../deploy/local-target.js';
import { notRestored, stillRestoring } from '../../gateway/ingress.js';
import type { FunctionService, FunctionView } from '../../services/functions.js';

const errors = { 400: ErrorBody, 404: ErrorBody };
const ETAG_HEADER = {
  ETag: {
    type: 'string',
    description: 'The function’s entity tag: send it back in `If-Match` to change it only as you saw it',
  },
};

export async function functionRoutes(
  base: FastifyInstance,
  functions: FunctionService,
  target: Pick<LocalTarget, 'unrestoredState' | 'isRestoring'>,
  scope: Scopes,
): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Functions'];
  // The stored status stays 'active' when start-up could not load the active deployment (a
  // retry, a deploy or an activation mends it); the view says what every call gets meanwhile.
  const withServing = (view: FunctionView) => {
    const state = target.unrestoredState(view.id);
    const e = state
      ? notRestored(view.id, state)
      : target.isRestoring(view.id)
        ? stillRestoring(view.id)
        : undefined;
    return { ...view, unavailable: e ? { code: e.code, message: e.message } : null };
  };
  /** One function's answer: its tag goes in the ETag header (it is not part of the body). */
  const tagged = (reply: FastifyReply, view: FunctionView) => {
    void reply.header('etag', view.etag);
    return withServing(view);
  };

  app.post(
    '/api/workspaces/:workspace_id/functions',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Create a function',
        description: 'The code is the base64 of a Python file written for the Spin Python SDK.',
        params: WorkspaceParams,
        body: FunctionCreate,
        response: {
          201: { ...FunctionConfig, headers: ETAG_HEADER },
          409: AT_CAP,
          507: OUT_OF_STORAGE,
          ...errors,
        },
      },
    },
    async (req, reply) =>
      reply.code(201).send(tagged(reply, await functions.create(req.params.workspace_id, req.body))),
  );
  app.get(
    '/api/workspaces/:workspace_id/functions',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'List functions',
        params: WorkspaceParams,
        response: { 200: Type.Array(FunctionConfig), ...errors },
      },
    },
    async (req) => (await functions.list(req.params.workspace_id)).map(withServing),
  );
  app.get(
    '/api/workspaces/:workspace_id/functions/:function_id',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Get a function',
        description: 'The `ETag` header is the function’s tag, for a later `If-Match`.',
        params: FunctionParams,
        response: { 200: { ...FunctionConfig, headers: ETAG_HEADER }, ...errors },
      },
    },
    async (req, reply) => tagged(reply, await functions.get(req.params.workspace_id, req.params.function_id)),
  );
  app.patch(
    '/api/workspaces/:workspace_id/functions/:function_id',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Update a function',
        description:
          'With `If-Match`, only if the function is still as that tag says (412 `PRECONDITION_FAILED` otherwise, and nothing changes).',
        params: FunctionParams,
        headers: IfMatchHeaders,
        body: FunctionUpdate,
        response: {
          200: { ...FunctionConfig, headers: ETAG_HEADER },
          412: CHANGED_SINCE,
          507: OUT_OF_STORAGE,
          ...errors,
        },
      },
    },
    async (req, reply) =>
      tagged(
        reply,
        await functions.update(
          req.params.workspace_id,
          req.params.function_id,
          req.body,
          req.headers['if-match'],
        ),
      ),
  );
  app.delete(
    '/api/workspaces/:workspace_id/functions/:function_id',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Delete a function',
        description:
          'Removes the function, its code, its logs, its key-value data, its deployments and their artifacts (those no other deployment or build task names). With `If-Match`, only if the function is still as that tag says.',
        params: FunctionParams,
        headers: IfMatchHeaders,
        response: { 204: Type.Null({ description: 'Deleted' }), 412: CHANGED_SINCE, ...errors },
      },
    },
    async (req, reply) => {
      await functions.delete(req.params.workspace_id, req.params.function_id, req.headers['if-match']);
      return reply.code(204).send(null);
    },
  );
}
