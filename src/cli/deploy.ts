// `eunha deploy`: a .py file becomes the code of a named function of the workspace (created or
// updated), then the one-call deployment builds and deploys it; a refusal undoes what the command
// changed (deploy-undo.ts), and entity tags keep it from deploying or undoing someone else's edit.

import { basename } from 'node:path';
import { shaped, shapedList } from './answer-shape.js';
import { DEPLOYMENT_FIELDS, FUNCTION_FIELDS, ID, type Deployment, type FunctionConfig } from './answers.js';
import { intIn, pairs, positionals, UsageError, workspaceOf, type Io, type Options } from './args.js';
import { ApiClient, ApiError } from './client.js';
import { restoreOf, undoDeploy, type DeployFields, type FunctionBefore, type Undo } from './deploy-undo.js';
import { pick } from './function-ref.js';
import { readCapped } from './read-capped.js';

const enc = encodeURIComponent;
/** Reading stops past this: the server's own cap is far lower (about 4.5 MiB of code at its default). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

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
