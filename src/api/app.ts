// buildApp(deps) returns the Fastify control plane without listening: tests drive it with
// app.inject(), main.ts gives it a socket. Parsing, CORS, request ids, errors and docs live here;
// each resource's routes are in routes/.

import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config/config.js';
import type { ExecutionLogService } from '../observability/execution-logs.js';
import type { FunctionService } from '../services/functions.js';
import type { WorkspaceService } from '../services/workspaces.js';
import { registerDocsUi, registerOpenApi } from './docs.js';
import { installErrorHandling } from './errors.js';
import { installJsonParser } from './json-body.js';
import { requestIdOptions } from './request-id.js';
import { functionRoutes } from './routes/functions.js';
import { logRoutes } from './routes/logs.js';
import { systemRoutes } from './routes/system.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { validatorCompiler } from './validation.js';

export interface AppDeps {
  config: Pick<Config, 'environment' | 'corsOrigins' | 'bodyLimitBytes'>;
  version: string;
  workspaces: WorkspaceService;
  functions: FunctionService;
  logs: ExecutionLogService;
  /** A pino logger or logger options; false in tests that want silence. */
  logger: FastifyServerOptions['loggerInstance'] | false;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    ...requestIdOptions,
    bodyLimit: deps.config.bodyLimitBytes,
    // Slow clients must not hold sockets forever; in-flight invocations have their own timeouts.
    connectionTimeout: 0,
    requestTimeout: 120_000,
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });
  installJsonParser(app);
  installErrorHandling(app);

  await app.register(cors, {
    origin: deps.config.corsOrigins.includes('*') ? true : deps.config.corsOrigins,
    credentials: !deps.config.corsOrigins.includes('*'),
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
  });
  await registerOpenApi(app, deps.version);

  await systemRoutes(app, { environment: deps.config.environment, version: deps.version });
  await workspaceRoutes(app, deps.workspaces);
  await functionRoutes(app, deps.functions);
  await logRoutes(app, deps.logs);

  await registerDocsUi(app);
  return app;
}
