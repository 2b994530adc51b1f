// Checks that an answer has the fields a command prints or goes on with, before it is used: a
// server that is not Eunha (or a wrong path under a proxy) may answer JSON of another shape, and
// printing it anyway gave `NaN MiB of NaN MiB` with exit 0. A missing field is a BAD_RESPONSE
// (exit 1) that names it.

import { ApiError } from './client.js';

type Kind = 'string' | 'number' | 'boolean';

/** `value` itself, once each named field is of its kind (a number: a finite one). */
export function shaped<T>(value: unknown, fields: Record<string, Kind>, what: string): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ApiError(200, 'BAD_RESPONSE', `the ${what} answer is not an object`);
  for (const [name, kind] of Object.entries(fields)) {
    const field = (value as Record<string, unknown>)[name];
    const ok =
      kind === 'number' ? typeof field === 'number' && Number.isFinite(field) : typeof field === kind;
    if (!ok) throw new ApiError(200, 'BAD_RESPONSE', `the ${what} answer has no ${name} (a ${kind})`);
  }
  return value as T;
}

/** Each element of a list answer, checked as `shaped` checks one. */
export function shapedList<T>(list: unknown[], fields: Record<string, Kind>, what: string): T[] {
  return list.map((v) => shaped<T>(v, fields, what));
}
