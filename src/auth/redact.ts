// Keeps a function's secret values out of its execution log: every literal occurrence in what it
// printed, in the request and response bodies and in error messages becomes the mask. Longest
// values go first, so a secret that contains another is masked whole. A body holds a secret
// written by json.dumps as well: escaped (quotes, backslashes, newlines) and, by Python's default,
// with non-ASCII as \uXXXX; those spellings are masked too. Printed output is masked as one text,
// so a secret with a newline in it (a PEM key) is found across the lines it spans.
//
// Values shorter than MIN_MASKED_CHARS are not masked: a review's secret "a" turned "banana" into
// "b********n********n********" in every log, which garbled them and gave the secret away anyway.

import { CUT_MARKER } from '../runtime/output.js';
import { MASK } from './secrets.js';

/** The shortest secret value that is masked. */
export const MIN_MASKED_CHARS = 4;
/**
 * How much comparing a cut output's edges with the secrets may cost (in characters compared) before
 * the edges are masked as far as the longest secret reaches, whatever they hold: a function's author
 * chooses both its secrets and its output, and could otherwise make the search quadratic. It runs on
 * the server's main thread: 4,000,000 let crafted secrets cost 1.6–3.7 ms a call (a review).
 */
const CUT_SEARCH_BUDGET = 500_000;

export class Redactor {
  /** Each secret as is and as JSON spells it, longest first. */
  private readonly spellings: string[];
  private readonly bytes: Buffer[];
  private readonly mask = Buffer.from(MASK, 'utf8');
  /** The longest spelling, in bytes. */
  private readonly longest: number;
  /** The longest spelling, in UTF-16 units. */
  private readonly longestChars: number;

  constructor(secrets: Iterable<string>) {
    const values = [...secrets].filter((s) => s.length >= MIN_MASKED_CHARS);
    this.spellings = [...new Set(values.flatMap((v) => [v, ...jsonSpellings(v)]))].sort(
      (a, b) => b.length - a.length,
    );
    this.bytes = this.spellings.map((v) => Buffer.from(v, 'utf8'));
    this.longest = Math.max(0, ...this.bytes.map((b) => b.length));
    this.longestChars = Math.max(0, ...this.spellings.map((v) => v.length));
  }

  get empty(): boolean {
    return this.spellings.length === 0;
  }

  /** Text: printed lines (a function may print json.dumps of its config), error messages. */
  text(s: string): string {
    let out = s;
    for (const v of this.spellings) if (out.includes(v)) out = out.split(v).join(MASK);
    return out;
  }

  /**
   * Printed lines, masked as one text (a secret may span lines); the mask takes one line. Output
   * past its cap comes as a kept start, the collector's marker line and a kept end (output.ts):
   * each is masked on its own, and a secret the cut went through is masked too, the part of it
   * that ends the start or begins the end (a review found 10 of a secret's 31 characters, unmasked,
   * at the end of a log cut inside it). The guest can print a line that looks like the marker, so
   * every such line is taken for a cut, and masked itself: trusting the first one let a function
   * print its secret in a forged marker, and moved the edge masking away from the real cut.
   */
  lines(lines: string[]): string[] {
    if (this.empty) return lines;
    if (!lines.some((l) => l.startsWith(CUT_MARKER))) return this.joined(lines);
    const budget = { left: CUT_SEARCH_BUDGET };
    const out: string[] = [];
    let from = 0;
    for (let i = 0; i <= lines.length; i++) {
      if (i < lines.length && !lines[i]!.startsWith(CUT_MARKER)) continue;
      // A segment between cuts (or the ends): masked whole, then at each edge a cut made.
      let segment = this.joined(lines.slice(from, i));
      if (from > 0) segment = this.cutStart(segment, budget);
      if (i < lines.length) segment = this.cutEnd(segment, budget);
      out.push(...segment);
      if (i < lines.length) out.push(this.text(lines[i]!));
      from = i + 1;
    }
    return out;
  }

  private joined(lines: string[]): string[] {
    const joined = lines.join('\n');
    const masked = this.text(joined);
    return masked === joined ? lines : masked.split('\n');
  }

  /** The kept start of a cut output, with the first part of a secret that ends it masked. */
  private cutEnd(lines: string[], budget: { left: number }): string[] {
    const s = lines.join('\n');
    let cut = s.length;
    for (const v of this.spellings) {
      const w = s.slice(-(v.length - 1));
      // The longest end of `w` that begins `v`: the leftmost place where `v` could start.
      for (let p = w.indexOf(v[0]!); p >= 0; p = w.indexOf(v[0]!, p + 1)) {
        budget.left -= w.length - p;
        if (budget.left < 0) return this.masked(s, Math.max(0, s.length - (this.longestChars - 1)), s.length);
        if (v.startsWith(w.slice(p))) {
          cut = Math.min(cut, s.length - (w.length - p));
          break;
        }
      }
    }
    return cut === s.length ? lines : this.masked(s, cut, s.length);
  }

  /** The kept end of a cut output, with the last part of a secret that begins it masked. */
  private cutStart(lines: string[], budget: { left: number }): string[] {
    const s = lines.join('\n');
    let cut = 0;
    for (const v of this.spellings) {
      const w = s.slice(0, v.length - 1);
      // The longest start of `w` that ends `v`: the rightmost place where `v` could end.
      for (let q = w.lastIndexOf(v.at(-1)!); q >= 0; q = q > 0 ? w.lastIndexOf(v.at(-1)!, q - 1) : -1) {
        budget.left -= q + 1;
        if (budget.left < 0) return this.masked(s, 0, Math.min(s.length, this.longestChars - 1));
        if (v.endsWith(w.slice(0, q + 1))) {
          cut = Math.max(cut, q + 1);
          break;
        }
      }
    }
    return cut === 0 ? lines : this.masked(s, 0, cut);
  }

  private masked(s: string, from: number, to: number): string[] {
    return (s.slice(0, from) + MASK + s.slice(to)).split('\n');
  }

  /** Any JSON-like value: strings (and object keys) anywhere inside it. */
  value(v: unknown): unknown {
    if (this.empty) return v;
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [this.text(k), this.value(x)]));
    }
    return v;
  }

  /**
   * Raw bytes, masked before the log cuts them to `keep` bytes, so that no secret survives
   * half-cut at the edge. Only as much as can reach those `keep` bytes is masked and returned
   * (more than `keep`, so the cut still shows): every spelling was looked for through the whole
   * body, on the server's main thread, and a review's function with 768 spellings of 32-KiB
   * secrets and 6-MiB bodies held it for 0.3 s a call, every tenant's calls and /health with it.
   */
  buffer(b: Uint8Array, keep = Infinity): Uint8Array {
    if (this.empty) return b;
    const whole = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    // Masks shrink what they cover, so a window may fall short of `keep`: then a larger one.
    for (let window = keep + this.longest; window < whole.length; window *= 2) {
      const masked = this.maskAll(whole.subarray(0, window));
      // A secret the window's end cut through may have left its first bytes at the end.
      const sure = masked.subarray(0, Math.max(0, masked.length - (this.longest - 1)));
      if (sure.length > keep) return sure;
    }
    return this.maskAll(whole);
  }

  private maskAll(bytes: Buffer): Buffer {
    let buf = bytes;
    for (const needle of this.bytes) {
      if (buf.indexOf(needle) < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, from)) {
        parts.push(buf.subarray(from, at), this.mask);
        from = at + needle.length;
      }
      parts.push(buf.subarray(from));
      buf = Buffer.concat(parts);
    }
    return buf;
  }
}

/** How json.dumps (and JSON.stringify) may spell `v` inside a string literal, when not as is. */
function jsonSpellings(v: string): string[] {
  const escaped = JSON.stringify(v).slice(1, -1);
  // Python's ensure_ascii: DEL and every UTF-16 unit past ASCII as \uXXXX (lower-case hex).
  const ascii = escaped.replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return [escaped, ascii].filter((s) => s !== v);
}
