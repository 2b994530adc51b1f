// GET /health (liveness, the seed's shape), GET /ready (readiness) and GET / (the seed's). What
// they check is observability/probes.ts; a failing check answers 503 in the error envelope.

import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { PUBLIC } from '../../auth/policy.js';
import { ErrorBody } from '../../core/schemas.js';
import type { Probes } from '../../observability/probes.js';

export interface SystemInfo {
  environment: string;
  version: string;
}

const Checks = Type.Object({
  store: Type.Object(
    { ok: Type.Boolean(), error: Type.Optional(Type.String()) },
    { description: 'A point read of the metadata store' },
  ),
  deployments: Type.Object(
    {
      ok: Type.Boolean(),
      unrestored: Type.Integer({
        description:
          "Functions whose active deployment could not be loaded at start-up and has not been loaded by a retry, deployed or activated since (each such function's view says so, in `unavailable`)",
      }),
      retrying: Type.Integer({
        description:
          'Those of them the server is trying again; the others failed for good (their artifact is gone or damaged, or they no longer fit the memory budget) and need their owner',
      }),
      restoring: Type.Integer({
        description:
          'Functions whose active deployment start-up has yet to load: the server listens first and loads them a few at a time; a call to one waits for it',
      }),
    },
    {
      description:
        'No active deployment is still being loaded after a start or retried (one that failed for good is counted, but does not fail readiness)',
    },
  ),
});

export async function systemRoutes(app: FastifyInstance, info: SystemInfo, probes: Probes): Promise<void> {
  app.get(
    '/health',
    {
      config: { auth: PUBLIC },
      schema: {
        tags: ['System'],
        summary: 'Liveness: the process answers and can read its metadata store',
        description:
          'Cheap (one point read), for a liveness probe: restarting the process is the remedy for a 503. Whether everything is served is GET /ready.',
        response: {
          200: Type.Object({ status: Type.String({ examples: ['healthy'] }) }),
          503: {
            ...ErrorBody,
            description:
              '`DEPENDENCY_UNAVAILABLE`: the metadata store cannot answer (`details.checks.store`); `SHUTTING_DOWN`',
          },
        },
      },
    },
    async () => {
      await probes.live();
      return { status: 'healthy' };
    },
  );
  app.get(
    '/ready',
    {
      config: { auth: PUBLIC },
      schema: {
        tags: ['System'],
        summary: 'Readiness: the metadata store answers and every active deployment is loaded',
        description:
          'Cheap (one point read, counts kept in memory), for a readiness probe or a load balancer. 503 while a check fails, with all of them.',
        response: {
          200: Type.Object({ status: Type.String({ examples: ['ready'] }), checks: Checks }),
          503: {
            ...ErrorBody,
            description:
              '`NOT_READY`: a check fails (`details.checks` holds them all, as the 200 does); `SHUTTING_DOWN`',
          },
        },
      },
    },
    async () => ({ status: 'ready', checks: await probes.ready() }),
  );
  app.get(
    '/',
    {
      config: { auth: PUBLIC },
      schema: {
        tags: ['System'],
        summary: 'Service information',
        response: {
          200: Type.Object({
            status: Type.String({ examples: ['ok'] }),
            message: Type.String(),
            environment: Type.String({ examples: ['development'] }),
            version: Type.String(),
            docs: Type.String({ examples: ['/docs'] }),
          }),
        },
      },
    },
    async () => ({
      status: 'ok', // the seed's value
      message: 'Eunha FaaS API',
      environment: info.environment,
      version: info.version,
      docs: '/docs',
    }),
  );
}
