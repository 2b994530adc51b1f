// Checks that JSON Schema cannot express: base64 code, HTTP method names, environment variable
// names and sizes, URLs and timestamps (including impossible calendar dates). Each failure is a
// VALIDATION_ERROR naming its field.

import { invalid } from './errors.js';
import { HTTP_METHODS, LIMITS } from './schemas.js';

// Each test looks for one offending character: no quantifier, so its cost is linear and it cannot
// overflow the regexp stack the way a repeated group does on a body-sized string (~4.5 MB).
const NOT_BASE64 = /[^A-Za-z0-9+/]/;
const NOT_BASE64URL = /[^A-Za-z0-9_-]/;

const QUOTE_MAX = 64;

/**
 * A user value as quoted in an error message, cut to 64 characters: a message names the bad value,
 * it must not hand a 100 KB input back (nor a lone half of a surrogate pair at the cut).
 */
export function quote(value: string): string {
  if (value.length <= QUOTE_MAX) return `'${value}'`;
  const last = value.charCodeAt(QUOTE_MAX - 1);
  const cut = last >= 0xd800 && last <= 0xdbff ? QUOTE_MAX - 1 : QUOTE_MAX;
  return `'${value.slice(0, cut)}…'`;
}

/** Standard base64: whole 4-character groups, '=' only as one or two characters of final padding. */
function isStandardBase64(s: string): boolean {
  if (s.length % 4 !== 0) return false;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return !NOT_BASE64.test(s.slice(0, s.length - pad));
}

/** Decodes base64 (standard, or URL-safe without padding; whitespace ignored) into UTF-8 source. */
export function decodeCode(code: string, field = 'code'): Buffer {
  const compact = code.replace(/\s+/g, '');
  let bytes: Buffer;
  if (isStandardBase64(compact)) bytes = Buffer.from(compact, 'base64');
  else if (!NOT_BASE64URL.test(compact) && compact.length % 4 !== 1)
    bytes = Buffer.from(compact, 'base64url');
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
      throw invalid(field, `${quote(m)} is not an HTTP method; use ${HTTP_METHODS.join(', ')}`);
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
        `${quote(k)} is not a valid environment variable name (letters, digits, _; not starting with a digit)`,
        { key: k.slice(0, QUOTE_MAX) },
      );
    }
    if (v.length > LIMITS.envValueMax || v.includes('\0')) {
      throw invalid(field, `the value of ${quote(k)} is too long or contains NUL`, { key: k });
    }
  }
  return Object.fromEntries(entries);
}

/**
 * The environment as a whole, within LIMITS.envTotalMax: `plain` as sent or stored, and the byte
 * length of each secret's value (sealed, it is not at hand). `field` is the one the request changed.
 */
export function checkEnvironmentTotal(
  plain: Record<string, string>,
  secretBytes: Record<string, number>,
  field: string,
): void {
  let total = 0;
  for (const [k, v] of Object.entries(plain)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  for (const [k, n] of Object.entries(secretBytes)) total += Buffer.byteLength(k) + n;
  if (total > LIMITS.envTotalMax) {
    throw invalid(
      field,
      `the function's environment variables would hold ${total} bytes of names and values, plain and secret together; at most ${LIMITS.envTotalMax} are allowed (keep large data in the key-value store or the code)`,
      { limit: LIMITS.envTotalMax, bytes: total },
    );
  }
}

/** The seed added http:// when the scheme was missing; keep that, and refuse what is not a URL. */
export function normalizeUrl(raw: string, field: string): string {
  const s = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw invalid(field, `${quote(raw)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw invalid(field, 'only http and https URLs are allowed');
  return u.toString();
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function normalizeTimestamp(raw: string, field: string): string {
  const m = ISO.exec(raw.trim());
  const t = Date.parse(raw);
  if (!m || Number.isNaN(t)) throw invalid(field, `${quote(raw)} is not an ISO 8601 date-time`);
  // Date.parse rolls impossible fields over (February 30th becomes March 2nd), so the fields are
  // checked as written, with RFC 3339's ranges: a typo is refused rather than stored as another day.
  const f = (i: number) => Number(m[i] ?? 0);
  const [year, month, day] = [f(1), f(2), f(3)];
  const timeOk = f(4) <= 23 && f(5) <= 59 && f(6) <= 59 && f(7) <= 23 && f(8) <= 59;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || !timeOk)
    throw invalid(field, `${quote(raw)} is not a valid date-time (no such day or time)`);
  return new Date(t).toISOString();
}

/**
 * Timestamps are compared as strings in keys, ranges and cursors, so they must all have one shape:
 * the UTC form of Date#toISOString (`2026-01-02T03:04:05.678Z`). Returns undefined when unparseable.
 */
export function canonicalTimestamp(value: string): string | undefined {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  return new Date(ms).toISOString();
}
