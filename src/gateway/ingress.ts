// Public function ingress: ANY /fn/{function_id} and /fn/{function_id}/* run the active deployment
// with the caller's method, path, query, headers and body, and return the function's status,
// headers and body unchanged. Disabled → 403, method not in httpMethods → 405 (with Allow),
// never deployed → 404 NOT_DEPLOYED, no such function → 404 NOT_FOUND. Platform failures (timeout, overload, crash) answer in the
// error envelope; whatever the function itself returns is passed through. A function with
// authType KEY answers only callers with a key of its workspace (or the admin key), checked before
// anything else about it is told, and its code never sees that key (the header is not passed on).
// Nothing a function answers may act for the platform's whole origin (ORIGIN_WIDE below), nor replace the
// request id the platform answers with (PLATFORM_OWNED).

import { METHODS } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RoutePolicy } from '../auth/policy.js';
import { EunhaError, bodyTooLarge, notFound } from '../core/errors.js';
import type { FunctionRecord } from '../core/types.js';
import type { ActiveRoute, LocalTarget, UnrestoredState } from '../deploy/local-target.js';
import type { InvokeResult } from '../runtime/index.js';
import type { Invocation, Invoker } from './invoker.js';
import { budgetHook, type BodyBudget, type BodyHold } from './body-budget.js';
import { expectsContinue, sendContinue } from './expect-continue.js';
import { headerBytes, headerText } from './header-bytes.js';

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the function; the
// Proxy-* credentials and challenges are for a proxy on the way (RFC 9110 §11.7), never for it.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
]);

// Function URLs share the platform's origin (its API and /docs), so a function must not act for
// the whole origin: a service worker registered from a function URL (`Service-Worker-Allowed: /`,
// or a script at /fn/{id}, whose default scope is /fn/) would see every request the browser makes
// to the platform, the admin key of a Swagger UI session included, and `Clear-Site-Data` would
// wipe what every page of the origin stored. Those headers are dropped and such scripts refused.
const ORIGIN_WIDE = new Set(['service-worker-allowed', 'clear-site-data']);
/**
 * Set by the platform on every answer: the request id (the caller's, when it sent a sane one)
 * matches the answer to the server's logs and spans a trace, so a function cannot replace it.
 */
const PLATFORM_OWNED = new Set(['x-request-id']);

export interface IngressOptions {
  publicUrl: () => string;
  bodyLimitBytes: number;
  /** The request-body bytes held in memory at once, in all and per client address. */
  bodies: BodyBudget;
  /** Throws UNAUTHORIZED/FORBIDDEN when the caller may not invoke this function (auth/guard.ts). */
  authorize: (req: FastifyRequest, fn: FunctionRecord) => Promise<void>;
  /** Whether an Authorization value is an Eunha key (auth/principal.ts): never passed to a function. */
  isPlatformCredential: (header: string) => boolean;
  /** Asked only when a function has no route: NOT_FOUND for no such function, else NOT_DEPLOYED. */
  functionExists: (functionId: string) => Promise<boolean>;
  /** A call to an existing function answered with this error before it ran (observability/metrics.ts). */
  refused: (functionId: string, err: FastifyError, req: FastifyRequest) => void;
}

const FUNCTION_URL: RoutePolicy = { access: 'function-url' };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/cors reads this; false leaves the route alone (api/app.ts). */
    cors?: false;
  }
}

/**
 * The request target as the function sees it: path and query exactly as sent (not decoded), and
 * the part of the path after `/fn/{id}` (Spin's path info: `/` for the function's root). An
 * absolute-form target (`GET http://host/fn/…`, meant for proxies) is cut to its path.
 */
export function requestTarget(url: string): { uri: string; pathInfo: string } {
  const uri = url.startsWith('/') ? url : url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '') || '/';
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  // '/fn/' + the id segment as sent (it may be percent-encoded) + the rest.
  const slash = path.indexOf('/', 4);
  return { uri, pathInfo: slash < 0 ? '/' : path.slice(slash) };
}

const NONE: ReadonlySet<string> = new Set();

function connectionOptions(value: string | undefined): ReadonlySet<string> {
  // The usual values name no header of their own (the hot path: no set to build).
  if (value === undefined || /^\s*(keep-alive|close)\s*$/i.test(value)) return NONE;
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()));
}

function requestHeaders(
  req: FastifyRequest<{ Params: { function_id: string } }>,
  { uri, pathInfo }: { uri: string; pathInfo: string },
  publicUrl: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  // A sender may make any header hop-by-hop by naming it in Connection (RFC 9110 §7.6.1).
  const named = connectionOptions(req.headers.connection);
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.has(k) || k.startsWith('spin-')) continue;
    out[k] = headerText(Array.isArray(v) ? v.join(', ') : v);
  }
  return Object.assign(out, spinHeaders(req, req.params.function_id, uri, pathInfo, publicUrl));
}

/**
 * The headers a Spin HTTP trigger sets, so code that reads them works unchanged; the seed's
 * /invoke sends them too (a function reading `spin-client-addr` failed only when tested there).
 */
export function spinHeaders(
  req: FastifyRequest,
  functionId: string,
  uri: string,
  pathInfo: string,
  publicUrl: string,
): Record<string, string> {
  const base = `/fn/${functionId}`;
  return {
    'spin-full-url': `${publicUrl}${uri}`,
    'spin-path-info': pathInfo,
    'spin-matched-route': `${base}/...`,
    'spin-raw-component-route': `${base}/...`,
    'spin-component-route': base,
    'spin-base-path': '/',
    'spin-client-addr': `${req.ip}:${req.socket.remotePort ?? 0}`,
    'x-request-id': String(req.id),
  };
}

/**
 * A GET or HEAD body, which Fastify leaves unread (Spin passes it on), under the same cap. Past
 * the cap the rest is read and dropped, as Fastify does for other methods, so the caller gets its
 * 413 instead of a connection reset while it is still sending.
 */
function unparsedBody(req: FastifyRequest, limit: number, hold: BodyHold | null): Promise<Buffer> {
  const raw = req.raw;
  if (raw.headers['content-length'] === undefined && raw.headers['transfer-encoding'] === undefined) {
    return Promise.resolve(Buffer.alloc(0));
  }
  if (Number(raw.headers['content-length']) > limit) return Promise.reject(bodyTooLarge({ limit }));
  const gone = () =>
    new EunhaError('CLIENT_CLOSED', 'the caller closed the connection before its body arrived', {});
  if (raw.destroyed) return Promise.reject(gone());
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('close', onClose);
    };
    // Without an error, a request torn down mid-body ends with 'close' alone.
    const onClose = (): void => {
      stop();
      reject(gone());
    };
    const refuse = (err: EunhaError): void => {
      stop();
      raw.resume();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return refuse(bodyTooLarge({ limit }));
      try {
        hold?.grow(chunk.length);
      } catch (err) {
        return refuse(err as EunhaError);
      }
      parts.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(parts, size));
    };
    const onError = (err: Error): void => {
      stop();
      reject(err);
    };
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('close', onClose);
  });
}

/**
 * The error to answer instead of the function's response: every failure the runtime reports.
 * The seed's /invoke answers a function's own exception with its execution log, so it passes
 * `functionErrors: false`; the public ingress answers it with the envelope (never a traceback:
 * that stays in the execution log, which `details.logId` names).
 */
export function platformError(result: InvokeResult, functionErrors: boolean): EunhaError | undefined {
  const e = result.error;
  if (!e || (e.code === 'FUNCTION_ERROR' && !functionErrors)) return undefined;
  const headers: Record<string, string> = {};
  const retry = result.headers['retry-after'];
  if (retry) headers['retry-after'] = retry;
  return new EunhaError(e.code, e.message, {}, headers);
}

/**
 * What every call to a function gets while its active deployment, which start-up could not load,
 * has not been loaded by a retry, deployed or activated again (the function's view shows it:
 * api/routes/functions.ts).
 */
export function notRestored(functionId: string, { retrying, wrongKey }: UnrestoredState): EunhaError {
  // A key the server was started with is the operator's to mend: a deploy alone fails the same way.
  const then = wrongKey
    ? 'its secret variables were sealed with another secrets key than the server’s: a restart with that key (EUNHA_SECRETS_KEY) mends it, or its owner setting them again and deploying'
    : retrying
      ? 'the server is trying again (a deploy or an activation also mends it)'
      : 'its owner must deploy it again';
  return new EunhaError(
    'DEPENDENCY_UNAVAILABLE',
    `function '${functionId}' could not be loaded at start-up; ${then}`,
    { functionId },
  );
}

/**
 * What a function's view says while start-up has yet to load its active deployment: a call then
 * waits for it (LocalTarget.awaitRestore), so this is the state, not an error every call gets.
 */
export function stillRestoring(functionId: string): EunhaError {
  return new EunhaError(
    'NOT_READY',
    `function '${functionId}' is being loaded after the server started; a call waits for it`,
    { functionId },
  );
}

/**
 * The active route of a function, or NOT_DEPLOYED: 404 on the public ingress, 400 on the seed's
 * /invoke (its contract).
 */
export function requireRoute(
  target: LocalTarget,
  functionId: string,
  notDeployedStatus: 400 | 404,
): ActiveRoute {
  const route = target.route(functionId);
  if (route) return route;
  // Before any authorisation: the caller learns that it failed, not why (that is in the log).
  const unrestored = target.unrestoredState(functionId);
  if (unrestored) throw notRestored(functionId, unrestored);
  throw new EunhaError(
    'NOT_DEPLOYED',
    `function '${functionId}' has no active deployment; deploy it first`,
    { functionId },
    {},
    notDeployedStatus,
  );
}

export function requireEnabled(fn: FunctionRecord): void {
  if (fn.status === 'disabled') {
    throw new EunhaError('FUNCTION_DISABLED', `function '${fn.id}' is disabled`, { functionId: fn.id });
  }
}

/** Failures whose own message may quote the function (guest text, environment values). */
const PUBLIC_MESSAGES: Partial<Record<string, string>> = {
  FUNCTION_ERROR:
    'the function failed: it raised an exception or returned an invalid response (see its execution log)',
  FUNCTION_CRASHED:
    'the function could not run: its sandbox failed or could not start (see its execution log)',
};

declare module 'fastify' {
  interface FastifyReply {
    /** The Content-Type a function answered with; null: none; false: not a function's answer. */
    functionContentType: string[] | null | false;
  }
}

/** A request the ingress has let in, before its body is read. */
interface Admitted {
  route: ActiveRoute;
  sent: { uri: string; pathInfo: string };
  headers: Record<string, string>;
  admit: (route: ActiveRoute) => Promise<void>;
}

function send(reply: FastifyReply, { result, log, route }: Invocation): FastifyReply {
  const platform = platformError(result, true);
  if (platform) {
    // What went wrong inside a function (its traceback, its bad header, the exception its module
    // code raised when no instance could start, a sandbox's last words) is for its author, in the
    // execution log; the caller of a public URL learns only that it failed.
    const message = PUBLIC_MESSAGES[platform.code] ?? platform.message;
    const body = new EunhaError(platform.code, route.redactor.text(message), {
      functionId: log.functionId,
      logId: log.id,
    }).toBody();
    return reply.code(platform.status).headers(platform.headers).send(body);
  }
  void reply.code(result.status);
  // `X-Tag` and `x-tag` in one dict are one header name: both values go out, as two lines (the
  // only way Spin's Python SDK sets two cookies). Gathered first and set once per name: appending
  // name by name doubled Set-Cookie (Fastify appends to it too) until the stack overflowed.
  const byName = new Map<string, string[]>();
  let length: string | undefined;
  for (const [k, v] of Object.entries(result.headers)) {
    const name = k.toLowerCase();
    if (name === 'content-length') length = length === undefined ? v.trim() : '';
    if (HOP_BY_HOP.has(name) || ORIGIN_WIDE.has(name) || PLATFORM_OWNED.has(name)) continue;
    const values = byName.get(name);
    if (values) values.push(headerBytes(v));
    else byName.set(name, [headerBytes(v)]);
  }
  for (const [name, values] of byName) {
    if (name !== 'content-type') void reply.header(name, values.length === 1 ? values[0] : values);
  }
  // Fastify gives a body without a content type (or with one it cannot parse) its own; the
  // function's, or none, is put back in onSend (ingressRoutes).
  reply.functionContentType = byName.get('content-type') ?? null;
  // A HEAD answer has no body, so the length the function gives is the only one the caller can
  // learn (RFC 9110 §9.3.2): it goes out when it is one plain number. Any other answer's length
  // is its body's, whatever the function said.
  if (length && reply.request.method === 'HEAD' && /^\d{1,15}$/.test(length)) {
    void reply.header('content-length', length);
  }
  // 205 Reset Content must not carry content (RFC 9110 §15.3.6); Node strips only 204 and 304.
  if (result.status === 205) return reply.send();
  return reply.send(Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength));
}

export async function ingressRoutes(
  app: FastifyInstance,
  target: LocalTarget,
  invoker: Invoker,
  opts: IngressOptions,
): Promise<void> {
  await app.register(async (scope) => {
    // The function gets the body as bytes, whatever its content type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes },
      (_req, body, done) => done(null, body),
    );

    // Declared up front, so that setting it per answer changes no object's shape (a WeakMap entry
    // per call would cost the collector on the hot path).
    scope.decorateReply('functionContentType', false);
    scope.decorateRequest('fnBodyHold', null);
    scope.addHook('onSend', (_req, reply, payload, done) => {
      const type = reply.functionContentType;
      if (type === null) void reply.removeHeader('content-type');
      else if (type !== false) void reply.header('content-type', type.length === 1 ? type[0] : type);
      done(null, payload);
    });

    // A call refused at the door (disabled, a method it does not take, a missing key, too large a
    // body, not deployed or not restored, a request a redeploy moved failing its re-check) never
    // reaches the invoker, which counts the others: counted here, so that a dashboard of calls by
    // status sees a function whose every caller gets 503 instead of no traffic at all. Only
    // functions that exist: ids a caller makes up would make a series each.
    const unknown = new WeakSet<FastifyRequest>();
    scope.addHook('onError', async (req, _reply, err) => {
      const id = (req.params as { function_id?: string }).function_id;
      if (id === undefined || unknown.has(req)) return;
      const known =
        target.route(id) !== undefined ||
        target.unrestoredState(id) !== undefined ||
        (await opts.functionExists(id).catch(() => false));
      // The hook runs before the error handler has set the status: the caller says what it will be.
      if (known) opts.refused(id, err, req);
    });

    type IngressRequest = FastifyRequest<{ Params: { function_id: string; '*'?: string } }>;
    /** What the checks before the body found, for a request that sent `Expect: 100-continue`. */
    const checked = new WeakMap<FastifyRequest, Admitted>();

    /** Everything decided before the body is read: the function, its route, the caller's rights. */
    const admitted = async (req: IngressRequest): Promise<Admitted> => {
      const fnId = req.params.function_id;
      // Browsers send `Service-Worker: script` when they fetch a script to register.
      if (req.headers['service-worker'] !== undefined) {
        throw new EunhaError(
          'FORBIDDEN',
          'a function URL cannot serve a service worker: functions share the platform’s origin, and a worker would see every request to it',
          { functionId: fnId },
        );
      }
      // Start-up has yet to load it: the call waits for that instead of hearing NOT_DEPLOYED.
      if (target.isRestoring(fnId)) await target.awaitRestore(fnId);
      if (!target.route(fnId) && !(await opts.functionExists(fnId))) {
        // No second read in the hook. Nothing is marked on the way on: a WeakMap entry per call
        // costs the collector on the hot path, and the hook's route check answers the rest.
        unknown.add(req);
        throw notFound('Function', fnId);
      }
      const route = requireRoute(target, fnId, 404);
      // As sent: a path the router could not decode was routed rewritten (routable-url.ts).
      const sent = requestTarget(req.originalUrl);
      const headers = requestHeaders(req, sent, opts.publicUrl());
      const admit = async ({ fn }: ActiveRoute): Promise<void> => {
        await opts.authorize(req, fn);
        // Function code never sees an Eunha key: not the one a KEY function requires (asked again
        // for the version a redeploy may move the request to), nor one a caller sent to a public
        // function, whose author would hold it. A NONE function still gets its own tokens.
        const auth = headers.authorization;
        if (auth !== undefined && (fn.authType === 'KEY' || opts.isPlatformCredential(auth))) {
          delete headers.authorization;
        }
        requireEnabled(fn);
        // HEAD is GET without the body (HTTP's own rule): a function that takes GET takes it too.
        const allowed =
          fn.httpMethods.includes('GET') && !fn.httpMethods.includes('HEAD')
            ? [...fn.httpMethods, 'HEAD']
            : fn.httpMethods;
        if (!allowed.includes(req.method)) {
          throw new EunhaError(
            'METHOD_NOT_ALLOWED',
            `function '${fnId}' does not accept ${req.method}; it accepts ${allowed.join(', ')}`,
            { method: req.method, allowed },
            { allow: allowed.join(', ') },
          );
        }
      };
      await admit(route);
      return { route, sent, headers, admit };
    };

    // Before the hook below: a body that would not fit is not asked for either.
    scope.addHook('preParsing', budgetHook(opts.bodies, opts.bodyLimitBytes));

    // The checks run before a body the client holds back is asked for (expect-continue.ts); other
    // requests skip the WeakMap: an entry per call costs the collector on the hot path.
    scope.addHook('preParsing', (req, reply, payload, done) => {
      if (!expectsContinue(req)) return done(null, payload);
      admitted(req as IngressRequest).then(
        (a) => {
          checked.set(req, a);
          sendContinue(req, reply, opts.bodyLimitBytes);
          done(null, payload);
        },
        (err: Error) => done(err),
      );
    });

    const handler = async (req: IngressRequest, reply: FastifyReply) => {
      const { route, sent, headers, admit } = checked.get(req) ?? (await admitted(req));
      const body = Buffer.isBuffer(req.body)
        ? req.body
        : await unparsedBody(req, opts.bodyLimitBytes, req.fnBodyHold);
      // A caller that gives up while its request waits for an instance takes it out of the line:
      // under overload, abandoned requests would otherwise fill the queue and run for nobody.
      const gone = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableEnded) gone.abort();
      };
      reply.raw.once('close', onClose);
      const invocation = await invoker.invoke(
        route,
        {
          method: req.method,
          uri: sent.uri,
          headers,
          body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
          signal: gone.signal,
          requestId: req.id,
        },
        admit,
      );
      reply.raw.off('close', onClose);
      return send(reply, invocation);
    };

    // Every method Node parses, not only those a function may list: the function decides (a
    // method it does not take is a 405 with its own Allow, after its auth), and a missing one is
    // a 404. PROPFIND or TRACE used to fall through to the API's 405, listing the routes' methods.
    // CONNECT never reaches a route (Node hands it to the 'connect' event).
    for (const m of METHODS)
      if (m !== 'CONNECT' && !app.supportedMethods.includes(m)) app.addHttpMethod(m, { hasBody: true });
    const methods = METHODS.filter((m) => m !== 'CONNECT');
    for (const url of ['/fn/:function_id', '/fn/:function_id/*']) {
      scope.route({
        method: methods,
        url,
        exposeHeadRoute: false,
        schema: { hide: true },
        config: { auth: FUNCTION_URL, cors: false },
        handler,
      });
    }
  });
}
