// Validation at the edge. Bodies are checked strictly (no type coercion, no silent removal of
// unknown fields); query strings and path params are coerced, since they arrive as strings.
// Ajv errors become VALIDATION_ERROR with details.field naming the offending field.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';
import type { FastifySchemaCompiler } from 'fastify';
import { EunhaError } from '../core/errors.js';

// ajv-formats is CommonJS whose typings describe an ES default export; require() gets the callable.
const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv) => Ajv;

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
    // Errors carry their schema, for a pattern's own message (below).
    verbose: true,
  });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = makeAjv(false);
const paramAjv = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : paramAjv;
  const validate = ajv.compile(schema as object) as ValidateFunction;
  return (data: unknown) => {
    if (validate(data)) return { value: data };
    return { error: toEunhaError(validate.errors ?? [], httpPart ?? 'body') };
  };
};

function fieldOf(e: ErrorObject): string {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && typeof params.missingProperty === 'string')
    path.push(params.missingProperty);
  if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    path.push(params.additionalProperty);
  }
  return path.join('.');
}

function messageOf(e: ErrorObject, field: string, part: string): string {
  const params = e.params as Record<string, unknown>;
  const where = field || part;
  switch (e.keyword) {
    case 'required':
      return `${where} is required`;
    case 'additionalProperties':
      return `unknown field '${field}'`;
    case 'type':
      // `?limit=1&limit=2` arrives as an array: "must be integer" would send the caller looking
      // at the values.
      if (part === 'querystring' && Array.isArray(e.data)) return `${where} may be given only once`;
      return `${where} must be ${String(params.type)}`;
    case 'enum':
      return `${where} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern': {
      // Never the expression itself: a client showed users `must match pattern "^(?=[\s\p{Cf}]…"`.
      const said = (e.parentSchema as Record<string, unknown> | undefined)?.['x-pattern-message'];
      return `${where} ${typeof said === 'string' ? said : 'has characters that are not allowed'}`;
    }
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

export function toEunhaError(errors: ErrorObject[], part: string): EunhaError {
  // A union (e.g. "string or null") reports one error per branch; the first is the clearest.
  const first = errors[0];
  if (!first) return new EunhaError('VALIDATION_ERROR', `invalid ${part}`, { field: part, location: part });
  const field = fieldOf(first);
  return new EunhaError('VALIDATION_ERROR', messageOf(first, field, part), {
    field: field || part,
    location: part,
    rule: first.keyword,
  });
}
