// The answers every documented route can give besides its own: what Node's HTTP parser answers,
// what the guard answers (by the route's access policy) and what reading a body can answer (by its
// method). Added to each route's response schemas as it is registered, so the OpenAPI document
// lists them without every route repeating them, and a route added later gets them too. A status
// a route declares itself wins.

import type { FastifyInstance } from 'fastify';
import { PROBE_URLS, type RoutePolicy } from '../auth/policy.js';
import { ErrorBody } from '../core/schemas.js';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const error = (description: string) => ({ ...ErrorBody, description });

const UNAUTHORIZED = error('`UNAUTHORIZED`: no key, or a key that is malformed or revoked');
const FORBIDDEN = {
  admin: error('`FORBIDDEN`: this needs the admin key; a workspace key or the metrics token cannot do it'),
  metrics: error('`FORBIDDEN`: this needs the admin key or the metrics token; a workspace key cannot do it'),
  other: error('`FORBIDDEN`: the metrics token (`EUNHA_METRICS_TOKEN`) reads `GET /metrics` only'),
};
const RATE_LIMITED = error(
  '`RATE_LIMITED`: too many requests from this workspace (or address), or a per-workspace cap (builds waiting, live tails); see Retry-After',
);
const BAD_BODY = error('`VALIDATION_ERROR` or `BAD_JSON`: the body (or a parameter) is not valid');
const TOO_LARGE = error('`PAYLOAD_TOO_LARGE`: the body is larger than the configured limit');
const MEDIA_TYPE = error('`UNSUPPORTED_MEDIA_TYPE`: a content type or encoding this route does not read');
// Node's HTTP parser answers these before any route runs, so every route can (api/errors.ts).
const PARSER = {
  408: error('`REQUEST_TIMEOUT`: the request (headers or body) did not arrive within the server’s deadline'),
  431: error('`HEADERS_TOO_LARGE`: the request’s header block is too large'),
};

function guardAnswers(policy: RoutePolicy | undefined, url: string): Record<number, unknown> {
  // Policies are set by the guard's own onRoute hook, which runs first; none means admin-only.
  const access = policy?.access ?? 'admin';
  if (access === 'function-url') return {};
  if (access === 'public') return PROBE_URLS.has(url) ? {} : { 429: RATE_LIMITED };
  const forbidden = access === 'admin' || access === 'metrics' ? FORBIDDEN[access] : FORBIDDEN.other;
  return { 401: UNAUTHORIZED, 403: forbidden, 429: RATE_LIMITED };
}

/** Call after installGuard and before any route is registered. */
export function installDocumentedErrors(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as
      { hide?: boolean; response?: Record<string, unknown>; security?: unknown[] } | undefined;
    if (!schema?.response || schema.hide) return;
    const policy = route.config?.auth;
    if (policy?.access === 'public') schema.security = [];
    const body = [route.method].flat().some((m) => BODY_METHODS.has(m));
    schema.response = {
      ...PARSER,
      ...guardAnswers(policy, route.url),
      ...(body ? { 400: BAD_BODY, 413: TOO_LARGE, 415: MEDIA_TYPE } : {}),
      ...schema.response,
    };
  });
}
