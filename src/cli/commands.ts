// What each `eunha` command does, through the REST API only (ApiClient): list and create
// workspaces, deploy a .py file as a named function (created or updated, then built and deployed
// in one call), invoke, read or follow logs, list deployments and roll back. Output is lines for
// people (columns separated by tabs), or JSON with --json for scripts. The command line is checked
// before anything is sent.

import { basename } from 'node:path';
import { shaped, shapedList } from './answer-shape.js';
import { ApiClient, ApiError } from './client.js';
import { restoreOf, undoDeploy, type DeployFields, type FunctionBefore, type Undo } from './deploy-undo.js';
import { follow } from './follow.js';
import { readCapped } from './read-capped.js';

/** A mistake in the command line itself: the usage is printed with it (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Options {
  workspace?: string | undefined;
  name?: string | undefined;
  memory?: string | undefined;
  timeout?: string | undefined;
  env?: string[] | undefined;
  secret?: string[] | undefined;
  outbound?: string[] | undefined;
  data?: string | undefined;
  limit?: string | undefined;
  follow?: boolean | undefined;
  reconnect?: string | undefined;
  since?: string | undefined;
  errors?: boolean | undefined;
  delete?: string | undefined;
  json?: boolean | undefined;
}

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

interface Workspace {
  id: string;
  name: string;
}
interface FunctionConfig {
  id: string;
  name: string;
  status: string;
  invocationUrl?: string | null;
  /** Set when every call fails whatever the code does (absent from servers before it). */
  unavailable?: { code: string; message: string } | null;
}
interface Deployment {
  version: number;
  digest: string;
  active: boolean;
  createdAt: string;
  invocationUrl: string;
}
interface ExecutionLog {
  id: string;
  timestamp: string;
  status: string;
  statusCode: number;
  duration: number;
  logs: string[];
  responseBody?: unknown;
}

const enc = encodeURIComponent;
/** Reading stops past this: the server's own cap is far lower (about 4.5 MiB of code at its default). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** The command's positional arguments, exactly `names.length` of them. */
function positionals(args: string[], names: string[]): string[] {
  if (args.length < names.length) throw new UsageError(`missing ${names[args.length]}`);
  if (args.length > names.length) throw new UsageError(`unexpected argument '${args[names.length]}'`);
  return args;
}

function intIn(raw: string | undefined, what: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max)
    throw new UsageError(`${what} must be ${min}–${max}, got '${raw}'`);
  return n;
}

function workspaceOf(o: Options): string {
  if (!o.workspace) throw new UsageError('missing --workspace (-w)');
  return o.workspace;
}

/** NAME=value pairs from repeated --env or --secret options. */
function pairs(list: string[] | undefined, option: string): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const p of list) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`${option} takes NAME=value, got '${p.slice(0, 40)}'`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

function ambiguous(ref: string, ws: string, fns: FunctionConfig[]): ApiError {
  return new ApiError(
    409,
    'AMBIGUOUS',
    `${fns.length} functions are named '${ref}' in ${ws}: name one by id (${fns.map((f) => f.id).join(', ')})`,
  );
}

/** The fields of a function the commands print or go on with. */
const FUNCTION_FIELDS = { id: 'string', name: 'string', status: 'string' } as const;
/** The fields of a deployment the commands print. */
const DEPLOYMENT_FIELDS = { version: 'number', digest: 'string' } as const;

/** A function id: `fn-` and 8 lower-case letters or digits. */
const ID = /^fn-[a-z0-9]{8}$/;

/** A function of the workspace by id, or by name when exactly one has it. */
async function findFunction(api: ApiClient, ws: string, ref: string): Promise<FunctionConfig> {
  // Looks like an id: one small request instead of the whole list (which carries every function's code).
  if (ID.test(ref)) {
    try {
      return shaped<FunctionConfig>(
        await api.request('GET', `/api/workspaces/${enc(ws)}/functions/${enc(ref)}`),
        FUNCTION_FIELDS,
        'function',
      );
    } catch (e) {
      // Not an id after all: perhaps a name.
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }
  const all = await api.list<unknown>(`/api/workspaces/${enc(ws)}/functions`);
  const fn = pick(shapedList<FunctionConfig>(all, FUNCTION_FIELDS, 'function'), ref, ws);
  if (!fn) throw new ApiError(404, 'NOT_FOUND', `no function '${ref}' in workspace ${ws}`);
  return fn;
}

/** Among a workspace's functions: the one with this id, else the one with this name, if any. */
function pick(all: FunctionConfig[], ref: string, ws: string): FunctionConfig | undefined {
  const byId = all.find((f) => f.id === ref);
  if (byId) return byId;
  // The server trims names; so does the lookup, or every deploy would create another.
  const named = all.filter((f) => f.name === ref.trim());
  if (named.length > 1) throw ambiguous(ref, ws, named);
  return named[0];
}

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

/**
 * The file becomes the code of the workspace's function named --name (default: the file's name
 * without .py; an id names that function), created if there is none, updated if there is one;
 * then the one-call deployment builds and deploys it. Code that does not load is refused by the
 * server with its traceback, the version that ran before keeps running, and what the command
 * changed is undone (deploy-undo.ts).
 */
export async function deploy(api: ApiClient, args: string[], o: Options, io: Io): Promise<void> {
  const [file] = positionals(args, ['the .py file to deploy']);
  const ws = workspaceOf(o);
  const settings = {
    ...(o.memory !== undefined ? { memory: intIn(o.memory, '--memory', 1, 1_000_000) } : {}),
    ...(o.timeout !== undefined ? { timeout: intIn(o.timeout, '--timeout', 1, 1_000_000) } : {}),
    ...(o.env ? { environmentVariables: pairs(o.env, '--env') } : {}),
    ...(o.secret ? { secretEnvironmentVariables: pairs(o.secret, '--secret') } : {}),
    // `--outbound none` clears the list; the server checks each entry and names a bad one.
    ...(o.outbound
      ? { allowedOutboundHosts: o.outbound.length === 1 && o.outbound[0] === 'none' ? [] : o.outbound }
      : {}),
  };
  let source: Buffer | undefined;
  try {
    source = await readCapped(file!, MAX_FILE_BYTES);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!source) throw new UsageError(`${file} is larger than 64 MiB`);
  const size = source.length;
  const name = (o.name ?? basename(file!).replace(/\.py$/, '')).trim();
  const listed = async () =>
    shapedList<FunctionConfig & FunctionBefore>(
      await api.list(`/api/workspaces/${enc(ws)}/functions`),
      FUNCTION_FIELDS,
      'function',
    );
  // Two deploys of one new name at once each create a function, and the later one deletes its own
  // (below): a third started meanwhile saw both and stopped as ambiguous (a loaded CI run). A few
  // short waits let that settle; functions that really share the name are still ambiguous.
  let existing: (FunctionConfig & FunctionBefore) | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      existing = pick(await listed(), name, ws);
      break;
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'AMBIGUOUS') || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const fields: DeployFields = { code: source.toString('base64'), ...settings };
  // The function as this command left it (its ETag): what is deployed, and what an undo puts
  // back, only while nobody else has changed it since.
  let etag: string | undefined;
  const update = async (id: string) => {
    const r = await api
      .tagged<FunctionConfig>('PATCH', `/api/workspaces/${enc(ws)}/functions/${enc(id)}`, fields)
      .catch((e: unknown) => tooLarge(e, size));
    etag = r.etag;
    return r.body;
  };
  let fn: FunctionConfig;
  let created = false;
  // How to put things back if the deployment is refused (deploy-undo.ts).
  let undo: Undo;
  if (existing) {
    fn = await update(existing.id);
    undo = restoreOf(ws, existing, fields);
  } else {
    // An id of another workspace, or mistyped: creating a function named like it would only confuse.
    if (ID.test(name)) throw new ApiError(404, 'NOT_FOUND', `no function '${name}' in workspace ${ws}`);
    const made = await api
      .tagged<FunctionConfig>('POST', `/api/workspaces/${enc(ws)}/functions`, { name, ...fields })
      .catch((e: unknown) => tooLarge(e, size));
    etag = made.etag;
    fn = shaped<FunctionConfig>(made.body, FUNCTION_FIELDS, 'function');
    created = true;
    undo = { kind: 'delete', ws, id: fn.id, name: fn.name };
    // Two deploys of a new name at once each create a function (names are not unique, as in the
    // seed), and every later command found the name ambiguous. The list is in creation order, and
    // the later of two creators lists after both exist: it gives way to the first.
    const first = (await listed()).find((f) => f.name === name);
    if (first && first.id !== fn.id) {
      await api.request('DELETE', `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}`);
      fn = await update(first.id);
      created = false;
      undo = restoreOf(ws, first, fields);
    }
  }
  fn = shaped<FunctionConfig>(fn, FUNCTION_FIELDS, 'function');
  let d: Deployment;
  try {
    // Someone else's edit in between would be deployed in the name of this file: refused (412).
    d = (
      await api.tagged<Deployment>(
        'POST',
        `/api/workspaces/${enc(ws)}/functions/${enc(fn.id)}/deployments`,
        undefined,
        etag,
      )
    ).body;
  } catch (e) {
    if (e instanceof ApiError) await undoDeploy(api, undo, e, etag);
    throw e;
  }
  if (o.json) io.out(JSON.stringify(d));
  else {
    const { version, digest } = shaped<Deployment>(d, DEPLOYMENT_FIELDS, 'deployment');
    io.out(
      `${created ? 'created' : 'updated'} ${fn.name} (${fn.id}), deployed v${version} ${digest.slice(0, 12)} → ${d.invocationUrl}`,
    );
  }
  // A deploy does not enable a function its owner disabled; the URL alone suggested it would answer.
  if (fn.status === 'disabled') {
    io.err(
      `eunha: ${fn.name} (${fn.id}) is disabled: its URL answers 403 FUNCTION_DISABLED until it is enabled ` +
        `(PATCH its status to "active")`,
    );
  }
}

/**
 * A body past the server's cap, explained: the file goes base64-encoded inside JSON, so it may
 * hold only about 3/4 of the cap (4.5 MiB at the default 6 MiB), not what the 413 alone suggests.
 */
function tooLarge(e: unknown, size: number): never {
  if (!(e instanceof ApiError) || e.code !== 'PAYLOAD_TOO_LARGE') throw e;
  const limit = e.details?.limit;
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  const fits =
    typeof limit === 'number'
      ? `so about ${mib((limit * 3) / 4)} of code fit`
      : 'so about 3/4 of the cap (EUNHA_BODY_LIMIT_BYTES) fits';
  throw new ApiError(
    e.status,
    e.code,
    `${e.message}; deploy sends the file base64-encoded in JSON, 4/3 of its ${size} bytes (${mib(size)}), ${fits}`,
    e.traceback,
    e.logId,
    e.details,
  );
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

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** An RFC 3339 date-time as the server's schema takes it (ajv-formats' `date-time`): an offset is required. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):?(\d{2}))$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether the server's `since` takes this text: a real day and time, with its offset. */
function isRfc3339(raw: string): boolean {
  const m = RFC3339.exec(raw);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS[month - 1];
  // No leap second (:60): the server takes one only at 23:59 UTC, and no log is stamped with one.
  return (
    days !== undefined &&
    day >= 1 &&
    day <= days &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    (m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59))
  );
}

/**
 * `--since`: an RFC 3339 instant as it is, or an age (`90s`, `15m`, `2h`, `7d`) back from `now`.
 * Checked here as the server checks it, so a bad one is a usage error (exit 2), not its 400: a
 * time without an offset (whose zone would be a guess), or an age reaching back before the year 1
 * (`999999d`), which has no four-digit year to send.
 */
export function sinceOf(raw: string, now: number): string {
  const age = /^(\d{1,6})([smhd])$/.exec(raw);
  if (age) {
    const at = new Date(now - Number(age[1]) * UNIT_MS[age[2]!]!).toISOString();
    if (!isRfc3339(at)) throw new UsageError(`--since ${raw} reaches back too far (before the year 1)`);
    return at;
  }
  if (isRfc3339(raw)) return raw;
  if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(raw))
    throw new UsageError(
      `--since ${raw} has no UTC offset (its zone would be a guess): write it as 2026-11-27T09:00:00Z (UTC) or 2026-11-27T09:00:00+09:00`,
    );
  throw new UsageError(
    `--since takes an age (15m, 2h, 7d) or an RFC 3339 time with its offset (2026-11-27T09:00:00Z), got '${raw.slice(0, 40)}'`,
  );
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
  io.out(`${mib(usedBytes)} of ${mib(maxBytes)}, ${usedFiles} of ${maxFiles} files`);
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
