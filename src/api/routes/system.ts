// GET /health and GET / — the seed's shapes.

import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { PUBLIC } from '../../auth/policy.js';

export interface SystemInfo {
  environment: string;
  version: string;
}

export async function systemRoutes(app: FastifyInstance, info: SystemInfo): Promise<void> {
  app.get(
    '/health',
    {
      config: { auth: PUBLIC },
      schema: {
        tags: ['System'],
        summary: 'Health check',
        response: { 200: Type.Object({ status: Type.String({ examples: ['healthy'] }) }) },
      },
    },
    async () => ({ status: 'healthy' }),
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
