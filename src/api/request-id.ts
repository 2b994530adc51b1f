// Request ids: taken from X-Request-Id when the caller sent a sane one (so a trace spans
// services), generated otherwise; echoed back and attached to every log line of the request.

import { randomUUID } from 'node:crypto';
import { LogController, type FastifyServerOptions } from 'fastify';
import { PROBE_URLS } from '../auth/policy.js';

const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Paths machines call on a timer: liveness, readiness, Prometheus. */
const UNLOGGED: ReadonlySet<string> = new Set([...PROBE_URLS, '/metrics']);

export const requestIdOptions: Pick<FastifyServerOptions, 'genReqId' | 'logController' | 'requestIdHeader'> =
  {
    requestIdHeader: false,
    // Function ingress is recorded as execution logs and metrics; an access-log line per
    // invocation would only cost the hot path. Probes and scrapes come every few seconds, from
    // machines: two lines each buried what people did (an operator's review).
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      disableRequestLogging: (req: { url?: string }) => {
        const url = req.url ?? '';
        return url.startsWith('/fn/') || UNLOGGED.has(url.split('?', 1)[0]!);
      },
    }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && SAFE.test(given) ? given : randomUUID();
    },
  };
