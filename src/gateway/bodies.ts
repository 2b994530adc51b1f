// How request and response bodies appear in an execution log: JSON when they are JSON, text when
// they are UTF-8, a short marker when binary; always truncated to a cap so a log row stays small.

import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../core/json-depth.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** `total`: the body's length, when `bytes` is only its start (masked: Redactor.buffer). */
export function bodyForLog(
  bytes: Uint8Array,
  contentType: string | undefined,
  cap: number,
  total = bytes.length,
): unknown {
  if (bytes.length === 0) return null;
  let text: string;
  try {
    // Streaming mode tolerates a cut through a multi-byte character at the cap; a fresh decoder
    // then, so the cut-off bytes are not carried into the next body.
    text =
      bytes.length > cap
        ? new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, cap), { stream: true })
        : decoder.decode(bytes);
  } catch {
    return `<${total} bytes of binary data>`;
  }
  // Valid UTF-8 is not always text: a NUL says binary (bytes(range(256)) decodes without error).
  if (text.includes('\u0000')) return `<${total} bytes of binary data>`;
  if (bytes.length > cap) return `${text}… [truncated: ${total} bytes in all]`;
  if (contentType?.includes('json')) {
    try {
      const value = JSON.parse(text) as unknown;
      // Too deep to serialise again safely (core/json-depth.ts): kept as the text it came as.
      // Nesting past the bound takes two characters a level: short text cannot be that deep.
      return text.length > 2 * MAX_JSON_DEPTH && jsonDepthExceeds(value) ? text : value;
    } catch {
      return text;
    }
  }
  return text;
}
