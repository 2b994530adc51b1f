// A function's environment as a whole, on create and on each PATCH that changes it: a name is
// either plain or secret, and names and values together stay within LIMITS.envTotalMax.

import { sealedValueBytes } from '../auth/secrets.js';
import { invalid } from '../core/errors.js';
import { checkEnvironmentTotal, quote } from '../core/validate.js';

type Sent = { environmentVariables?: unknown; secretEnvironmentVariables?: unknown };

/** `plain` and `sealed` as they would be stored; `input` is the request, which the errors name. */
export function checkEnvironment(
  plain: Record<string, string>,
  sealed: Record<string, string>,
  input: Sent,
): void {
  checkNoOverlap(plain, sealed, input);
  // Blamed on the secrets when the request sent any.
  const field =
    input.secretEnvironmentVariables != null ? 'secretEnvironmentVariables' : 'environmentVariables';
  checkEnvironmentTotal(plain, sealedValueBytes(sealed), field);
}

/**
 * A name is either plain or secret: the function would otherwise see only one of the two values.
 * The error names the field the caller is setting: the plain map when it carries the name (also
 * when the secrets carry it too, since declaring a secret is the deliberate act and taking the
 * name out of the plain map is the fix), else the secrets, which clash with a stored plain name.
 */
function checkNoOverlap(plain: Record<string, string>, secret: Record<string, string>, input: Sent): void {
  // Own keys only: 'constructor' or 'toString' is a valid variable name, and `in` would find it
  // on every object's prototype.
  const sent = (map: unknown, name: string) =>
    map !== null && typeof map === 'object' && Object.hasOwn(map, name);
  for (const name of Object.keys(secret)) {
    if (!Object.hasOwn(plain, name)) continue;
    const inPlain = sent(input.environmentVariables, name);
    const inSecret = sent(input.secretEnvironmentVariables, name);
    const rule = 'a name is either plain or secret';
    if (inPlain && inSecret) {
      throw invalid(
        'environmentVariables',
        `${quote(name)} is in both environmentVariables and secretEnvironmentVariables; ${rule}`,
        { key: name },
      );
    }
    if (inPlain) {
      throw invalid(
        'environmentVariables',
        `${quote(name)} is a secret environment variable of this function; ${rule} ` +
          `(send secretEnvironmentVariables: {${JSON.stringify(name)}: null} to make it plain)`,
        { key: name },
      );
    }
    throw invalid(
      'secretEnvironmentVariables',
      `${quote(name)} is a plain environment variable of this function; ${rule} ` +
        '(send environmentVariables without it to make it secret)',
      { key: name },
    );
  }
}
