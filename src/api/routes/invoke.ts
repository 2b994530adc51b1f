// The seed's POST /api/workspaces/{ws}/functions/{fn}/invoke: runs the active deployment with the
// JSON body, as sent, and answers the ExecutionLog of that run. Not deployed → 400 NOT_DEPLOYED; timeout →
// 504 TIMEOUT (the execution log is still written and named in details). A body nested deeper than
// MAX_JSON_DEPTH is refused with 400 before anything runs.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Scopes } from '../../auth/policy.js';
import { EunhaError, invalid } from '../../core/errors.js';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../../core/json-depth.js';
import { ExecutionLog } from '../../core/log-schemas.js';
import { ErrorBody, FunctionParams, OPTIONAL_BODY } from '../../core/schemas.js';
import type { LocalTarget } from '../../deploy/local-target.js';
import { platformError, requireEnabled, requireRoute, spinHeaders } from '../../gateway/ingress.js';
import type { Invoker } from '../../gateway/invoker.js';
import { sentJson } from '../json-body.js';
import type { FunctionService } from '../../services/functions.js';

/**
 * The method a test run uses: POST carries the body; GET is safe. Neither accepted, the function's
 * first: "the first" alone sent DELETE to a function that took ["DELETE", "GET"].
 */
export function invokeMethod(accepted: readonly string[]): string {
  return accepted.includes('POST') ? 'POST' : accepted.includes('GET') ? 'GET' : (accepted[0] ?? 'GET');
}

export async function invokeRoutes(
  base: FastifyInstance,
  deps: { functions: FunctionService; target: LocalTarget; invoker: Invoker; publicUrl: () => string },
  scope: Scopes,
): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/api/workspaces/:workspace_id/functions/:function_id/invoke',
    {
      config: { auth: scope.workspaceParam, keepsJsonText: true },
      schema: {
        ...OPTIONAL_BODY,
        tags: ['Functions'],
        summary: 'Invoke the deployed function with a JSON body',
        description:
          'Runs the active deployment (POST when the function accepts it, else GET, else its first method) with the JSON body and returns the execution log of that run.',
        params: FunctionParams,
        body: Type.Unknown({
          description: `Any JSON value nested at most ${MAX_JSON_DEPTH} levels deep, passed to the function as the request body`,
        }),
        response: {
          200: ExecutionLog,
          400: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          429: ErrorBody,
          502: ErrorBody,
          // DEPENDENCY_UNAVAILABLE (the deployment could not be restored at start-up), NOT_READY
          // (still being loaded after a start, past the call's wait) and SHUTTING_DOWN: the
          // server's own state, not the function's.
          503: ErrorBody,
          504: ErrorBody,
        },
      },
    },
    async (req) => {
      // Before the lookups, as the schema's own checks are: a bad body is a 400 whatever the state.
      if (jsonDepthExceeds(req.body))
        throw invalid('body', `the body is nested more than ${MAX_JSON_DEPTH} levels deep`, {
          maxDepth: MAX_JSON_DEPTH,
        });
      const fn = await deps.functions.require(req.params.workspace_id, req.params.function_id);
      await deps.target.awaitRestore(fn.id);
      const route = requireRoute(deps.target, fn.id, 400);
      requireEnabled(route.fn);
      const method = invokeMethod(route.fn.httpMethods);
      // No body (Fastify says null, as for an empty one) is no body, as on the function URL: it
      // used to reach the function as the text `null`, and `json.loads(request.body or b"{}")`
      // then gave None. A body of JSON null is sent, and kept, as such.
      const json = sentJson(req) ?? (req.body == null ? '' : JSON.stringify(req.body));
      const ran = await deps.invoker.invoke(
        route,
        {
          method,
          uri: `/fn/${fn.id}`,
          // As a call to the function's URL would arrive (its Host, Spin's headers), with none of
          // this caller's own: they carry an Eunha key.
          headers: {
            host: new URL(deps.publicUrl()).host,
            ...(json === '' ? {} : { 'content-type': 'application/json' }),
            ...spinHeaders(req, fn.id, `/fn/${fn.id}`, '/', deps.publicUrl()),
          },
          body: new TextEncoder().encode(json),
          requestId: req.id,
        },
        ({ fn: next }) => requireEnabled(next),
      );
      const platform = platformError(ran.result, false);
      if (platform) {
        throw new EunhaError(
          platform.code,
          // The version that ran: a redeploy may have moved the request to the next one.
          ran.route.redactor.text(platform.message),
          { ...platform.details, logId: ran.log.id, functionId: fn.id },
          platform.headers,
        );
      }
      return ran.log;
    },
  );
}
