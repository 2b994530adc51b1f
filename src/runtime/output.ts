// Captures a guest's stdout/stderr for one invocation, with caps that are never silent. Past the
// byte or line cap the middle is dropped: the first and the last part are kept, with a marker line
// between them that says exactly how much was dropped. Keeping only the start lost what matters
// most in a failing call, its traceback, which Python prints last (a review's function printed
// 1,200 progress lines and then raised: its log ended at "progress 999").

export const MAX_LINES = 1000;
export const MAX_OUTPUT_BYTES = 64 * 1024;
/** How the marker line between the kept start and end begins (the redactor looks for it). */
export const CUT_MARKER = '[eunha] output truncated: ';

export interface CapturedOutput {
  lines: string[];
  truncated: boolean;
}

const NL = 0x0a;

function newlines(b: Uint8Array, from = 0, to = b.length): number {
  let n = 0;
  for (let i = b.indexOf(NL, from); i !== -1 && i < to; i = b.indexOf(NL, i + 1)) n++;
  return n;
}

/** Where the `n`th line break from the start ends (the offset after it), or null if there are fewer. */
function afterLines(b: Uint8Array, n: number): number | null {
  let at = -1;
  for (let i = 0; i < n; i++) {
    at = b.indexOf(NL, at + 1);
    if (at === -1) return null;
  }
  return at + 1;
}

/** Where the last `n` lines of `b` start (a last line without its break counts as one). */
function lastLinesFrom(b: Uint8Array, n: number): number {
  let end = b.length > 0 && b[b.length - 1] === NL ? b.length - 1 : b.length;
  for (let i = 0; i < n; i++) {
    const at = b.lastIndexOf(NL, end - 1);
    if (at === -1) return 0;
    end = at;
  }
  return end + 1;
}

function linesOf(b: Uint8Array): string[] {
  // CRLF ends a line as LF does (`print("a\r\nb")`, output written for Windows): the `\r` was kept.
  const lines = new TextDecoder().decode(b).split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export class OutputCollector {
  /** The first `headCap` bytes written. */
  private readonly head: Uint8Array;
  private headBytes = 0;
  /**
   * The last `tailCap` bytes of what came after the head, in a ring: a write costs its own size.
   * (A list of writes trimmed from its front cost ~55 µs a write of `print('.', file=sys.stderr)`
   * once full: 11 s of a call's time for 200,000 dots, a review.)
   */
  private readonly ring: Uint8Array;
  private ringStart = 0;
  private ringLen = 0;
  /** Bytes written past the head and dropped from the tail's front. */
  private gap = 0;
  private gapNewlines = 0;
  private readonly headCap: number;
  private readonly tailCap: number;

  constructor(
    private readonly maxBytes = MAX_OUTPUT_BYTES,
    private readonly maxLines = MAX_LINES,
  ) {
    this.headCap = Math.ceil(maxBytes / 2);
    this.tailCap = maxBytes - this.headCap;
    this.head = new Uint8Array(this.headCap);
    this.ring = new Uint8Array(this.tailCap);
  }

  /** Shaped as Pyodide's `setStdout({ write })` handler: returns the bytes consumed. */
  readonly write = (buf: Uint8Array): number => {
    let rest = buf;
    if (this.headBytes < this.headCap) {
      const take = Math.min(this.headCap - this.headBytes, rest.length);
      this.head.set(rest.subarray(0, take), this.headBytes);
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return buf.length;
    // A write larger than the tail is cut to its end before it is copied.
    if (rest.length > this.tailCap) {
      this.drop(rest.subarray(0, rest.length - this.tailCap));
      rest = rest.subarray(rest.length - this.tailCap);
    }
    const cap = this.tailCap;
    const over = this.ringLen + rest.length - cap;
    if (over > 0) {
      // The oldest bytes go, where the ring wraps too.
      const end = Math.min(this.ringStart + over, cap);
      this.drop(this.ring.subarray(this.ringStart, end));
      if (this.ringStart + over > cap) this.drop(this.ring.subarray(0, this.ringStart + over - cap));
      this.ringStart = (this.ringStart + over) % cap;
      this.ringLen -= over;
    }
    const at = (this.ringStart + this.ringLen) % cap;
    const first = Math.min(rest.length, cap - at);
    this.ring.set(rest.subarray(0, first), at);
    if (first < rest.length) this.ring.set(rest.subarray(first), 0);
    this.ringLen += rest.length;
    return buf.length;
  };

  /** The ring's bytes, oldest first, in one array. */
  private tailBytes(): Uint8Array {
    const out = new Uint8Array(this.ringLen);
    const first = Math.min(this.ringLen, this.tailCap - this.ringStart);
    out.set(this.ring.subarray(this.ringStart, this.ringStart + first), 0);
    if (first < this.ringLen) out.set(this.ring.subarray(0, this.ringLen - first), first);
    return out;
  }

  private drop(b: Uint8Array): void {
    this.gap += b.length;
    this.gapNewlines += newlines(b);
  }

  /** Returns the captured lines and resets for the next invocation. */
  take(): CapturedOutput {
    const out = this.peek();
    this.headBytes = 0;
    this.ringStart = 0;
    this.ringLen = 0;
    this.gap = 0;
    this.gapNewlines = 0;
    return out;
  }

  /** The lines captured so far, leaving them in place. */
  peek(): CapturedOutput {
    let start = this.head.subarray(0, this.headBytes);
    let end = this.tailBytes();
    let droppedBytes = this.gap;
    let droppedBreaks = this.gapNewlines;
    // Past a drop, the tail may start inside a character.
    let from = 0;
    if (droppedBytes > 0) while (from < end.length && (end[from]! & 0xc0) === 0x80) from++;
    if (from > 0) {
      droppedBytes += from;
      droppedBreaks += newlines(end, 0, from);
      end = end.subarray(from);
    }
    if (droppedBytes === 0) {
      // Nothing dropped yet: one text, cut only if it has too many lines.
      // Not Buffer.concat: the sandbox thread's lockdown takes Buffer away.
      const all = new Uint8Array(start.length + end.length);
      all.set(start, 0);
      all.set(end, start.length);
      if (all.length === 0) return { lines: [], truncated: false };
      const half = Math.floor(this.maxLines / 2);
      const headEnd = afterLines(all, half);
      const tailFrom = lastLinesFrom(all, this.maxLines - half);
      if (headEnd === null || tailFrom <= headEnd) return { lines: linesOf(all), truncated: false };
      start = all.subarray(0, headEnd);
      end = all.subarray(tailFrom);
      droppedBytes = tailFrom - headEnd;
      droppedBreaks = newlines(all, headEnd, tailFrom);
    } else {
      // The head ends inside a character when its cap did: those bytes go with the dropped middle.
      let lead = start.length - 1;
      while (lead > 0 && (start[lead]! & 0xc0) === 0x80) lead--;
      if (lead >= 0 && !completeCharAt(start, lead)) {
        droppedBytes += start.length - lead;
        start = start.subarray(0, lead);
      }
      const half = Math.floor(this.maxLines / 2);
      const headEnd = afterLines(start, half);
      if (headEnd !== null && headEnd < start.length) {
        droppedBytes += start.length - headEnd;
        droppedBreaks += newlines(start, headEnd);
        start = start.subarray(0, headEnd);
      }
      const tailFrom = lastLinesFrom(end, this.maxLines - half);
      if (tailFrom > 0) {
        droppedBytes += tailFrom;
        droppedBreaks += newlines(end, 0, tailFrom);
        end = end.subarray(tailFrom);
      }
    }
    const marker =
      `${CUT_MARKER}${droppedBytes} bytes and ${droppedBreaks} line breaks dropped between the first and ` +
      `the last lines (cap ${this.maxLines} lines / ${this.maxBytes} bytes)`;
    return { lines: [...linesOf(start), marker, ...linesOf(end)], truncated: true };
  }
}

/** Whether the UTF-8 character starting at `at` ends inside `b`. */
function completeCharAt(b: Uint8Array, at: number): boolean {
  const lead = b[at]!;
  const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return at + size <= b.length;
}
