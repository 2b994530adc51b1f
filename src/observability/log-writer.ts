// Writes execution logs off the hot path: invocations append to an in-memory batch that is
// flushed to the store every few milliseconds or when it fills; close() flushes what is left, so
// none is lost on a graceful shutdown. Live tails subscribe here to hear each entry once it is
// stored, with the sequence number the store gave it: what a tail sends, it can resume after.
//
// When the store fails (a full disk), the logs wait in memory and writing backs off: appends stop
// triggering writes until a retry timer fires (1 s, doubling up to 30 s, reset on success), and each
// failed attempt is one log line. Without that, every append rewrote the whole growing backlog and
// logged a stack: 60× slower requests and megabytes of errors. The backlog is capped by count and
// by estimated bytes; past either cap the oldest entries are dropped and counted. close() reports
// what it could not write.

import { EventEmitter } from 'node:events';
import { getHeapStatistics } from 'node:v8';
import type { ExecutionLog, SequencedLog } from '../core/types.js';
import type { MetadataStore } from '../store/ports.js';

/** Time and timers, injectable so tests move them by hand. */
export interface WriterTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemTimers: WriterTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type WriterLogLevel = 'info' | 'warn' | 'error';

export interface LogWriterOptions {
  flushIntervalMs?: number;
  maxBatch?: number;
  /**
   * Most logs held while the store fails (default 100,000: ~55 MB of small logs); past it the
   * oldest are dropped and counted.
   */
  maxPending?: number;
  /**
   * Most estimated bytes (estimateLogBytes) held while the store fails; past it the oldest are
   * dropped and counted, as past maxPending. Default: 256 MiB, or an eighth of the V8 heap limit
   * when that is less. One log can hold 64 KiB of printed lines and two bodies: ~125 KB of heap, so
   * 100,000 of them were 12 GB, far past the heap; 256 MiB holds ~2,000 such logs (or 100,000 small
   * ones, where maxPending applies first). The newest log is kept whatever its size.
   */
  maxPendingBytes?: number;
  /** Wait after the first failed write (default 1 s); doubles per failure up to retryMaxMs (30 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** One line per failed write, per recovery and per loss at close: message and counts, no stack. */
  log?: (level: WriterLogLevel, fields: Record<string, unknown>, msg: string) => void;
  /** Hears each failed write (not each append) with the raw error and the backlog size. */
  onError?: (err: unknown, pending: number) => void;
  timers?: WriterTimers;
}

export interface LogWriterStats {
  /** Logs waiting to be written (not counting a write under way). */
  pending: number;
  /** Their estimated size in memory (estimateLogBytes), what maxPendingBytes bounds. */
  pendingBytes: number;
  /** Logs dropped over the writer's life because the backlog was full. */
  dropped: number;
  /** Whether the last write failed (writing is backing off). */
  failing: boolean;
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;
const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const MiB = 1024 * 1024;
export const DEFAULT_MAX_PENDING_BYTES = Math.min(
  256 * MiB,
  Math.floor(getHeapStatistics().heap_size_limit / 8),
);

// What estimateLogBytes charges beyond the characters, from heap snapshots of logs as the invoker
// makes them: a log with one short line and two small JSON bodies takes ~550 bytes (the object, its
// id and timestamp, the lines array, this writer's entry and slot); each printed line ~40 more (a
// string cut out of the output, and its slot). A string is 16 bytes and its characters.
const LOG_OVERHEAD = 512;
const LINE_OVERHEAD = 40;
const STRING_OVERHEAD = 16;

/**
 * Roughly what a log takes in memory, in bytes, computed once when it is appended: its printed
 * lines' characters and its bodies' (a JSON body walked: ~24 bytes an object, 8 a slot, 16 a
 * non-small number, keys and strings by their length), plus fixed overheads. Within ~20% of the
 * measured heap for Latin-1 text; text outside it takes two bytes a character, up to ~1.6× this.
 */
export function estimateLogBytes(log: ExecutionLog): number {
  let n = LOG_OVERHEAD + valueBytes(log.requestBody) + valueBytes(log.responseBody);
  for (const line of log.logs) n += LINE_OVERHEAD + line.length;
  return n;
}

function valueBytes(value: unknown): number {
  if (typeof value === 'string') return STRING_OVERHEAD + value.length;
  if (typeof value !== 'object' || value === null) return 0;
  // A parsed JSON body (its text within the body cap), walked without recursion: a few tens of ns
  // a value, ~0.2 µs for a small body, ~70 µs for 8 KiB of numbers, less than the store's
  // JSON.stringify of it.
  let n = 0;
  const stack: object[] = [value];
  for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
    if (Array.isArray(v)) {
      n += 16 + 8 * v.length;
      for (let i = 0; i < v.length; i++) n += itemBytes(v[i], stack);
    } else {
      n += 24;
      const keys = Object.keys(v);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        n += 8 + STRING_OVERHEAD + key.length + itemBytes((v as Record<string, unknown>)[key], stack);
      }
    }
  }
  return n;
}

/** A string or number's bytes; an object or array goes on `stack` to be walked. */
function itemBytes(item: unknown, stack: object[]): number {
  if (typeof item === 'string') return STRING_OVERHEAD + item.length;
  // Small integers live in their slot; other numbers are 16-byte heap objects.
  if (typeof item === 'number') return (item | 0) === item ? 0 : 16;
  if (typeof item === 'object' && item !== null) stack.push(item);
  return 0;
}

/** A waiting log and its estimateLogBytes, counted in and out of the backlog's sum. */
interface Pending {
  log: ExecutionLog;
  bytes: number;
}

export class ExecutionLogWriter {
  // Pending logs are backlog[start..]: dropping the oldest moves `start` instead of shift(), which
  // copies the whole array once it is large (~10 µs an append at 100,000).
  private backlog: Pending[] = [];
  private start = 0;
  /** estimateLogBytes summed over backlog[start..]. */
  private pendingBytes = 0;
  /** ...and over backlog[..start]: entries written or dropped that the array still holds. */
  private releasedBytes = 0;
  private timer: unknown;
  private retryTimer: unknown;
  private flushing: Promise<void> = Promise.resolve();
  /** A write queued behind the one under way; later requests join it instead of queueing more. */
  private queued: Promise<void> | undefined;
  private queuedForced = false;
  private readonly events = new EventEmitter();
  private readonly interval: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  private readonly retryMin: number;
  private readonly retryMax: number;
  private readonly timers: WriterTimers;
  private closed = false;
  /** Set while the store fails: when the failures began, the current wait, the last error. */
  private failingSince: number | undefined;
  private retryMs = 0;
  private lastError: unknown;
  private dropped = 0;
  /** Dropped since the last line that reported drops. */
  private droppedUnreported = 0;

  constructor(
    private readonly meta: Pick<MetadataStore, 'appendLogs'>,
    private readonly opts: LogWriterOptions = {},
  ) {
    // Short: each flush is one transaction that holds the event loop; ~100 rows at a time (at
    // ~9k invocations/s) keep that near 1 ms, where 50 ms batches made ~5 ms stalls.
    this.interval = opts.flushIntervalMs ?? 10;
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxPending = Math.max(1, opts.maxPending ?? 100_000);
    this.maxPendingBytes = Math.max(1, opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES);
    this.retryMin = opts.retryMinMs ?? 1_000;
    this.retryMax = Math.max(this.retryMin, opts.retryMaxMs ?? 30_000);
    this.timers = opts.timers ?? systemTimers;
    this.events.setMaxListeners(0);
  }

  append(log: ExecutionLog): void {
    if (this.closed) {
      // Nothing would write it: said and counted, not kept in a backlog nobody reads.
      this.dropped++;
      this.opts.log?.(
        'error',
        { functionId: log.functionId, logId: log.id },
        'an execution log came after the log writer closed: it is lost',
      );
      return;
    }
    const bytes = estimateLogBytes(log);
    this.backlog.push({ log, bytes });
    this.pendingBytes += bytes;
    this.trim();
    // Backing off: the retry timer writes them.
    if (this.failingSince !== undefined) return;
    if (this.pending >= this.maxBatch) void this.write(false);
    else this.schedule();
  }

  /**
   * Calls listener with every log of the function the store takes from now on, in the order of
   * their sequence numbers; returns the unsubscribe function.
   */
  subscribe(functionId: string, listener: (entry: SequencedLog) => void): () => void {
    this.events.on(functionId, listener);
    return () => this.events.off(functionId, listener);
  }

  /**
   * Writes everything appended so far, even while backing off; resolves when it is in the store
   * or the write failed (the logs then wait for the retry).
   */
  flush(): Promise<void> {
    return this.write(true);
  }

  stats(): LogWriterStats {
    return {
      pending: this.pending,
      pendingBytes: this.pendingBytes,
      dropped: this.dropped,
      failing: this.failingSince !== undefined,
    };
  }

  /** Writes what is left (one attempt) and stops; `lost` is how many logs could not be written. */
  async close(): Promise<{ lost: number }> {
    this.closed = true;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.write(true);
    const lost = this.pending;
    if (lost > 0) {
      const error = this.lastError === undefined ? undefined : describe(this.lastError);
      this.opts.log?.(
        'error',
        { lost, dropped: this.dropped, error },
        `lost ${lost} execution logs at shutdown` + (error ? `: the store is failing (${error})` : ''),
      );
    }
    this.events.removeAllListeners();
    return { lost };
  }

  private get pending(): number {
    return this.backlog.length - this.start;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed || this.pending === 0) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.write(false);
    }, this.interval);
  }

  /** Queues a write; `force` tries even while backing off (flush, close, the retry timer). */
  private write(force: boolean): Promise<void> {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.queuedForced ||= force;
    if (this.queued) return this.queued;
    // Writes run one after another so that a store sees them in order; each takes the backlog as
    // it is when it starts, so a failed batch is back at the front before the next one begins.
    const queued = this.flushing.then(() => {
      this.queued = undefined;
      const forced = this.queuedForced;
      this.queuedForced = false;
      return this.drain(forced);
    });
    this.queued = queued;
    this.flushing = queued;
    return queued;
  }

  private async drain(force: boolean): Promise<void> {
    if (this.failingSince !== undefined && !force) return;
    while (this.pending > 0) {
      const batch = this.take();
      let stored: SequencedLog[];
      try {
        stored = await this.meta.appendLogs(batch.map((p) => p.log));
      } catch (err) {
        // Put them back for the next attempt rather than dropping them.
        this.backlog = batch.concat(this.backlog.slice(this.start));
        this.start = 0;
        this.releasedBytes = 0;
        for (const p of batch) this.pendingBytes += p.bytes;
        this.trim();
        this.failed(err);
        return;
      }
      this.recovered();
      this.announce(stored);
      // A backlog left by an outage goes out a batch at a time with the event loop free between;
      // a normal remainder waits for the interval like any other entry.
      if (this.pending < (force ? 1 : this.maxBatch)) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.schedule();
  }

  /** Takes up to maxBatch pending logs off the front. */
  private take(): Pending[] {
    if (this.start === 0 && this.backlog.length <= this.maxBatch) {
      const all = this.backlog;
      this.backlog = [];
      this.pendingBytes = 0;
      return all;
    }
    const end = Math.min(this.backlog.length, this.start + this.maxBatch);
    const batch = this.backlog.slice(this.start, end);
    this.release(end);
    this.compact();
    return batch;
  }

  /** Drops the oldest logs past maxPending or maxPendingBytes (the newest stays). */
  private trim(): void {
    const first = this.start;
    if (this.pending > this.maxPending) this.release(this.backlog.length - this.maxPending);
    while (this.pendingBytes > this.maxPendingBytes && this.pending > 1) this.release(this.start + 1);
    const excess = this.start - first;
    if (excess === 0) return;
    this.dropped += excess;
    this.droppedUnreported += excess;
    this.compact();
  }

  /** Moves the front of the pending logs up to `end`, out of the sum. */
  private release(end: number): void {
    for (let i = this.start; i < end; i++) {
      const { bytes } = this.backlog[i]!;
      this.pendingBytes -= bytes;
      this.releasedBytes += bytes;
    }
    this.start = end;
  }

  // Cuts the consumed front off every ~1,000 entries, or sooner once it holds an eighth of
  // maxPendingBytes (large logs): cheap per entry, and little held for nothing.
  private compact(): void {
    if (this.start === this.backlog.length) {
      this.backlog = [];
      this.start = 0;
      this.pendingBytes = 0;
      this.releasedBytes = 0;
    } else if (
      this.start >= Math.min(1024, this.maxPending) ||
      this.releasedBytes > this.maxPendingBytes / 8
    ) {
      this.backlog = this.backlog.slice(this.start);
      this.start = 0;
      this.releasedBytes = 0;
    }
  }

  /**
   * Tells the subscribers. A listener that throws must not make a stored batch look failed: it
   * would be written again under new numbers.
   */
  private announce(stored: SequencedLog[]): void {
    for (const entry of stored) {
      try {
        this.events.emit(entry.log.functionId, entry);
      } catch (err) {
        this.opts.log?.('error', { error: describe(err) }, `a live-tail listener failed: ${describe(err)}`);
      }
    }
  }

  private failed(err: unknown): void {
    this.lastError = err;
    this.opts.onError?.(err, this.pending);
    // close() reports what this last attempt leaves behind.
    if (this.closed) return;
    const now = this.timers.now();
    this.failingSince ??= now;
    this.retryMs = this.retryMs === 0 ? this.retryMin : Math.min(this.retryMs * 2, this.retryMax);
    const fields = {
      error: describe(err),
      pending: this.pending,
      dropped: this.droppedUnreported,
      failingForMs: now - this.failingSince,
      retryInMs: this.retryMs,
    };
    const next = `${this.pending} waiting, next try in ${seconds(this.retryMs)}`;
    if (this.droppedUnreported > 0) {
      this.opts.log?.(
        'error',
        fields,
        `dropped ${this.droppedUnreported} execution logs: the store has been failing for ` +
          `${seconds(now - this.failingSince)} (${describe(err)}); ${next}`,
      );
      this.droppedUnreported = 0;
    } else {
      this.opts.log?.('warn', fields, `could not write execution logs: ${describe(err)}; ${next}`);
    }
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = undefined;
      void this.write(true);
    }, this.retryMs);
  }

  private recovered(): void {
    if (this.failingSince === undefined) return;
    const failedForMs = this.timers.now() - this.failingSince;
    const dropped = this.droppedUnreported;
    this.opts.log?.(
      dropped > 0 ? 'error' : 'info',
      { failedForMs, pending: this.pending, dropped },
      `execution logs are being written again after ${seconds(failedForMs)} of store failures` +
        (dropped > 0 ? `; dropped ${dropped} of them` : ''),
    );
    this.failingSince = undefined;
    this.lastError = undefined;
    this.retryMs = 0;
    this.droppedUnreported = 0;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
