// Caps on what a function's answer carries besides its body: its response headers, and the
// message and traceback of an exception. The body had a cap (6 MiB) and printed lines had one
// (64 KiB); these had none, and all of them are handled on the server's one main thread. A review
// returned 400,000 empty headers (~2 s of that thread per request, for every tenant) and raised an
// exception with a 7.9 MB message (a 7.9 MB execution log per request, ~55 MB/s of disk).
//
// The guest raises a clear error for headers past the caps (python/guest.ts); the host enforces
// them whatever the guest wrote (host/guest-answers.ts); the parent checks again, cheaply, for a
// host that does not (instance.ts).

/** Header fields in one response (Node accepts 2,000 inbound; proxies far fewer bytes). */
export const MAX_RESPONSE_HEADERS = 200;
/** Characters of header names and values together, the size proxies and clients accept. */
export const MAX_RESPONSE_HEADER_CHARS = 64 * 1024;
/** Characters kept of an exception's message (its start) and of a traceback (its end). */
export const MAX_ERROR_MESSAGE_CHARS = 8 * 1024;
export const MAX_TRACEBACK_CHARS = 64 * 1024;

/**
 * Why `headers` cannot be a response's headers (not a map of strings, or past a cap), or
 * undefined when it can. Stops counting at the first cap passed, so a huge map costs little.
 */
export function headersProblem(headers: unknown): string | undefined {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    return 'the response headers are not a map of names to values';
  }
  let count = 0;
  let chars = 0;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = (headers as Record<string, unknown>)[name];
    if (typeof value !== 'string')
      return `the value of response header '${name.slice(0, 64)}' is not a string`;
    if (++count > MAX_RESPONSE_HEADERS) return `more than ${MAX_RESPONSE_HEADERS} response headers`;
    chars += name.length + value.length;
    if (chars > MAX_RESPONSE_HEADER_CHARS) {
      return `response headers of more than ${MAX_RESPONSE_HEADER_CHARS} characters (names and values)`;
    }
  }
  return undefined;
}

/** The first `max` characters of a message, saying how many more there were. */
export function clipMessage(text: string, max = MAX_ERROR_MESSAGE_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… [${text.length - max} more characters]`;
}

/** The last `max` characters of a traceback (where the exception is), saying how many went. */
export function clipTraceback(text: string, max = MAX_TRACEBACK_CHARS): string {
  if (text.length <= max) return text;
  return `[${text.length - max} earlier characters dropped] …${text.slice(-max)}`;
}

/** A message field of a frame, cut; undefined when it is not a string. */
export const messageOf = (v: unknown): string | undefined =>
  typeof v === 'string' ? clipMessage(v) : undefined;
/** A traceback field of a frame, cut; undefined when it is not a string. */
export const tracebackOf = (v: unknown): string | undefined =>
  typeof v === 'string' ? clipTraceback(v) : undefined;
