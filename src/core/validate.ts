// Checks that JSON Schema cannot express: base64 code, HTTP method names, environment variable
// names and sizes, URLs and timestamps. Each failure is a VALIDATION_ERROR naming its field.

import { invalid } from './errors.js';
import { HTTP_METHODS, LIMITS } from './schemas.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes base64 (standard, or URL-safe without padding; whitespace ignored) into UTF-8 source. */
export function decodeCode(code: string, field = 'code'): Buffer {
  const compact = code.replace(/\s+/g, '');
  let bytes: Buffer;
  if (BASE64.test(compact)) bytes = Buffer.from(compact, 'base64');
  else if (BASE64URL.test(compact) && compact.length % 4 !== 1) bytes = Buffer.from(compact, 'base64url');
  else throw invalid(field, 'code must be base64-encoded Python source');
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(field, 'code must decode to UTF-8 Python source');
  }
  return bytes;
}

export function normalizeMethods(methods: string[], field = 'httpMethods'): string[] {
  const out: string[] = [];
  for (const m of methods) {
    const upper = m.trim().toUpperCase();
    if (!(HTTP_METHODS as readonly string[]).includes(upper)) {
      throw invalid(field, `'${m}' is not an HTTP method; use ${HTTP_METHODS.join(', ')}`);
    }
    if (!out.includes(upper)) out.push(upper);
  }
  if (out.length === 0) throw invalid(field, 'at least one HTTP method is required');
  return out;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkEnvVars(
  env: Record<string, string>,
  field = 'environmentVariables',
): Record<string, string> {
  const entries = Object.entries(env);
  if (entries.length > LIMITS.envVarsMax)
    throw invalid(field, `at most ${LIMITS.envVarsMax} environment variables`);
  for (const [k, v] of entries) {
    if (k.length > LIMITS.envNameMax || !ENV_NAME.test(k)) {
      throw invalid(
        field,
        `'${k.slice(0, 64)}' is not a valid environment variable name (letters, digits, _; not starting with a digit)`,
        { key: k.slice(0, 64) },
      );
    }
    if (v.length > LIMITS.envValueMax || v.includes('\0')) {
      throw invalid(field, `the value of '${k}' is too long or contains NUL`, { key: k });
    }
  }
  return Object.fromEntries(entries);
}

/** The seed added http:// when the scheme was missing; keep that, and refuse what is not a URL. */
export function normalizeUrl(raw: string, field: string): string {
  const s = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw invalid(field, `'${raw.slice(0, 100)}' is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw invalid(field, 'only http and https URLs are allowed');
  return u.toString();
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;

export function normalizeTimestamp(raw: string, field: string): string {
  const t = Date.parse(raw);
  if (!ISO.test(raw.trim()) || Number.isNaN(t))
    throw invalid(field, `'${raw.slice(0, 64)}' is not an ISO 8601 date-time`);
  return new Date(t).toISOString();
}
