// buildApp(deps) returns the Fastify control plane without listening: tests drive it with
// app.inject(), main.ts gives it a socket. Parsing, CORS, request ids, errors and docs live here;
// each resource's routes are in routes/.

import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/ids.js';
import type { BuildService } from '../build/service.js';
import type { DeploymentService } from '../deploy/deployments.js';
import type { LocalTarget } from '../deploy/local-target.js';
import { ingressRoutes } from '../gateway/ingress.js';
import type { Invoker } from '../gateway/invoker.js';
import type { ExecutionLogService } from '../observability/execution-logs.js';
import type { LiveTails } from '../observability/live-tail.js';
import type { Metrics } from '../observability/metrics.js';
import type { FunctionService } from '../services/functions.js';
import type { WorkspaceService } from '../services/workspaces.js';
import type { MetadataStore } from '../store/ports.js';
import { registerDocsUi, registerOpenApi } from './docs.js';
import { installErrorHandling } from './errors.js';
import { installJsonParser } from './json-body.js';
import { requestIdOptions } from './request-id.js';
import { buildRoutes } from './routes/builds.js';
import { deploymentRoutes } from './routes/deployments.js';
import { functionRoutes } from './routes/functions.js';
import { invokeRoutes } from './routes/invoke.js';
import { logRoutes } from './routes/logs.js';
import { observabilityRoutes } from './routes/observability.js';
import { systemRoutes } from './routes/system.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { validatorCompiler } from './validation.js';

export interface AppDeps {
  config: Pick<Config, 'environment' | 'corsOrigins' | 'bodyLimitBytes'>;
  publicUrl: () => string;
  version: string;
  clock: Clock;
  meta: MetadataStore;
  workspaces: WorkspaceService;
  functions: FunctionService;
  logs: ExecutionLogService;
  tails: LiveTails;
  builds: BuildService;
  deployments: DeploymentService;
  target: LocalTarget;
  invoker: Invoker;
  metrics: Metrics;
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
  await logRoutes(app, deps.logs, deps.tails);
  await invokeRoutes(app, deps);
  await buildRoutes(app, deps.builds);
  await deploymentRoutes(app, deps.deployments);
  await observabilityRoutes(app, deps);
  await ingressRoutes(app, deps.target, deps.invoker, { publicUrl: deps.publicUrl, bodyLimitBytes: deps.config.bodyLimitBytes });

  await registerDocsUi(app);
  return app;
}
