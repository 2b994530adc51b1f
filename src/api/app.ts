// buildApp(deps) returns the Fastify control plane without listening: tests drive it with
// app.inject(), main.ts gives it a socket. Parsing, CORS, request ids, errors, access control
// (auth/guard.ts, installed before any route) and docs live here; each resource's routes are in
// routes/, each declaring its access policy in its route config.

import { holdContinue, sendContinue } from '../gateway/expect-continue.js';
import { routableUrl } from '../gateway/routable-url.js';
import cors from '@fastify/cors';
import Fastify, {
  type FastifyInstance,
  type FastifyServerOptions,
  type preParsingHookHandler,
} from 'fastify';
import type { ApiKeyService } from '../auth/api-keys.js';
import { authorizeInvocation, installGuard } from '../auth/guard.js';
import { scopes } from '../auth/policy.js';
import type { Authenticator } from '../auth/principal.js';
import type { RateLimiter } from '../auth/rate-limit.js';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/ids.js';
import type { BuildService } from '../build/index.js';
import type { DeploymentService } from '../deploy/deployments.js';
import type { LocalTarget } from '../deploy/local-target.js';
import type { BodyBudget } from '../gateway/body-budget.js';
import { ingressRoutes } from '../gateway/ingress.js';
import type { Invoker } from '../gateway/invoker.js';
import type { ExecutionLogService } from '../observability/execution-logs.js';
import type { LiveTails } from '../observability/live-tail.js';
import type { Metrics } from '../observability/metrics.js';
import { Probes } from '../observability/probes.js';
import type { FunctionService } from '../services/functions.js';
import type { WorkspaceService } from '../services/workspaces.js';
import type { MetadataStore } from '../store/ports.js';
import { registerDocsUi, registerOpenApi } from './docs.js';
import { installDocumentedErrors } from './documented-errors.js';
import type { UndrainedResponses } from './undrained.js';
import { clientError, frameworkError, installErrorHandling, statusOfError } from './errors.js';
import { EunhaError } from '../core/errors.js';
import { installJsonParser } from './json-body.js';
import { requestIdOptions } from './request-id.js';
import { buildRoutes } from './routes/builds.js';
import { deploymentRoutes } from './routes/deployments.js';
import { functionRoutes } from './routes/functions.js';
import { invokeRoutes } from './routes/invoke.js';
import { keyRoutes } from './routes/keys.js';
import { logRoutes } from './routes/logs.js';
import { observabilityRoutes } from './routes/observability.js';
import { systemRoutes } from './routes/system.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { validatorCompiler } from './validation.js';

export interface AppDeps {
  config: Pick<
    Config,
    | 'environment'
    | 'corsOrigins'
    | 'trustedProxies'
    | 'bodyLimitBytes'
    | 'headersTimeoutMs'
    | 'requestTimeoutMs'
    | 'keepAliveTimeoutMs'
    | 'connectionTimeoutMs'
  >;
  auth: Authenticator;
  apiKeys: ApiKeyService;
  limiter: RateLimiter;
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
  /** Bounds what clients that do not read their answers may hold; every response is watched. */
  unread?: UndrainedResponses;
  /** Bounds the /fn request bodies held in memory at once (gateway/body-budget.ts). */
  bodies: BodyBudget;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    ...requestIdOptions,
    bodyLimit: deps.config.bodyLimitBytes,
    // Only the named proxies' X-Forwarded-For sets req.ip (rate-limit buckets, logs, the
    // function's spin-client-addr): anyone else could claim any address with it.
    trustProxy: deps.config.trustedProxies.length > 0 ? deps.config.trustedProxies : false,
    // Slow clients must not hold sockets forever (slowloris): the header block and the whole request
    // each have a deadline, idle keep-alive sockets close, and a socket silent both ways for longer
    // than the longest function timeout is dropped. Node checks the deadlines every second.
    connectionTimeout: deps.config.connectionTimeoutMs,
    requestTimeout: deps.config.requestTimeoutMs,
    keepAliveTimeout: deps.config.keepAliveTimeoutMs,
    http: {
      // Node's own refusal of an HTTP/1.1 request without Host is a bare 400; the hook below
      // answers it in the envelope.
      requireHostHeader: false,
      headersTimeout: deps.config.headersTimeoutMs,
      // Node checks both deadlines on this timer, so a deadline is enforced up to one interval
      // late: a tenth of the header deadline keeps that slack small (100 ms – 1 s).
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(1000, Math.floor(deps.config.headersTimeoutMs / 10)),
      ),
    },
    ajv: { customOptions: { removeAdditional: false } },
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
    // Requests that arrive while the server closes get the envelope (the hook below), not
    // Fastify's own 503 body.
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    rewriteUrl: (req) => routableUrl(req.url ?? '/'),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (req, reply) => {
    deps.unread?.watch(reply.raw);
    void reply.header('x-request-id', req.id);
    // Function URLs share this origin: no page of a function may frame the platform's own (the
    // docs, where a key may be typed, could then be read). Decided by the route, not the path a
    // client spelled (/%64ocs/ is /docs/). A function's own answers are its own business.
    if (req.routeOptions.config.auth?.access !== 'function-url') {
      void reply.header('x-frame-options', 'DENY');
      void reply.header('content-security-policy', "frame-ancestors 'none'");
    }
    if (closing) {
      void reply.header('connection', 'close');
      throw new EunhaError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    }
    const { httpVersionMajor: major, httpVersionMinor: minor } = req.raw;
    if (req.headers.host === undefined && (major > 1 || (major === 1 && minor >= 1))) {
      void reply.header('connection', 'close');
      throw new EunhaError('VALIDATION_ERROR', 'an HTTP/1.1 request must have a Host header', {
        field: 'host',
      });
    }
  });
  installJsonParser(app);
  installErrorHandling(app);

  // For the API only: the function ingress turns it off (config.cors), so a function answers its
  // own OPTIONS and sets its own CORS headers. No origins configured: no CORS headers at all.
  const origins = deps.config.corsOrigins;
  await app.register(cors, {
    origin: origins.includes('*') ? true : origins.length > 0 ? origins : false,
    credentials: !origins.includes('*'),
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
    // A console on another origin reads these (a function's tag for If-Match, how long to wait
    // after a 429, the id that finds a request in the server's log); browsers hide the others.
    exposedHeaders: ['ETag', 'Retry-After', 'X-Request-Id'],
    // An OPTIONS that is not a preflight gets the allowed methods, not a plain-text 400.
    strictPreflight: false,
  });
  // After CORS (whose hook answers preflights, which carry no credentials), before every route.
  installGuard(app, { auth: deps.auth, limiter: deps.limiter });
  // `Expect: 100-continue` is answered once the guard and the route have let the request through;
  // a function URL answers it itself, after the function's own checks (expect-continue.ts).
  // Added to the API's routes only (after the guard's onRoute has set each one's policy), so a
  // function URL's hot path runs no hook for it; unknown routes, which no onRoute sees, never ask.
  holdContinue(app.server);
  const askForBody: preParsingHookHandler = (req, reply, payload, done) => {
    sendContinue(req, reply, req.routeOptions.bodyLimit ?? deps.config.bodyLimitBytes);
    done(null, payload);
  };
  app.addHook('onRoute', (route) => {
    if (route.config?.auth?.access === 'function-url') return;
    route.preParsing = [route.preParsing ?? []].flat().concat(askForBody);
  });
  installDocumentedErrors(app);
  const scope = scopes(deps.meta);
  await registerOpenApi(app, deps.version);

  const probes = new Probes({
    meta: deps.meta,
    unrestored: () => deps.target.unrestoredCounts(),
    onUnexpected: (err) => app.log.error({ err }, 'the metadata store failed a probe'),
  });
  await systemRoutes(app, { environment: deps.config.environment, version: deps.version }, probes);
  await workspaceRoutes(app, deps.workspaces, scope);
  await keyRoutes(app, deps.apiKeys, scope);
  await functionRoutes(app, deps.functions, deps.target, scope);
  await logRoutes(app, deps.logs, deps.tails, scope);
  await invokeRoutes(app, deps, scope);
  await buildRoutes(app, deps.builds, scope);
  await deploymentRoutes(app, deps.deployments, scope);
  await observabilityRoutes(app, deps, scope);
  await ingressRoutes(app, deps.target, deps.invoker, {
    publicUrl: deps.publicUrl,
    bodyLimitBytes: deps.config.bodyLimitBytes,
    bodies: deps.bodies,
    authorize: (req, fn) => authorizeInvocation(deps.auth, req, fn),
    isPlatformCredential: (header) => deps.auth.isPlatformCredential(header),
    functionExists: async (id) => (await deps.meta.findFunction(id)) !== undefined,
    refused: (id, err, req) => deps.metrics.recordRefusal(id, statusOfError(err, req)),
  });

  await registerDocsUi(app);
  return app;
}
