// The function ingress in the OpenAPI document. Its routes take any method and any sub-path, which
// the generator cannot describe from the route schemas (they are hidden there), so this module
// writes the two paths by hand: what a caller sends, and every answer the platform itself gives
// (anything else is the function's own response, passed through unchanged).

import { ErrorBody, HTTP_METHODS } from '../core/schemas.js';

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorBody } },
});

const RESPONSES = {
  200: {
    description:
      'The function’s own answer: its status (any, not only 200), headers and body, unchanged. ' +
      'The statuses below are the platform’s, in the error envelope.',
    content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
  },
  400: error('`VALIDATION_ERROR`: the request is not valid HTTP/1.1'),
  401: error('`UNAUTHORIZED`: the function has `authType: KEY` and no valid key was sent'),
  403: error(
    '`FUNCTION_DISABLED`; or `FORBIDDEN`: a key of another workspace or the metrics token (authType KEY), or a browser fetching a service worker script (`Service-Worker: script`), which function URLs may not serve',
  ),
  404: error('`NOT_FOUND`: no such function; `NOT_DEPLOYED`: it has never been deployed'),
  405: error('`METHOD_NOT_ALLOWED`: the method is not in the function’s `httpMethods` (see Allow)'),
  408: error('`REQUEST_TIMEOUT`: the headers or body did not arrive in time'),
  413: error('`PAYLOAD_TOO_LARGE`: the body is over `EUNHA_BODY_LIMIT_BYTES`'),
  429: error(
    '`TOO_MANY_REQUESTS`: every instance busy and the queue full (see Retry-After); `RATE_LIMITED`: request bodies from this address already hold its share of `EUNHA_FN_BODY_BUDGET_BYTES` (the rest of the body was not read; Retry-After)',
  ),
  431: error('`HEADERS_TOO_LARGE`: the header block is too large'),
  500: error('`FUNCTION_ERROR`: the handler raised, or returned an invalid response (see its logs)'),
  502: error('`FUNCTION_CRASHED`: the sandbox died during the request'),
  503: error(
    '`DEPENDENCY_UNAVAILABLE`: its deployment could not be restored; `NOT_READY`: after a start, it was still being loaded when the call had waited its timeout (`Retry-After`); `SERVER_BUSY`: the request bodies held in memory have reached `EUNHA_FN_BODY_BUDGET_BYTES` (the rest of the body was not read; Retry-After); `SHUTTING_DOWN`',
  ),
  504: error('`TIMEOUT`: no answer within the function’s timeout'),
};

const pathParam = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description,
});
const FUNCTION_ID = pathParam('function_id', 'The function’s id (its invocationUrl ends with it)');
const PATH = pathParam(
  'path',
  'The rest of the path, slashes included; the function reads it as `spin-path-info`',
);

function operations(withPath: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const method of HTTP_METHODS) {
    out[method.toLowerCase()] = {
      tags: ['Invocation'],
      summary: `${method} to the function${withPath ? ', with a sub-path' : ''}`,
      description:
        'Runs the active deployment with the request’s method, path, query, headers and body (a body ' +
        'on any method, GET too). No key is needed unless the function has `authType: KEY`; the ' +
        'function never sees that key. Every invocation writes an execution log.',
      operationId: `invoke${method[0]}${method.slice(1).toLowerCase()}${withPath ? 'Path' : ''}`,
      // Public unless the function says otherwise: both "no credentials" and a key are valid.
      security: [{}, { bearerAuth: [] }],
      parameters: withPath ? [FUNCTION_ID, PATH] : [FUNCTION_ID],
      ...(method === 'GET' || method === 'HEAD'
        ? {}
        : {
            requestBody: {
              required: false,
              content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
            },
          }),
      responses: RESPONSES,
    };
  }
  return out;
}

/** `/fn/{function_id}` and `/fn/{function_id}/{path}`, as OpenAPI path items. */
export function ingressPaths(): Record<string, unknown> {
  return {
    '/fn/{function_id}': operations(false),
    '/fn/{function_id}/{path}': operations(true),
  };
}
