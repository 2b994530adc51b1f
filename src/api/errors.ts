// Maps every failure to the seed's envelope {"error":{"code","message","details"}}. Fastify's own
// errors (bad JSON, too large, wrong media type, schema failures) become catalogue codes; anything
// unexpected is logged with the request id and answered as INTERNAL_ERROR without internals.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, EunhaError, bodyTooLarge, type ErrorCode } from '../core/errors.js';
import { quote } from '../core/validate.js';
import { closeWhenAnswered } from './close-unread.js';

/** The build uploads read multipart only: the advice names it. */
const MULTIPART_ROUTES = new Set(['/api/v1/build', '/api/v1/build-and-push']);

/** A body of a type the API does not read (JSON only, multipart on the build routes). */
export function unsupportedContentType(req: FastifyRequest): EunhaError {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  const wanted = MULTIPART_ROUTES.has(req.routeOptions.url ?? '')
    ? 'multipart/form-data with the upload in a field named "file"'
    : 'application/json';
  return new EunhaError(
    'UNSUPPORTED_MEDIA_TYPE',
    type
      ? `content type ${quote(type)} is not supported; send ${wanted}`
      : `unsupported content type; send ${wanted}`,
    { field: 'content-type' },
  );
}

function fromFastify(err: FastifyError, req: FastifyRequest): EunhaError | undefined {
  if (err instanceof EunhaError) return err;
  // Schema validation: our compiler put the EunhaError in the list of causes.
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof EunhaError) return cause;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge({ limit: req.routeOptions.bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return unsupportedContentType(req);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new EunhaError('BAD_JSON', 'request body is not valid JSON', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new EunhaError('VALIDATION_ERROR', 'content-length does not match the body', {
        field: 'content-length',
      });
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new EunhaError('UNSUPPORTED_MEDIA_TYPE', 'invalid content type', { field: 'content-type' });
  }
  if (err instanceof SyntaxError || err.name === 'SyntaxError') {
    return new EunhaError('BAD_JSON', `request body is not valid JSON: ${err.message}`, { field: 'body' });
  }
  if (err.statusCode === 413) return new EunhaError('PAYLOAD_TOO_LARGE', err.message, { field: 'body' });
  if (err.statusCode === 415)
    return new EunhaError('UNSUPPORTED_MEDIA_TYPE', err.message, { field: 'content-type' });
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new EunhaError('VALIDATION_ERROR', err.message, { field: 'request' });
  }
  return undefined;
}

/** The status the error handler below answers an error with. */
export function statusOfError(err: FastifyError, req: FastifyRequest): number {
  return fromFastify(err, req)?.status ?? 500;
}

const STATES = new Set<ErrorCode>(['SHUTTING_DOWN', 'DEPENDENCY_UNAVAILABLE', 'NOT_READY', 'SERVER_BUSY']);
/**
 * A sandbox that died mid-request is mostly the function's doing (os._exit, its memory limit, a
 * trap), and a tenant calling one through /invoke wrote an error with a stack each time (a soak
 * review: ~150 in 40 min). A warning without one, as the runtime's own line for it.
 */
const SANDBOX_OUTCOMES = new Set<ErrorCode>(['FUNCTION_CRASHED']);
const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    closeWhenAnswered(req, reply);
    const known = fromFastify(err, req);
    if (known) {
      // A state the server is in (stopping, a dependency down) is a warning without a stack: a
      // stack for every request refused while it lasts only buries the real faults.
      // A function's own failure (its timeout, say) answers 5xx too, but it is not the server's
      // fault: no stack, and below error, where an operator looks for what is wrong with Eunha.
      if (STATES.has(known.code)) req.log.warn({ code: known.code }, known.message);
      else if (SANDBOX_OUTCOMES.has(known.code))
        req.log.warn({ code: known.code, details: known.details }, known.message);
      else if (known.status >= 500 && ERROR_CATALOGUE[known.code].fault === 'user')
        req.log.info({ code: known.code, details: known.details }, known.message);
      else if (known.status >= 500) req.log.error({ err, code: known.code }, known.message);
      else req.log.info({ code: known.code, details: known.details }, known.message);
      void reply.code(known.status).headers(known.headers).send(known.toBody());
      return;
    }
    req.log.error({ err }, 'unhandled error');
    const internal = new EunhaError('INTERNAL_ERROR', `internal error; request id ${req.id}`, {
      requestId: req.id,
    });
    void reply.code(500).send(internal.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    closeWhenAnswered(req, reply);
    const e = noRoute(app, req);
    void reply.code(e.status).headers(e.headers).send(e.toBody());
  });
  // An unknown route is refused before its body is read: Fastify would parse it first (a JSON
  // body until its cap, a never-ending one until the cap's 413). After the guard, so a caller
  // without a key still learns nothing about which routes exist.
  // A callback, not an async hook: it runs for every request, /fn calls included, and a promise
  // each is a cost on the hot path for a check that almost never fires.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    if (req.is404) done(noRoute(app, req));
    else done(null, payload);
  });
}

/**
 * A path that exists with other methods: 405 and what it takes, as HTTP asks (it was a 404 "no
 * route", which sent clients looking for a typo in the path). OPTIONS is left out: with CORS on,
 * every path takes it (the preflight route).
 */
function noRoute(app: FastifyInstance, req: FastifyRequest): EunhaError {
  const route = req.url.split('?')[0] ?? '';
  const allowed = ROUTE_METHODS.filter((method) => app.findRoute({ method, url: route }) !== null);
  return allowed.length > 0
    ? new EunhaError(
        'METHOD_NOT_ALLOWED',
        `${route} does not take ${req.method}; it takes ${allowed.join(', ')}`,
        { method: req.method, allowed },
        { allow: allowed.join(', ') },
      )
    : new EunhaError('NOT_FOUND', `no route ${req.method} ${route}`, { route });
}

/**
 * Errors Fastify raises before routing (a path segment over maxParamLength, a malformed percent
 * escape): they skip the hooks and the error handler, so they get the envelope here.
 */
export function frameworkError(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const e =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new EunhaError('VALIDATION_ERROR', 'a path segment is too long', { field: 'url' })
      : new EunhaError('VALIDATION_ERROR', 'the URL is malformed', { field: 'url' });
  void reply.code(e.status).send(e.toBody());
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (an unknown method, a malformed
 * request line, too large a header block, a deadline missed): the envelope, written on the socket,
 * which is then closed, since the parser cannot find where the next request would begin.
 */
export function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new EunhaError('REQUEST_TIMEOUT', 'the request did not arrive in time')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new EunhaError('HEADERS_TOO_LARGE', 'the request header block is too large')
        : new EunhaError(
            'VALIDATION_ERROR',
            `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`,
            {
              field: 'request',
            },
          );
  if (socket.writable) {
    const body = JSON.stringify(e.toBody());
    socket.write(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
