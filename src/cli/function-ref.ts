// Naming a function on the command line: by its id, or by its name when exactly one function of
// the workspace has it (names are not unique, as in the seed).

import { shaped, shapedList } from './answer-shape.js';
import { FUNCTION_FIELDS, ID, type FunctionConfig } from './answers.js';
import { ApiClient, ApiError } from './client.js';

const enc = encodeURIComponent;

/** A function of the workspace by id, or by name when exactly one has it. */
export async function findFunction(api: ApiClient, ws: string, ref: string): Promise<FunctionConfig> {
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
export function pick(all: FunctionConfig[], ref: string, ws: string): FunctionConfig | undefined {
  const byId = all.find((f) => f.id === ref);
  if (byId) return byId;
  // The server trims names; so does the lookup, or every deploy would create another.
  const named = all.filter((f) => f.name === ref.trim());
  if (named.length > 1) throw ambiguous(ref, ws, named);
  return named[0];
}

function ambiguous(ref: string, ws: string, fns: FunctionConfig[]): ApiError {
  return new ApiError(
    409,
    'AMBIGUOUS',
    `${fns.length} functions are named '${ref}' in ${ws}: name one by id (${fns.map((f) => f.id).join(', ')})`,
  );
}
