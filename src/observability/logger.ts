// The process logger: structured JSON lines (pino). Request-scoped children carry `requestId`.
// Secrets never reach a log line: authorization headers and cookies are redacted, and so are
// query values that look like credentials (a client that puts its key in `?api_key=` is refused,
// but its access-log line would otherwise keep the key).

import { pino, type Logger } from 'pino';
import { KEY_PREFIX } from '../auth/api-keys.js';
import type { LogLevel } from '../config/config.js';
import { LogSink } from './log-sink.js';

const CENSOR = '[redacted]';
/**
 * Query parameter names that carry credentials by convention (api_key, apiKey, access_token,
 * X-Amz-Signature, sessionid, …), as whole words of the name: `monkey` or `design` are not.
 */
const SECRET_PARAM =
  /(^|[^a-z])(api_?key|key|token|secret|passw(or)?d|pwd|auth(orization)?|sig(nature)?|credentials?|session(_?id)?)([^a-z]|$)/;

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
      const [plainName, value] = [name, pair.slice(eq + 1)].map(decoded);
      return SECRET_PARAM.test(plainName!.toLowerCase()) || value!.includes(KEY_PREFIX)
        ? `${name}=${CENSOR}`
        : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/** A query component as meant; a malformed escape is checked in its raw spelling. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** `destination`: stdout through a LogSink unless given (tests collect the lines). */
export function createLogger(
  level: LogLevel,
  destination?: NodeJS.WritableStream | { write(line: string): void },
): Logger {
  return pino(
    {
      level,
      base: { service: 'eunha' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          // @fastify/multipart logs the options it gives busboy, the request's headers with them,
          // at trace level: an upload's API key was in the process log.
          'busboyOptions.headers.authorization',
          'busboyOptions.headers.cookie',
        ],
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
    destination ?? new LogSink(),
  );
}
