// A platform with access control on (an admin key) and two populated workspaces, A and B: a key,
// a deployed function with a secret, a build task and its image each. The security suites aim A's
// key at B's resources, and every route's path is filled from here (fillPath), so a route added
// later is exercised without being listed.

import type { FastifyInstance, InjectOptions } from 'fastify';
import { multipart } from '../build/harness.js';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

export const ADMIN_KEY = 'admin-key-for-tests-0123456789abcdef';
export const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
export const SECRET = 'sk_live_TOP-SECRET-7f3a9c2e41';

export const SECRET_HANDLER = `from spin_sdk import http
from spin_sdk.http import Request, Response
import os

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        print("token is", os.environ.get("API_TOKEN", "-"))
        return Response(200, {"content-type": "text/plain"}, bytes(os.environ.get("API_TOKEN", "-"), "utf-8"))
`;

export interface Tenant {
  ws: string;
  key: string;
  keyId: string;
  fn: string;
  task: string;
  image: string;
  sourcePath: string;
}

export interface World {
  p: TestPlatform;
  a: Tenant;
  b: Tenant;
  admin: Record<string, string>;
  as(key: string): Record<string, string>;
  /** Another key of tenant a, created by the admin. */
  newKey(): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function ok(
  app: FastifyInstance,
  opts: InjectOptions,
  status: number,
): Promise<Record<string, unknown>> {
  const res = await app.inject(opts);
  if (res.statusCode !== status)
    throw new Error(`${opts.method} ${opts.url} → ${res.statusCode}: ${res.body}`);
  return res.body ? (res.json() as Record<string, unknown>) : {};
}

async function waitTask(app: FastifyInstance, task: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const t = await ok(app, { method: 'GET', url: `/api/v1/tasks/${task}`, headers: bearer(ADMIN_KEY) }, 200);
    if (t.status === 'completed' || t.status === 'failed') return t;
    if (Date.now() > deadline) throw new Error(`task ${task} did not finish`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function tenant(p: TestPlatform, name: string): Promise<Tenant> {
  const admin = bearer(ADMIN_KEY);
  const ws = String(
    (await ok(p.app, { method: 'POST', url: '/api/workspaces', headers: admin, payload: { name } }, 201)).id,
  );
  const created = await ok(
    p.app,
    { method: 'POST', url: `/api/workspaces/${ws}/keys`, headers: admin, payload: { name: 'k' } },
    201,
  );
  const fn = String(
    (
      await ok(
        p.app,
        {
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          headers: admin,
          payload: {
            name: 'secret',
            code: b64(SECRET_HANDLER),
            httpMethods: ['GET', 'POST'],
            secretEnvironmentVariables: { API_TOKEN: SECRET },
          },
        },
        201,
      )
    ).id,
  );
  await ok(
    p.app,
    { method: 'POST', url: `/api/workspaces/${ws}/functions/${fn}/deployments`, headers: admin },
    201,
  );
  const form = multipart({ workspace_id: ws, app_name: 'app' }, { filename: 'app.py', data: SECRET_HANDLER });
  const build = await ok(
    p.app,
    { method: 'POST', url: '/api/v1/build', headers: { ...admin, ...form.headers }, payload: form.payload },
    202,
  );
  const task = String(build.task_id);
  const done = await waitTask(p.app, task);
  const result = done.result as { image_url: string } | null;
  if (!result) throw new Error(`build failed: ${JSON.stringify(done)}`);
  return {
    ws,
    key: String(created.key),
    keyId: String(created.id),
    fn,
    task,
    image: result.image_url,
    sourcePath: String(build.source_s3_path),
  };
}

export async function startWorld(env: Record<string, string> = {}): Promise<World> {
  const p = await startTestPlatform({
    EUNHA_ADMIN_KEY: ADMIN_KEY,
    EUNHA_METRICS_TOKEN: METRICS_TOKEN,
    EUNHA_WARM_POOL_SIZE: '1',
    EUNHA_RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
  try {
    const a = await tenant(p, 'tenant-a');
    const b = await tenant(p, 'tenant-b');
    const admin = bearer(ADMIN_KEY);
    const newKey = async () =>
      (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${a.ws}/keys`,
          headers: admin,
          payload: {},
        })
      ).json() as { id: string; key: string };
    return { p, a, b, admin, as: bearer, newKey, close: () => p.cleanup() };
  } catch (err) {
    await p.cleanup();
    throw err;
  }
}

/** Ids that exist nowhere, in the shapes the routes expect. */
export const MISSING: Tenant = {
  ws: 'ws-zzzzzzzz',
  key: 'eunha_missing',
  keyId: 'key-missing',
  fn: 'fn-zzzzzzzz',
  task: 'task-missing',
  image: 'local/ws-zzzzzzzz/app:000000000000@sha256:' + '0'.repeat(64),
  sourcePath: 'build-sources/ws-zzzzzzzz/x/app.py',
};

/** The route's path with every parameter taken from `t`; throws on a parameter it cannot fill. */
export function fillPath(url: string, t: Tenant): string {
  return url.replace(/:([A-Za-z_]+)|\*/g, (m, name: string | undefined) => {
    if (m === '*') return 'x';
    switch (name) {
      case 'workspace_id':
        return t.ws;
      case 'function_id':
        return t.fn;
      case 'task_id':
        return t.task;
      case 'key_id':
        return t.keyId;
      case 'version':
        return '1';
      default:
        throw new Error(`the security tests cannot fill :${name} in ${url}; teach fillPath about it`);
    }
  });
}

/**
 * A well-formed body for a route, aimed at `t`'s resources, so that validation passes and the
 * answer is about access. Routes whose workspace comes from the body need one here.
 */
export function sampleBody(
  method: string,
  url: string,
  t: Tenant,
): Pick<InjectOptions, 'payload' | 'headers'> {
  const json = (payload: unknown) => ({
    payload: payload as InjectOptions['payload'],
    headers: { 'content-type': 'application/json' },
  });
  const key = `${method} ${url}`;
  switch (key) {
    case 'POST /api/v1/build':
    case 'POST /api/v1/build-and-push': {
      const form = multipart(
        { workspace_id: t.ws, ...(url.endsWith('push') ? { registry_url: 'local' } : {}) },
        { filename: 'app.py', data: SECRET_HANDLER },
      );
      return { payload: form.payload, headers: form.headers };
    }
    case 'POST /api/v1/push':
      return json({ registry_url: 'local', workspace_id: t.ws, s3_source_path: t.sourcePath });
    case 'POST /api/v1/deploy':
      return json({ namespace: 'default', image_ref: t.image, function_id: t.fn });
    case 'POST /api/v1/scaffold':
      return json({ image_ref: t.image });
    case 'POST /api/workspaces':
      return json({ name: 'x' });
    case 'POST /api/workspaces/:workspace_id/functions':
      return json({ name: 'x', code: b64('x = 1\n') });
    case 'POST /api/workspaces/:workspace_id/keys':
      return json({ name: 'x' });
    case 'POST /api/workspaces/:workspace_id/functions/:function_id/invoke':
      return json({ hello: 'world' });
    default:
      return method === 'PATCH' ? json({}) : {};
  }
}
