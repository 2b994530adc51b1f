// Request ids: taken from X-Request-Id when the caller sent a sane one (so a trace spans
// services), generated otherwise; echoed back and attached to every log line of the request.

import { randomUUID } from 'node:crypto';
import { LogController, type FastifyServerOptions } from 'fastify';

const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;

export const requestIdOptions: Pick<FastifyServerOptions, 'genReqId' | 'logController' | 'requestIdHeader'> =
  {
    requestIdHeader: false,
    // Function ingress is recorded as execution logs and metrics; an access-log line per
    // invocation would only cost the hot path.
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      disableRequestLogging: (req: { url?: string }) => req.url?.startsWith('/fn/') ?? false,
    }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && SAFE.test(given) ? given : randomUUID();
    },
  };
