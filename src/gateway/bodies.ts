// How request and response bodies appear in an execution log: JSON when they are JSON, text when
// they are UTF-8, a short marker when binary; always truncated to a cap so a log row stays small.

const decoder = new TextDecoder('utf-8', { fatal: true });

export function bodyForLog(bytes: Uint8Array, contentType: string | undefined, cap: number): unknown {
  if (bytes.length === 0) return null;
  let text: string;
  try {
    text = decoder.decode(bytes.length > cap ? bytes.subarray(0, cap) : bytes);
  } catch {
    // A cut through a multi-byte character is not binary; only a real decoding failure is.
    if (bytes.length > cap) {
      try {
        text = new TextDecoder('utf-8').decode(bytes.subarray(0, cap));
      } catch {
        return `<${bytes.length} bytes of binary data>`;
      }
    } else {
      return `<${bytes.length} bytes of binary data>`;
    }
  }
  if (bytes.length > cap) return `${text}… [truncated: ${bytes.length} bytes in all]`;
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}
