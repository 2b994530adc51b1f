// How deep a parsed JSON value nests. JSON.parse takes any depth, but JSON.stringify (the
// execution log, the store, an answer) runs out of stack a few thousand levels down: a request
// body that deep made /invoke answer 500, and in an execution log it would fail every write of
// its batch. A fixed bound keeps that from depending on how much stack is left.

export const MAX_JSON_DEPTH = 512;

/** Iterative, so the check itself cannot overflow; only containers are visited. */
export function jsonDepthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const isContainer = (v: unknown): v is object => v !== null && typeof v === 'object';
  const stack: Array<[object, number]> = isContainer(value) ? [[value, 1]] : [];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? (v as unknown[]) : Object.values(v))
      if (isContainer(child)) stack.push([child, depth + 1]);
  }
  return false;
}
