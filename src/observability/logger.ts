// The process logger: structured JSON lines (pino). Request-scoped children carry `requestId`.
// Secrets never reach a log line: authorization headers and cookies are redacted, and so are
// query values that look like credentials (a client that puts its key in `?api_key=` is refused,
// but its access-log line would otherwise keep the key).

import { pino, type Logger } from 'pino';
import { KEY_PREFIX } from '../auth/api-keys.js';
import type { LogLevel } from '../config/config.js';

const CENSOR = '[redacted]';
/** Query parameter names that carry credentials by convention (api_key, access_token, sig, …). */
const SECRET_PARAM = /key|token|secret|passw|auth|sig|credential|session/i;

/** `url` with the values of credential-like query parameters (and of any Eunha key) masked. */
function maskQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      let value = pair.slice(eq + 1);
      try {
        value = decodeURIComponent(value.replace(/\+/g, ' '));
      } catch {
        // A malformed escape is still checked in its raw spelling.
      }
      return SECRET_PARAM.test(name) || value.includes(KEY_PREFIX) ? `${name}=${CENSOR}` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'eunha' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'],
        censor: CENSOR,
      },
      // Replaces Fastify's request serializer (same fields) so that the URL is masked.
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: maskQuery(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
    },
    destination ?? process.stdout,
  );
}
