// What each `eunha` command but `deploy` (deploy.ts) does, through the REST API only (ApiClient):
// list and create workspaces, list functions, invoke, read or follow logs, list deployments and
// roll back, the workspace's storage and its API keys. Output is lines for people (columns
// separated by tabs), or JSON with --json for scripts. The command line is checked (args.ts)
// before anything is sent.

import { shaped, shapedList } from './answer-shape.js';
import {
  DEPLOYMENT_FIELDS,
  FUNCTION_FIELDS,
  type Deployment,
  type ExecutionLog,
  type FunctionConfig,
  type Workspace,
} from './answers.js';
import { intIn, positionals, UsageError, workspaceOf, type Io, type Options } from './args.js';
import { ApiClient, ApiError } from './client.js';
import { follow } from './follow.js';
import { findFunction } from './function-ref.js';
import { sinceOf } from './since.js';

/** Exit code of `invoke` when the function itself failed: it raised, timed out or crashed. */
export const FUNCTION_FAILED = 3;
/** Answers of /invoke that are a run that failed rather than a request refused. */
const FAILED_RUNS = new Set(['TIMEOUT', 'FUNCTION_CRASHED']);
/**
 * The error codes the platform writes into a failed run's log as `responseBody.error.code`
 * (gateway/invoker.ts): a raise (or an invalid response) is FUNCTION_ERROR, answered on /invoke as
 * a 200 with the log. A function's own 5xx answer is logged with status "error" too, but with its
 * own body and no platform error: it answered as it meant to, so it is no failure of the run.
 */
const RUN_FAILURES = new Set(['FUNCTION_ERROR', ...FAILED_RUNS]);

/** Whether a log is of a run that raised, timed out or crashed (not one that answered a 5xx). */
function runFailed(log: ExecutionLog): boolean {
  if (log.status !== 'error') return false;
  const body = log.responseBody as { error?: { code?: unknown } } | null | undefined;
  return typeof body === 'object' && body !== null && RUN_FAILURES.has(String(body.error?.code));
}

const enc = encodeURIComponent;
/** The fields a log line prints. */
const LOG_FIELDS = {
  timestamp: 'string',
  statusCode: 'number',
  status: 'string',
  duration: 'number',
} as const;

function printLog(io: Io, raw: unknown): void {
  const log = shaped<ExecutionLog>(raw, LOG_FIELDS, 'execution log');
  io.out(`${log.timestamp}\t${log.statusCode}\t${log.status}\t${Math.round(log.duration)} ms`);
  for (const line of log.logs ?? []) io.out(`  | ${line}`);
}

export async function workspaces(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  if (args[0] === 'create') {
    const [, name] = positionals(args, ['create', 'workspace name']);
    const ws = await api.request<Workspace>('POST', '/api/workspaces', { name });
    io.out(o.json ? JSON.stringify(ws) : shaped<Workspace>(ws, { id: 'string' }, 'workspace').id);
    return;
  }
  positionals(args, []);
  const list = await api.list<Workspace>('/api/workspaces');
  if (o.json) io.out(JSON.stringify(list));
  else
    for (const ws of shapedList<Workspace>(list, { id: 'string', name: 'string' }, 'workspace'))
      io.out(`${ws.id}\t${ws.name}`);
}

export async function functions(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  positionals(args, []);
  const ws = workspaceOf(o);
  const list = await api.list<FunctionConfig>(`/api/workspaces/${enc(ws)}/functions`);
  if (o.json) io.out(JSON.stringify(list));
  else
    for (const f of shapedList<FunctionConfig>(list, FUNCTION_FIELDS, 'function')) {
      // The stored status stays 'active' when start-up could not load the deployment.
      const status = f.unavailable ? `${f.status} (unavailable: ${f.unavailable.code})` : f.status;
      io.out(`${f.id}\t${f.name}\t${status}\t${f.invocationUrl ?? '(not deployed)'}`);
    }
}

/** Runs the function through the seed's /invoke; prints its log and the answer as logged. */
export async function invoke(api: ApiClient, args: string[], o: Options, io: Io): Promise<number> {
  const [ref] = positionals(args, ['function (id or name)']);
  const ws = workspaceOf(o);
  let body: unknown = {};
  if (o.data !== undefined) {
    try {
      body = JSON.parse(o.data);
    } catch {
      throw new UsageError('--data must be JSON');
    }
  }
  const fn = await findFunction(api, ws, ref!);
  let log: ExecutionLog;
  try {
    log = shaped<ExecutionLog>(
      await api.request('POST', `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/invoke`, body),
      LOG_FIELDS,
      'execution log',
    );
  } catch (e) {
    // The run itself failed (its log is written all the same): the function's failure, not ours.
    // Its log says what it printed before it timed out or crashed: shown as for any other run.
    if (e instanceof ApiError && FAILED_RUNS.has(e.code)) {
      const failed = e.logId === undefined ? undefined : await findLog(api, ws, fn.id, e.logId);
      if (failed && o.json) io.out(JSON.stringify(failed));
      else if (failed) printLog(io, failed);
      io.err(`eunha: ${e.line}`);
      return FUNCTION_FAILED;
    }
    throw e;
  }
  if (o.json) io.out(JSON.stringify(log));
  else {
    printLog(io, log);
    const answer = log.responseBody;
    if (answer !== null && answer !== undefined)
      io.out(typeof answer === 'string' ? answer : JSON.stringify(answer));
  }
  return runFailed(log) ? FUNCTION_FAILED : 0;
}

/**
 * One execution log by id, from the function's newest: the server answers before its batch of
 * logs is stored (within ~10 ms), so a few short waits. Undefined if it cannot be found.
 */
async function findLog(
  api: ApiClient,
  ws: string,
  fnId: string,
  id: string,
): Promise<ExecutionLog | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const page = await api.request<{ logs?: ExecutionLog[] }>(
        'GET',
        `/api/workspaces/${enc(ws)}/functions/${enc(fnId)}/logs?limit=50`,
      );
      const log = page?.logs?.find((l) => l.id === id);
      if (log) return log;
    } catch {
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
  }
  return undefined;
}

/**
 * Latest logs oldest first; with --follow, then each new one until the function is deleted or
 * Ctrl-C, across restarts and lost connections (follow.ts), trying for up to --reconnect seconds
 * at a time when given (0: not at all), else until Ctrl-C.
 */
export async function logs(api: ApiClient, args: string[], o: Options, io: Io): Promise<number> {
  const [ref] = positionals(args, ['function (id or name)']);
  const ws = workspaceOf(o);
  const limit = intIn(o.limit, '--limit', 1, 1000) ?? 20;
  const reconnect = intIn(o.reconnect, '--reconnect', 0, 86_400);
  if (o.follow && (o.since !== undefined || o.errors))
    throw new UsageError('--since and --errors select past logs; --follow sends every new one');
  if (!o.follow && reconnect !== undefined) throw new UsageError('--reconnect goes with --follow');
  const since = o.since === undefined ? undefined : sinceOf(o.since, Date.now());
  const logsOf = (fn: FunctionConfig) => `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/logs`;
  if (o.follow) {
    return follow(
      api,
      {
        // Found once the server answers: the command may start before the server does.
        locate: async (api) => logsOf(await findFunction(api, ws, ref!)),
        limit,
        giveUpMs: reconnect === undefined ? undefined : reconnect * 1000,
        print: (data) => (o.json ? io.out(data) : printLog(io, JSON.parse(data))),
      },
      io,
    );
  }
  const fn = await findFunction(api, ws, ref!);
  const selection = (since === undefined ? '' : `&since=${enc(since)}`) + (o.errors ? '&status=error' : '');
  const page = await api.request<{ logs?: unknown }>('GET', `${logsOf(fn)}?limit=${limit}${selection}`);
  if (!Array.isArray(page?.logs)) throw new ApiError(200, 'BAD_RESPONSE', 'the logs answer has no list');
  // Newest first from the API; oldest first here, as a tail shows them.
  const list = [...(page.logs as ExecutionLog[])].reverse();
  if (o.json) io.out(JSON.stringify(list));
  else for (const log of list) printLog(io, log);
  return 0;
}

export async function deployments(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const [ref] = positionals(args, ['function (id or name)']);
  const ws = workspaceOf(o);
  // An option, not a word before FN: a function may well be named "delete".
  if (o.delete !== undefined) {
    const version = intIn(o.delete.replace(/^v/, ''), '--delete', 1, 999_999_999)!;
    const fn = await findFunction(api, ws, ref!);
    await api.request('DELETE', `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/deployments/${version}`);
    io.out(o.json ? JSON.stringify({ deleted: version }) : `deleted v${version} of ${fn.name}`);
    return;
  }
  const fn = await findFunction(api, ws, ref!);
  const list = await api.list<Deployment>(`/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/deployments`);
  if (o.json) io.out(JSON.stringify(list));
  else
    for (const d of shapedList<Deployment>(
      list,
      { ...DEPLOYMENT_FIELDS, createdAt: 'string', active: 'boolean' },
      'deployment',
    ))
      io.out(`v${d.version}\t${d.digest.slice(0, 12)}\t${d.createdAt}${d.active ? '\tactive' : ''}`);
}

/** Activates an earlier (or later) deployment at once, without a rebuild. */
export async function rollback(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const [ref, raw] = positionals(args, ['function (id or name)', 'version']);
  const ws = workspaceOf(o);
  // `deployments` prints versions as v1, v2: both spellings are taken.
  const version = intIn(raw!.replace(/^v/, ''), 'version', 1, 999_999_999)!;
  const fn = await findFunction(api, ws, ref!);
  const d = await api.request<Deployment>(
    'POST',
    `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/deployments/${version}/activate`,
  );
  if (o.json) io.out(JSON.stringify(d));
  else {
    const { version: now, digest } = shaped<Deployment>(d, DEPLOYMENT_FIELDS, 'deployment');
    io.out(`${fn.name} now runs v${now} ${digest.slice(0, 12)}`);
  }
}

interface StorageReport {
  usedBytes: number;
  maxBytes: number;
  usedFiles: number;
  maxFiles: number;
  /** Absent from servers before they were reported. */
  logBytes?: number;
  keyValueBytes?: number;
}

/** What the workspace keeps in the blob store, against its quota. */
export async function storage(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  positionals(args, []);
  const ws = workspaceOf(o);
  const r = await api.request<StorageReport>('GET', `/api/workspaces/${enc(ws)}/storage`);
  if (o.json) return io.out(JSON.stringify(r));
  const { usedBytes, maxBytes, usedFiles, maxFiles } = shaped<StorageReport>(
    r,
    { usedBytes: 'number', maxBytes: 'number', usedFiles: 'number', maxFiles: 'number' },
    'storage',
  );
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  const { logBytes, keyValueBytes } = r;
  const database =
    typeof logBytes === 'number' && typeof keyValueBytes === 'number'
      ? `; besides, ${mib(logBytes)} of logs and ${mib(keyValueBytes)} of key-value data`
      : '';
  io.out(`${mib(usedBytes)} of ${mib(maxBytes)}, ${usedFiles} of ${maxFiles} files${database}`);
}

interface ApiKeyView {
  id: string;
  name: string | null;
  prefix: string;
  createdAt: string;
  lastUsedAt?: string | null;
  key?: string;
}

const KEY_FIELDS = { id: 'string', prefix: 'string', createdAt: 'string' } as const;

/**
 * A workspace's API keys, for its team: list them (prefixes only), create one (the key is printed
 * this once, alone on stdout, so it can be captured), or revoke one by id. The admin key does it
 * for any workspace; a workspace key for its own.
 */
export async function keys(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const ws = workspaceOf(o);
  const base = `/api/workspaces/${enc(ws)}/keys`;
  if (args[0] === 'create') {
    const [, name] = positionals(args, ['create', 'key name']);
    const created = await api.request<ApiKeyView>('POST', base, { name });
    if (o.json) return io.out(JSON.stringify(created));
    const { key } = shaped<ApiKeyView & { key: string }>(created, { ...KEY_FIELDS, key: 'string' }, 'key');
    io.out(key);
    io.err(`eunha: this key is shown once; keep it (its id: ${created.id})`);
    return;
  }
  if (args[0] === 'revoke') {
    const [, id] = positionals(args, ['revoke', 'key id']);
    await api.request('DELETE', `${base}/${enc(id!)}`);
    io.out(o.json ? JSON.stringify({ revoked: id }) : `revoked ${id}`);
    return;
  }
  positionals(args, []);
  const list = await api.list<ApiKeyView>(base);
  if (o.json) io.out(JSON.stringify(list));
  else
    for (const k of shapedList<ApiKeyView>(list, KEY_FIELDS, 'key'))
      io.out(`${k.id}\t${k.name ?? ''}\t${k.prefix}…\t${k.createdAt}\t${k.lastUsedAt ?? 'never used'}`);
}
