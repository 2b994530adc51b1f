// Public function ingress: ANY /fn/{function_id} and /fn/{function_id}/* run the active deployment
// with the caller's method, path, query, headers and body, and return the function's status,
// headers and body unchanged. Disabled → 403, method not in httpMethods → 405 (with Allow),
// never deployed → 404 NOT_DEPLOYED. Platform failures (timeout, overload, crash) answer in the
// error envelope; whatever the function itself returns is passed through.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EunhaError } from '../core/errors.js';
import { HTTP_METHODS } from '../core/schemas.js';
import type { LocalTarget } from '../deploy/local-target.js';
import type { InvokeResult } from '../runtime/index.js';
import type { Invoker } from './invoker.js';

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the function.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'host',
]);

export interface IngressOptions {
  publicUrl: () => string;
  bodyLimitBytes: number;
}

function requestHeaders(req: FastifyRequest, fnId: string, pathInfo: string, publicUrl: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || k.startsWith('spin-')) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const base = `/fn/${fnId}`;
  // The headers a Spin HTTP trigger sets, so code that reads them works unchanged.
  out['spin-full-url'] = `${publicUrl}${req.url}`;
  out['spin-path-info'] = pathInfo;
  out['spin-matched-route'] = `${base}/...`;
  out['spin-raw-component-route'] = `${base}/...`;
  out['spin-component-route'] = base;
  out['spin-base-path'] = '/';
  out['spin-client-addr'] = `${req.ip}:${req.socket.remotePort ?? 0}`;
  out['x-request-id'] = String(req.id);
  return out;
}

export function platformError(result: InvokeResult): EunhaError | undefined {
  const e = result.error;
  if (!e || e.code === 'FUNCTION_ERROR') return undefined;
  const headers: Record<string, string> = {};
  const retry = result.headers['retry-after'];
  if (retry) headers['retry-after'] = retry;
  return new EunhaError(e.code, e.message, {}, headers);
}

function send(reply: FastifyReply, result: InvokeResult): FastifyReply {
  const platform = platformError(result);
  if (platform) return reply.code(platform.status).headers(platform.headers).send(platform.toBody());
  void reply.code(result.status);
  for (const [k, v] of Object.entries(result.headers)) {
    if (!HOP_BY_HOP.has(k.toLowerCase())) void reply.header(k, v);
  }
  return reply.send(Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength));
}

export async function ingressRoutes(app: FastifyInstance, target: LocalTarget, invoker: Invoker, opts: IngressOptions): Promise<void> {
  await app.register(async (scope) => {
    // The function gets the body as bytes, whatever its content type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_req, body, done) => done(null, body));

    const handler = async (req: FastifyRequest<{ Params: { function_id: string; '*'?: string } }>, reply: FastifyReply) => {
      const fnId = req.params.function_id;
      const route = target.route(fnId);
      if (!route) {
        throw new EunhaError('NOT_DEPLOYED', `function '${fnId}' has no active deployment`, { functionId: fnId }, {}, 404);
      }
      if (route.fn.status === 'disabled') {
        throw new EunhaError('FUNCTION_DISABLED', `function '${fnId}' is disabled`, { functionId: fnId });
      }
      const allowed = route.fn.httpMethods;
      if (!allowed.includes(req.method) && !(req.method === 'HEAD' && allowed.includes('GET'))) {
        throw new EunhaError(
          'METHOD_NOT_ALLOWED',
          `function '${fnId}' does not accept ${req.method}; it accepts ${allowed.join(', ')}`,
          { method: req.method, allowed },
          { allow: allowed.join(', ') },
        );
      }
      const rest = req.params['*'] ?? '';
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const { result } = await invoker.invoke(route, {
        method: req.method,
        uri: req.url,
        headers: requestHeaders(req, fnId, `/${rest}`, opts.publicUrl()),
        body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      });
      return send(reply, result);
    };

    const methods = [...HTTP_METHODS];
    for (const url of ['/fn/:function_id', '/fn/:function_id/*']) {
      scope.route({ method: methods, url, exposeHeadRoute: false, schema: { hide: true }, handler });
    }
  });
}
