// Captures a guest's stdout/stderr for one invocation, with caps that are never silent: past the
// byte or line cap the text is cut and a marker line says how much was dropped.

export const MAX_LINES = 1000;
export const MAX_OUTPUT_BYTES = 64 * 1024;

export interface CapturedOutput {
  lines: string[];
  truncated: boolean;
}

export class OutputCollector {
  private chunks: Uint8Array[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(
    private readonly maxBytes = MAX_OUTPUT_BYTES,
    private readonly maxLines = MAX_LINES,
  ) {}

  /** Shaped as Pyodide's `setStdout({ write })` handler: returns the bytes consumed. */
  readonly write = (buf: Uint8Array): number => {
    const room = this.maxBytes - this.kept;
    if (room > 0 && this.dropped === 0) {
      let take = Math.min(room, buf.length);
      // Cut where a character starts: half of one decoded as U+FFFD at the end of the last line.
      if (take < buf.length) while (take > 0 && (buf[take]! & 0xc0) === 0x80) take--;
      this.chunks.push(buf.slice(0, take));
      this.kept += take;
      this.dropped += buf.length - take;
    } else {
      // Once anything is dropped, nothing after it is kept, even if the cut left a few bytes free.
      this.dropped += buf.length;
    }
    return buf.length;
  };

  /** Returns the captured lines and resets for the next invocation. */
  take(): CapturedOutput {
    const out = this.peek();
    this.chunks = [];
    this.kept = 0;
    this.dropped = 0;
    return out;
  }

  /** The lines captured so far, leaving them in place. */
  peek(): CapturedOutput {
    if (this.kept === 0 && this.dropped === 0) return { lines: [], truncated: false };
    const all = new Uint8Array(this.kept);
    let off = 0;
    for (const c of this.chunks) {
      all.set(c, off);
      off += c.length;
    }
    const text = new TextDecoder().decode(all);
    // CRLF ends a line as LF does (`print("a\r\nb")`, output written for Windows): the `\r` was kept.
    let lines = text.split(/\r?\n/);
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    let truncated = this.dropped > 0;
    let droppedLines = 0;
    if (lines.length > this.maxLines) {
      droppedLines = lines.length - this.maxLines;
      lines = lines.slice(0, this.maxLines);
      truncated = true;
    }
    if (truncated) {
      const parts: string[] = [];
      if (droppedLines > 0) parts.push(`${droppedLines} more lines`);
      if (this.dropped > 0) parts.push(`${this.dropped} more bytes`);
      lines.push(
        `[eunha] output truncated: ${parts.join(' and ')} dropped (cap ${this.maxLines} lines / ${this.maxBytes} bytes)`,
      );
    }
    return { lines, truncated };
  }
}
