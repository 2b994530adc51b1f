// The OpenAPI document (generated from the route schemas by @fastify/swagger), Swagger UI at
// /docs and ReDoc at /redoc. Every asset is served from installed packages: nothing from a CDN.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { PUBLIC } from '../auth/policy.js';
import { ERROR_CATALOGUE } from '../core/errors.js';
import { ingressPaths } from './ingress-docs.js';
import { toOpenApi30 } from './openapi30.js';

const require = createRequire(import.meta.url);

function errorTable(): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(
    ([code, spec]) => `| ${code} | ${spec.status} | ${spec.description} |`,
  );
  return ['| code | status | meaning |', '|---|---|---|', ...rows].join('\n');
}

export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Eunha API',
        version,
        description:
          'Eunha: a small Function-as-a-Service platform speaking the Blue FaaS contract. ' +
          'Every error answers `{"error":{"code","message","details"}}`:\n\n' +
          errorTable() +
          '\n\nAccess: send `Authorization: Bearer <key>` (the admin key, or an API key of a workspace). ' +
          'A workspace key acts on its own workspace only; another workspace’s resources answer 404.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'Admin key or workspace API key' },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'System', description: 'Health and documentation' },
        { name: 'Workspaces', description: 'Workspaces group functions' },
        { name: 'Keys', description: 'API keys of a workspace' },
        { name: 'Functions', description: 'Python functions written for the Spin SDK' },
        { name: 'Logs', description: 'Execution logs, function log lines and metrics' },
        { name: 'Builds', description: 'Build tasks, artifacts, deploys (the seed’s /api/v1)' },
        { name: 'Deployments', description: 'Numbered versions of a function; instant rollback' },
        { name: 'Invocation', description: 'The public function URL: `/fn/{function_id}[/…]`' },
      ],
    },
    // The ingress's routes are hidden from the generator (any method, any sub-path): described here.
    transformObject: (doc) => {
      // Always the OpenAPI 3 shape here (the `openapi` option above); the union also allows Swagger 2.
      const openapi = 'openapiObject' in doc ? doc.openapiObject : {};
      const paths = namedOperations(markOptionalBodies({ ...openapi.paths, ...ingressPaths() }));
      return toOpenApi30({ ...openapi, paths }) as typeof openapi;
    },
  });
}

type Operation = { 'x-optional-body'?: boolean; requestBody?: { required?: boolean } };

/** Operations marked OPTIONAL_BODY (core/schemas.ts): their body is not required; the mark goes. */
function markOptionalBodies<P extends object>(paths: P): P {
  for (const item of Object.values(paths) as Record<string, Operation>[]) {
    for (const op of Object.values(item)) {
      if (typeof op !== 'object' || op === null || !op['x-optional-body']) continue;
      delete op['x-optional-body'];
      if (op.requestBody) op.requestBody.required = false;
    }
  }
  return paths;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Every operation gets an operationId, which code generators name their functions after (without
 * one they invent names, or refuse): the method and the path, `getApiWorkspacesByWorkspaceId`.
 * Unique, since a path has one operation per method.
 */
function namedOperations<P extends object>(paths: P): P {
  for (const [path, item] of Object.entries(paths) as [string, Record<string, { operationId?: string }>][]) {
    const words = path
      .split('/')
      .filter(Boolean)
      .map((seg) => (seg.startsWith('{') ? `by_${seg.slice(1, -1)}` : seg))
      .flatMap((seg) => seg.split(/[^A-Za-z0-9]+/).filter(Boolean));
    const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
    for (const [method, op] of Object.entries(item)) {
      if (METHODS.has(method) && typeof op === 'object' && op !== null) op.operationId ??= `${method}${name}`;
    }
  }
  return paths;
}

/** Registered after the routes so that /openapi.json sees all of them. */
export async function registerDocsUi(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true }, config: { auth: PUBLIC } }, async () => app.swagger());
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null } });

  const redocBundle = readFileSync(require.resolve('redoc/bundles/redoc.standalone.js'));
  app.get(
    '/redoc/redoc.standalone.js',
    { schema: { hide: true }, config: { auth: PUBLIC } },
    async (_req, reply) =>
      reply
        .type('application/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=86400')
        .send(redocBundle),
  );
  const page = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Eunha API — ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/redoc/redoc.standalone.js"></script></body></html>`;
  app.get('/redoc', { schema: { hide: true }, config: { auth: PUBLIC } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(page),
  );
}
