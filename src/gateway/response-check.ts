// What a function answers must be a valid HTTP response before it reaches a socket: a final status
// (200–599) and header names/values Node will write. A bad one is the function's error (500
// FUNCTION_ERROR, saying what was wrong), never a platform crash or a header injected into the
// caller's response.

import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { InvokeResult } from '../runtime/index.js';
import { headerBytes } from './header-bytes.js';

/** Why the result cannot be sent as it is, or undefined when it can. */
export function responseProblem(result: InvokeResult): string | undefined {
  if (!Number.isInteger(result.status) || result.status < 200 || result.status > 599) {
    return `status ${String(result.status)} is not a final HTTP status (200–599)`;
  }
  for (const [name, value] of Object.entries(result.headers)) {
    try {
      validateHeaderName(name);
    } catch {
      return `header name ${JSON.stringify(name.slice(0, 64))} is not a valid HTTP token`;
    }
    try {
      validateHeaderValue(name, headerBytes(value));
    } catch {
      return `the value of header '${name.slice(0, 64)}' has characters HTTP does not allow (e.g. CR/LF)`;
    }
  }
  return undefined;
}

/** The result to use: the function's own, or a FUNCTION_ERROR in its place. */
export function checkedResult(result: InvokeResult): InvokeResult {
  if (result.error) return result;
  const problem = responseProblem(result);
  if (!problem) return result;
  return {
    ...result,
    status: 500,
    headers: {},
    body: new Uint8Array(0),
    error: { code: 'FUNCTION_ERROR', message: `the function returned an invalid response: ${problem}` },
  };
}
