// What each `eunha` command does, through the REST API only (ApiClient): list and create
// workspaces, deploy a .py file as a named function (created or updated, then built and deployed
// in one call), invoke, read or follow logs, list deployments and roll back. Output is lines for
// people, or the API's JSON with --json for scripts.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ApiClient, ApiError } from './client.js';

/** A mistake in the command line itself: the usage is printed with it (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Io {
  out: (line: string) => void;
}

export interface Options {
  workspace?: string | undefined;
  name?: string | undefined;
  memory?: string | undefined;
  timeout?: string | undefined;
  env?: string[] | undefined;
  data?: string | undefined;
  limit?: string | undefined;
  follow?: boolean | undefined;
  json?: boolean | undefined;
}

interface Workspace {
  id: string;
  name: string;
}
interface FunctionConfig {
  id: string;
  name: string;
  status: string;
  invocationUrl?: string | null;
  memory: number;
  timeout: number;
}
interface Deployment {
  version: number;
  digest: string;
  active: boolean;
  createdAt: string;
  invocationUrl: string;
}
interface ExecutionLog {
  timestamp: string;
  status: string;
  statusCode: number;
  duration: number;
  logs: string[];
  responseBody?: unknown;
}

const enc = encodeURIComponent;

function positiveInt(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new UsageError(`${what} must be a positive integer, got '${raw}'`);
  return Number(raw);
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${what}`);
  return value;
}

/** KEY=VALUE pairs from repeated --env options. */
function envPairs(pairs: string[] = []): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`--env takes NAME=value, got '${p}'`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** A function of the workspace by id, or by name when exactly one has it. */
async function findFunction(api: ApiClient, ws: string, ref: string): Promise<FunctionConfig> {
  const all = await api.request<FunctionConfig[]>('GET', `/api/workspaces/${enc(ws)}/functions`);
  const byId = all.find((f) => f.id === ref);
  if (byId) return byId;
  const named = all.filter((f) => f.name === ref);
  if (named.length === 1) return named[0]!;
  if (named.length > 1)
    throw new UsageError(
      `${named.length} functions are named '${ref}' in ${ws}: use an id (${named.map((f) => f.id).join(', ')})`,
    );
  throw new ApiError(404, 'NOT_FOUND', `no function '${ref}' in workspace ${ws}`);
}

function printLog(io: Io, log: ExecutionLog): void {
  io.out(`${log.timestamp}  ${log.statusCode} ${log.status}  ${Math.round(log.duration)} ms`);
  for (const line of log.logs ?? []) io.out(`  | ${line}`);
}

export async function workspaces(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  if (args[0] === 'create') {
    const ws = await api.request<Workspace>('POST', '/api/workspaces', {
      name: need(args[1], 'workspace name'),
    });
    io.out(o.json ? JSON.stringify(ws) : ws.id);
    return;
  }
  if (args.length > 0) throw new UsageError(`unknown workspaces command '${args[0]}'`);
  const list = await api.request<Workspace[]>('GET', '/api/workspaces');
  if (o.json) io.out(JSON.stringify(list));
  else for (const ws of list) io.out(`${ws.id}  ${ws.name}`);
}

export async function functions(api: ApiClient, _args: string[], o: Options, io: Io): Promise<void> {
  const ws = need(o.workspace, '--workspace');
  const list = await api.request<FunctionConfig[]>('GET', `/api/workspaces/${enc(ws)}/functions`);
  if (o.json) io.out(JSON.stringify(list));
  else
    for (const f of list) io.out(`${f.id}  ${f.name}  ${f.status}  ${f.invocationUrl ?? '(not deployed)'}`);
}

/**
 * The file becomes the code of the workspace's function named --name (default: the file's name
 * without .py), created if there is none, updated if there is one; then the one-call deployment
 * builds and deploys it. Code that does not load is refused by the server with its traceback.
 */
export async function deploy(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const ws = need(o.workspace, '--workspace');
  const file = need(args[0], 'the .py file to deploy');
  let source: Buffer;
  try {
    source = await readFile(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const name = o.name ?? basename(file).replace(/\.py$/, '');
  const settings = {
    code: source.toString('base64'),
    ...(o.memory !== undefined ? { memory: positiveInt(o.memory, '--memory') } : {}),
    ...(o.timeout !== undefined ? { timeout: positiveInt(o.timeout, '--timeout') } : {}),
    ...(o.env ? { environmentVariables: envPairs(o.env) } : {}),
  };
  const all = await api.request<FunctionConfig[]>('GET', `/api/workspaces/${enc(ws)}/functions`);
  const named = all.filter((f) => f.name === name);
  if (named.length > 1) throw new UsageError(`${named.length} functions are named '${name}' in ${ws}`);
  const fn =
    named.length === 1
      ? await api.request<FunctionConfig>(
          'PATCH',
          `/api/workspaces/${enc(ws)}/functions/${enc(named[0]!.id)}`,
          settings,
        )
      : await api.request<FunctionConfig>('POST', `/api/workspaces/${enc(ws)}/functions`, {
          name,
          ...settings,
        });
  const d = await api.request<Deployment>(
    'POST',
    `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/deployments`,
  );
  if (o.json) io.out(JSON.stringify(d));
  else
    io.out(
      `${named.length === 1 ? 'updated' : 'created'} ${name} (${fn.id}), deployed v${d.version} ${d.digest.slice(0, 12)} → ${d.invocationUrl}`,
    );
}

export async function invoke(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const ws = need(o.workspace, '--workspace');
  const fn = await findFunction(api, ws, need(args[0], 'function (id or name)'));
  let body: unknown = {};
  if (o.data !== undefined) {
    try {
      body = JSON.parse(o.data);
    } catch {
      throw new UsageError('--data must be JSON');
    }
  }
  const log = await api.request<ExecutionLog>(
    'POST',
    `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/invoke`,
    body,
  );
  if (o.json) {
    io.out(JSON.stringify(log));
    return;
  }
  printLog(io, log);
  const answer = log.responseBody;
  io.out(typeof answer === 'string' ? answer : JSON.stringify(answer));
}

export async function logs(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const ws = need(o.workspace, '--workspace');
  const fn = await findFunction(api, ws, need(args[0], 'function (id or name)'));
  const limit = positiveInt(o.limit, '--limit') ?? 20;
  const path = `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/logs?limit=${limit}`;
  if (!o.follow) {
    const page = await api.request<{ logs: ExecutionLog[] }>('GET', path);
    // Newest first from the API; oldest first on a terminal, as a tail shows them.
    const list = [...page.logs].reverse();
    if (o.json) io.out(JSON.stringify(list));
    else for (const log of list) printLog(io, log);
    return;
  }
  for await (const ev of api.events(`${path}&follow=true`)) {
    if (ev.event === 'deleted') {
      io.out(`(${(JSON.parse(ev.data) as { message: string }).message})`);
      return;
    }
    if (ev.event !== 'log') continue;
    if (o.json) io.out(ev.data);
    else printLog(io, JSON.parse(ev.data) as ExecutionLog);
  }
}

export async function deployments(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const ws = need(o.workspace, '--workspace');
  const fn = await findFunction(api, ws, need(args[0], 'function (id or name)'));
  const list = await api.request<Deployment[]>(
    'GET',
    `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/deployments`,
  );
  if (o.json) io.out(JSON.stringify(list));
  else
    for (const d of list)
      io.out(`v${d.version}  ${d.digest.slice(0, 12)}  ${d.createdAt}${d.active ? '  active' : ''}`);
}

/** Activates an earlier (or later) deployment at once, without a rebuild. */
export async function rollback(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const ws = need(o.workspace, '--workspace');
  const fn = await findFunction(api, ws, need(args[0], 'function (id or name)'));
  const version = positiveInt(need(args[1], 'version'), 'version')!;
  const d = await api.request<Deployment>(
    'POST',
    `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/deployments/${version}/activate`,
  );
  io.out(o.json ? JSON.stringify(d) : `${fn.name} now runs v${d.version} ${d.digest.slice(0, 12)}`);
}
