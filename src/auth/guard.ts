// The one place access is decided. Every route declares a policy (policy.ts) in its config; these
// hooks enforce it: authenticate and rate-limit in onRequest (before any body is read), check a
// path-derived workspace there too, and a body-derived one in preHandler (after parsing). The
// onRoute hook gives undeclared routes the admin-only policy and records the route table, which
// the security tests walk so that a route added later is tested without being listed anywhere.
// Once an answer is encoded, onSend charges its size to the bucket its request was counted in.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EunhaError } from '../core/errors.js';
import type { FunctionRecord } from '../core/types.js';
import { ADMIN, PROBE_URLS, PUBLIC, type RoutePolicy } from './policy.js';
import { type Authenticator, type Principal, unauthorized } from './principal.js';
import { answerTokens, type RateLimiter } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard's onRequest hook (null on the ingress, where the function decides). */
    principal: Principal | null;
    /**
     * Whether the credentials of this request still name the same caller (a revoked key does
     * not): for answers that outlive the request's check, such as a live tail.
     */
    stillAuthorized: (() => Promise<boolean>) | null;
    /** The rate-limit bucket this request was counted in, which its answer's size is charged to. */
    rateBucket: string | null;
  }
  interface FastifyInstance {
    /** Every route with the policy it ended up with (for the generated security tests). */
    routeTable: RouteEntry[];
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  policy: RoutePolicy;
}

/** Routes a plugin registers (Swagger UI's assets) that cannot carry a config of their own. */
const PUBLIC_PREFIXES = ['/docs'];

const forbidden = (access: RoutePolicy['access']): EunhaError =>
  new EunhaError(
    'FORBIDDEN',
    access === 'metrics'
      ? 'this needs the admin key or the metrics token; a workspace key cannot do it'
      : 'this needs the admin key; a workspace key cannot do it',
  );

const scraperOnly = (): EunhaError =>
  new EunhaError('FORBIDDEN', 'the metrics token reads GET /metrics only');

export interface GuardDeps {
  auth: Authenticator;
  limiter: RateLimiter;
}

const policyOf = (req: FastifyRequest): RoutePolicy => req.routeOptions.config.auth ?? ADMIN;

/** Installs the guard on the root instance; call before any route is registered. */
export function installGuard(app: FastifyInstance, deps: GuardDeps): void {
  const table: RouteEntry[] = [];
  app.decorate('routeTable', table);
  app.decorateRequest('principal', null);
  app.decorateRequest('stillAuthorized', null);
  app.decorateRequest('rateBucket', null);

  app.addHook('onRoute', (route) => {
    route.config ??= {};
    if (!route.config.auth) {
      const isPublic = PUBLIC_PREFIXES.some((p) => route.url === p || route.url.startsWith(`${p}/`));
      route.config.auth = isPublic ? PUBLIC : ADMIN;
    }
    for (const method of [route.method].flat())
      table.push({ method, url: route.url, policy: route.config.auth });
  });

  app.addHook('onRequest', async (req: FastifyRequest) => {
    const policy = policyOf(req);
    // The function ingress is not the control plane: its callers are the function's users, and the
    // function's authType decides (authorizeInvocation); its own limits are the runtime's.
    if (policy.access === 'function-url') return;
    // No credentials needed, so none are checked: a health probe that carries a stale key must
    // not fail. Probes spend no address's requests (PROBE_URLS); other public routes do.
    if (policy.access === 'public') {
      if (!PROBE_URLS.has(req.routeOptions.url ?? '')) limit(deps.limiter, req, `ip:${req.ip}`);
      return;
    }
    let principal: Principal;
    try {
      principal = await deps.auth.principal(req.headers.authorization);
    } catch (err) {
      // Failed attempts spend the address's tokens too, so guessing is throttled like anything else.
      limit(deps.limiter, req, `ip:${req.ip}`);
      throw err;
    }
    req.principal = principal;
    req.stillAuthorized = async () => {
      try {
        return samePrincipal(await deps.auth.principal(req.headers.authorization), principal);
      } catch {
        return false;
      }
    };
    limit(deps.limiter, req, bucketOf(principal, req.ip));
    if (principal.kind === 'admin') return;
    if (principal.kind === 'anonymous') throw unauthorized();
    if (principal.kind === 'scraper') {
      if (policy.access === 'metrics') return;
      throw scraperOnly();
    }
    if (policy.access === 'admin' || policy.access === 'metrics') throw forbidden(policy.access);
    if (policy.access === 'workspace' && policy.scope.phase === 'request')
      await checkScope(req, policy, principal);
  });

  // A page of logs costs the main thread ~15 µs a KiB to list and encode, for every tenant: counted
  // as one request, a key within its limit stalled its neighbours' calls by seconds (a review).
  // Charged after the answer, so the request that spends the budget is answered and the next ones
  // wait. Hijacked answers (a live tail's stream) never come here: they cost their one request, as
  // does the function URL, which no bucket counts (the runtime's limits are its own).
  app.addHook('onSend', async (req, _reply, payload) => {
    if (req.rateBucket !== null) deps.limiter.charge(req.rateBucket, answerTokens(sizeOf(payload)));
    return payload;
  });

  app.addHook('preHandler', async (req: FastifyRequest) => {
    const policy = policyOf(req);
    const principal = req.principal;
    if (policy.access === 'workspace' && policy.scope.phase === 'body' && principal?.kind === 'workspace') {
      await checkScope(req, policy, principal);
    }
  });
}

async function checkScope(
  req: FastifyRequest,
  policy: Extract<RoutePolicy, { access: 'workspace' }>,
  principal: Extract<Principal, { kind: 'workspace' }>,
): Promise<void> {
  const ws = await policy.scope.workspaceOf(req);
  // Another workspace's resource answers exactly as a missing one: no existence oracle.
  if (ws !== principal.workspaceId) throw policy.scope.missing(req);
}

function samePrincipal(a: Principal, b: Principal): boolean {
  if (a.kind === 'workspace' && b.kind === 'workspace') return a.keyId === b.keyId;
  return a.kind === b.kind && a.kind !== 'workspace';
}

/**
 * A workspace's keys share one bucket: per key, a tenant multiplied its rate by creating keys (a
 * review got 3,040 requests through in a second with five).
 */
/** Who a caller is, for what is counted per caller (rate limits, uploads in flight). */
export function callerOf(req: FastifyRequest): string {
  return bucketOf(req.principal ?? { kind: 'anonymous' }, req.ip);
}

function bucketOf(p: Principal, ip: string): string {
  if (p.kind === 'workspace') return `ws:${p.workspaceId}`;
  if (p.kind === 'admin' && !p.open) return 'admin';
  if (p.kind === 'scraper') return 'scraper';
  return `ip:${ip}`;
}

/**
 * An encoded answer's size: a string's length stands for its bytes (the encoding's work is per
 * character, and it is read without a pass over the text). A stream (the docs' static files) is
 * not charged: it is read in chunks, not built on the main thread.
 */
function sizeOf(payload: unknown): number {
  if (typeof payload === 'string') return payload.length;
  if (payload instanceof Uint8Array) return payload.byteLength;
  return 0;
}

function limit(limiter: RateLimiter, req: FastifyRequest, bucket: string): void {
  req.rateBucket = bucket;
  const r = limiter.take(bucket);
  if (r.ok) return;
  throw new EunhaError(
    'RATE_LIMITED',
    `too many requests; retry in ${r.retryAfterSeconds} s`,
    { retryAfterSeconds: r.retryAfterSeconds },
    { 'retry-after': String(r.retryAfterSeconds) },
  );
}

/** May this caller see this workspace? (GET /api/workspaces filters its list with it.) */
export function canSeeWorkspace(req: FastifyRequest, workspaceId: string): boolean {
  const p = req.principal;
  return p?.kind === 'admin' || (p?.kind === 'workspace' && p.workspaceId === workspaceId);
}

/**
 * The ingress's check for a function with authType KEY: the admin key or a key of the function's
 * workspace (401 without a valid key, 403 with another workspace's: a KEY function's existence is
 * not secret, its 401 already tells). authType NONE, and open mode, let everyone in.
 */
export async function authorizeInvocation(
  auth: Authenticator,
  req: FastifyRequest,
  fn: FunctionRecord,
): Promise<void> {
  if ((fn.authType ?? 'NONE') === 'NONE' || auth.open) return;
  const p = await auth.principal(req.headers.authorization);
  if (p.kind === 'anonymous') throw unauthorized(`function '${fn.id}' requires a key`);
  if (p.kind === 'admin' || (p.kind === 'workspace' && p.workspaceId === fn.workspaceId)) return;
  // Another workspace's key, or the metrics token.
  throw new EunhaError('FORBIDDEN', `this key may not call function '${fn.id}'`);
}
