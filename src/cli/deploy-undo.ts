// What `eunha deploy` puts back when the server refuses the deployment: the command first creates
// the function or PATCHes its code and settings, then asks for the deployment, and a refusal (code
// that does not load) used to leave a new function behind (listed, not deployed, counted against
// the workspace's cap) or an existing one holding code and settings no version runs. A function the
// command created is deleted; an existing one gets back, field by field, what the command changed.
// A secret's earlier value cannot be put back: the API masks it in every answer, and a PATCH takes
// a value, null (remove) or the mask (keep the current one). So a secret the command added is
// removed, and one it replaced keeps the new value, which is said. When no answer came, the
// deployment may have happened, so nothing is undone, and that is said too.

import { ApiClient, ApiError } from './client.js';

const enc = encodeURIComponent;

/** The fields `deploy` may send besides `name`. */
export interface DeployFields {
  code: string;
  memory?: number | undefined;
  timeout?: number | undefined;
  environmentVariables?: Record<string, string> | undefined;
  secretEnvironmentVariables?: Record<string, string> | undefined;
  allowedOutboundHosts?: string[] | undefined;
}

/** A function as listed before the command changed it (secret values masked). */
export interface FunctionBefore {
  id: string;
  name: string;
  code?: unknown;
  memory?: unknown;
  timeout?: unknown;
  environmentVariables?: unknown;
  secretEnvironmentVariables?: unknown;
  allowedOutboundHosts?: unknown;
}

/** How to put the workspace back as it was before the command. */
export type Undo =
  | { kind: 'delete'; ws: string; id: string; name: string }
  | {
      kind: 'restore';
      ws: string;
      id: string;
      name: string;
      patch: Record<string, unknown>;
      /** Fields the listing did not show, so they cannot be put back. */
      unknown: string[];
      /** Secrets the command replaced: their earlier values are not known. */
      secretsKept: string[];
    };

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The PATCH that gives `before` back each field `sent` changed. */
export function restoreOf(ws: string, before: FunctionBefore, sent: DeployFields): Undo {
  const patch: Record<string, unknown> = {};
  const unknown: string[] = [];
  const back = (field: keyof DeployFields & keyof FunctionBefore, ok: (v: unknown) => boolean) => {
    if (sent[field] === undefined) return;
    if (ok(before[field])) patch[field] = before[field];
    else unknown.push(field);
  };
  back('code', (v) => typeof v === 'string');
  back('memory', (v) => typeof v === 'number');
  back('timeout', (v) => typeof v === 'number');
  back('environmentVariables', isObject);
  back('allowedOutboundHosts', Array.isArray);
  const secretsKept: string[] = [];
  if (sent.secretEnvironmentVariables) {
    const had = isObject(before.secretEnvironmentVariables) ? before.secretEnvironmentVariables : {};
    const secrets: Record<string, null> = {};
    for (const name of Object.keys(sent.secretEnvironmentVariables)) {
      if (Object.hasOwn(had, name)) secretsKept.push(name);
      else secrets[name] = null;
    }
    if (Object.keys(secrets).length > 0) patch.secretEnvironmentVariables = secrets;
  }
  return { kind: 'restore', ws, id: before.id, name: before.name, patch, unknown, secretsKept };
}

/**
 * Whether the deployment surely did not happen: the server answered it with a refusal, or it was
 * never sent (UNREACHABLE). A gateway's 502–504 page (no Eunha envelope) is no such answer: the
 * server behind it may have deployed all the same; nor is a request that got no answer.
 */
export function notApplied(e: ApiError): boolean {
  if (e.code === 'UNREACHABLE') return true;
  if (e.status < 400) return false;
  return e.details !== undefined || e.status < 502 || e.status > 504;
}

/**
 * After the deployment failed with `failure`: undoes what it can, and notes on it what happened.
 * `etag`: the function as the command left it; an undo is sent with it (If-Match), so that an
 * edit someone made since is never overwritten or deleted (it used to be).
 */
export async function undoDeploy(
  api: ApiClient,
  undo: Undo,
  failure: ApiError,
  etag?: string,
): Promise<void> {
  const notes = failure.notes;
  const what = `${undo.name} (${undo.id})`;
  if (failure.code === 'PRECONDITION_FAILED') {
    notes.push(
      `${what} was changed by someone else after this command had ${undo.kind === 'delete' ? 'created' : 'updated'} it, ` +
        'so nothing was deployed and it was left as they made it; run the command again',
    );
    return;
  }
  if (!notApplied(failure)) {
    notes.push(
      undo.kind === 'delete'
        ? `the deployment may have happened, so ${what}, created by this command, was left as it is`
        : `the deployment may have happened, so ${what} keeps the new code and settings`,
    );
    return;
  }
  const path = `/api/workspaces/${enc(undo.ws)}/functions/${enc(undo.id)}`;
  try {
    if (undo.kind === 'delete') {
      await api.tagged('DELETE', path, undefined, etag);
      notes.push(`deleted ${what}, which this command had created`);
      return;
    }
    if (Object.keys(undo.patch).length > 0) await api.tagged('PATCH', path, undo.patch, etag);
    notes.push(
      `put back the code and settings of ${what} as they were before` +
        (undo.unknown.length > 0 ? `, except ${undo.unknown.join(', ')} (not in its listing)` : ''),
    );
    if (undo.secretsKept.length > 0)
      notes.push(
        `secret${undo.secretsKept.length > 1 ? 's' : ''} ${undo.secretsKept.join(', ')} of ${what} ` +
          'not restored: the API never shows a secret’s value, so it keeps the one this command set',
      );
  } catch (e) {
    if (e instanceof ApiError && e.code === 'PRECONDITION_FAILED') {
      notes.push(`${what} was changed by someone else meanwhile, so it was left as they made it`);
      return;
    }
    const why = e instanceof ApiError ? e.line : e instanceof Error ? e.message : String(e);
    notes.push(
      undo.kind === 'delete'
        ? `could not delete ${what}, which this command had created: ${why}`
        : `could not put back the code and settings of ${what}: ${why}`,
    );
  }
}
