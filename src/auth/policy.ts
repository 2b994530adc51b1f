// What a route declares about access, in its Fastify route config (`config: { auth: … }`). The
// guard (guard.ts) enforces it; a route that declares nothing is admin-only, so a route added
// later without thinking about access is closed, not open.

import type { FastifyRequest } from 'fastify';
import { invalid, notFound, type EunhaError } from '../core/errors.js';
import type { MetadataStore } from '../store/ports.js';

/**
 * How to find the workspace a request acts on. `request` scopes read the path and run before the
 * body is read; `body` scopes read the parsed body (JSON, or a multipart form the route parsed in
 * preValidation) and run just before the handler.
 */
export interface WorkspaceScope {
  phase: 'request' | 'body';
  /** The workspace, or undefined when the resource does not exist. */
  workspaceOf(req: FastifyRequest): Promise<string | undefined> | string | undefined;
  /** The route's own answer for a missing resource: a foreign one must look exactly the same. */
  missing(req: FastifyRequest): EunhaError;
}

export type RoutePolicy =
  /** No credentials needed; none are checked (health, docs). */
  | { access: 'public' }
  /** The admin key only. The default. */
  | { access: 'admin' }
  /** Any valid key; the handler shows a workspace key only its own workspace (GET /api/workspaces). */
  | { access: 'any-key' }
  /** The admin key, or a key of the workspace the scope finds; another workspace's → 404. */
  | { access: 'workspace'; scope: WorkspaceScope }
  /** The admin key or the metrics token (GET /metrics: a scraper need not hold the admin key). */
  | { access: 'metrics' }
  /** The /fn ingress: the function's own authType decides (gateway/ingress.ts asks the guard). */
  | { access: 'function-url' };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RoutePolicy;
  }
}

export const PUBLIC: RoutePolicy = { access: 'public' };

/**
 * Probes (liveness, readiness): public, and spend no address's requests. A load balancer's probes
 * share an address with other callers; they must not spend (or run out of) its rate limit.
 */
export const PROBE_URLS: ReadonlySet<string> = new Set(['/health', '/ready']);
export const ADMIN: RoutePolicy = { access: 'admin' };
export const ANY_KEY: RoutePolicy = { access: 'any-key' };
export const METRICS: RoutePolicy = { access: 'metrics' };

const param = (req: FastifyRequest, name: string): string => {
  const v = (req.params as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
};

/** A string field of a JSON body or of a parsed form; '' counts as absent, as the routes read it. */
const bodyField = (req: FastifyRequest, name: string): string | undefined => {
  const body = req.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const v = (body as Record<string, unknown>)[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

const workspace = (scope: WorkspaceScope): RoutePolicy => ({ access: 'workspace', scope });

/** POST /api/v1/deploy without `function_id`: the embedded runtime serves images through a function. */
export const functionIdRequired = (): EunhaError =>
  invalid('function_id', 'function_id is required: the embedded runtime serves images through a function');

/** The scopes the routes use, over the metadata store (for lookups by function or task id). */
export function scopes(meta: MetadataStore) {
  return {
    /** `:workspace_id` in the path. */
    workspaceParam: workspace({
      phase: 'request',
      workspaceOf: (req) => param(req, 'workspace_id'),
      missing: (req) => notFound('Workspace', param(req, 'workspace_id')),
    }),
    /** `:function_id` in the path, on routes that name no workspace (/api/functions/…). */
    functionParam: workspace({
      phase: 'request',
      workspaceOf: async (req) => (await meta.findFunction(param(req, 'function_id')))?.workspaceId,
      missing: (req) => notFound('Function', param(req, 'function_id')),
    }),
    /** `:task_id` in the path. */
    taskParam: workspace({
      phase: 'request',
      workspaceOf: async (req) => (await meta.getTask(param(req, 'task_id')))?.workspaceId,
      missing: (req) => notFound('Task', param(req, 'task_id')),
    }),
    /** `workspace_id` in the body or form, defaulting as the route does. */
    workspaceField: (fallback: string) =>
      workspace({
        phase: 'body',
        workspaceOf: (req) => bodyField(req, 'workspace_id') ?? fallback,
        missing: (req) => notFound('Workspace', bodyField(req, 'workspace_id') ?? fallback),
      }),
    /** `function_id` in the body (POST /api/v1/deploy). */
    functionField: workspace({
      phase: 'body',
      workspaceOf: async (req) => {
        const id = bodyField(req, 'function_id');
        return id === undefined ? undefined : (await meta.findFunction(id))?.workspaceId;
      },
      missing: (req) => {
        const id = bodyField(req, 'function_id');
        // Absent, it is the caller's mistake to name, not a function '' that does not exist.
        return id === undefined ? functionIdRequired() : notFound('Function', id);
      },
    }),
  };
}

export type Scopes = ReturnType<typeof scopes>;
