// Live tail of a function's execution logs as Server-Sent Events: the recent backlog first, then
// every new entry once the writer has stored it, until the client leaves, the server stops or the
// function is found deleted (an `event: deleted`, then the end). Each entry's SSE id is its store
// sequence number encrypted for its function (tail-ids.ts: the bare number, shared by every
// workspace, told one tenant how much the others log), so a client that reconnects with
// Last-Event-ID gets exactly what it missed, and learns nothing else. A
// comment line every few seconds keeps proxies from closing an idle stream; each of those beats
// also asks whether the function is still there, since deletes are not announced to this module.
// Tails are capped per workspace, and a client that stops reading is cut off instead of being
// buffered for (TailLimits). Each new log is encoded once, however many tails send it.

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { EunhaError } from '../core/errors.js';
import { KeyedCount } from '../core/keyed-count.js';
import type { ExecutionLog, LogTailPage, SequencedLog } from '../core/types.js';
import type { ExecutionLogWriter } from './log-writer.js';
import type { TailIdKey, TailIds } from './tail-ids.js';

/** What a tail's `event: log` shows: the JSON listing's fields, whose schema leaves the workspace out. */
export type ShownLog = Omit<ExecutionLog, 'workspaceId'>;

/** The head of every live tail; a HEAD request gets the same without a stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
} as const;

export interface TailOptions {
  /** Extra response headers (request id, CORS, framing). */
  headers?: OutgoingHttpHeaders | Record<string, string | number | string[] | undefined>;
  /** False once the function (or its workspace) is gone; a rejection counts as "still there". */
  exists?: () => Promise<boolean>;
  /**
   * False once the caller's key no longer works (revoked): asked every `authCheckMs`, since a
   * revoked key must stop receiving logs too, not only making requests. A rejection counts as no.
   */
  allowed?: () => Promise<boolean>;
}

/**
 * A tail's subscription, taken before its backlog is read from the store: a log written in
 * between is then either in the store's page, still in the writer, or heard here. Until the
 * stream starts, what is heard is kept.
 */
export class Listening {
  private heard: SequencedLog[] = [];
  private deliver: ((entry: SequencedLog) => void) | null = null;
  readonly close: () => void;

  constructor(
    writer: ExecutionLogWriter,
    readonly functionId: string,
    /** This function's event ids: what the stream sends, and how the route reads Last-Event-ID. */
    readonly ids: TailIds,
    release: () => void = () => undefined,
  ) {
    const unsubscribe = writer.subscribe(functionId, (entry) =>
      this.deliver ? this.deliver(entry) : this.heard.push(entry),
    );
    this.close = () => {
      unsubscribe();
      release();
    };
  }

  /** What was heard so far; from now on each new log goes to `deliver`. */
  start(deliver: (entry: SequencedLog) => void): SequencedLog[] {
    this.deliver = deliver;
    const heard = this.heard;
    this.heard = [];
    return heard;
  }
}

export interface TailLimits {
  /** Open tails per workspace; one more is RATE_LIMITED. */
  perWorkspace: number;
  /**
   * Bytes a tail may have written that its client has not read yet. A client that does not read
   * (or reads slower than its function logs) is cut off past this: before, every log it missed
   * stayed in the server's memory, and a dozen such tails ran the server out of heap in seconds.
   */
  maxUnreadBytes: number;
}

export const DEFAULT_TAIL_LIMITS: TailLimits = { perWorkspace: 16, maxUnreadBytes: 4 * 1024 * 1024 };

export class LiveTails {
  private readonly open = new Set<() => void>();
  private readonly perWorkspace = new KeyedCount();

  constructor(
    private readonly writer: ExecutionLogWriter,
    private readonly ids: TailIdKey,
    private readonly heartbeatMs = 15_000,
    private readonly authCheckMs = 1_000,
    private readonly limits: TailLimits = DEFAULT_TAIL_LIMITS,
    /** Encodes a log's `data:` (tests count the calls). */
    private readonly encode: (log: ShownLog) => string = JSON.stringify,
  ) {}

  /**
   * The `event: log` frames of the entries the writer announced, by entry: every tail of the
   * function hears that same object, and encoding it once per tail cost the main thread as many
   * times a log's size (16 tails of a function printing 64 KiB a call cut the calls it served from
   * 987 to 201, a review). Weak: a frame lives as long as some tail still holds its entry. The
   * frame's id depends on the entry's function alone (tail-ids.ts), so every tail of it sends the
   * same bytes.
   */
  private readonly frames = new WeakMap<SequencedLog, Buffer>();

  private encodeFrame(
    { seq, log: { workspaceId: _workspace, ...shown } }: SequencedLog,
    ids: TailIds,
  ): Buffer {
    return Buffer.from(`id: ${ids.id(seq)}\nevent: log\ndata: ${this.encode(shown)}\n\n`);
  }

  private sharedFrame(entry: SequencedLog, ids: TailIds): Buffer {
    let frame = this.frames.get(entry);
    if (frame === undefined) {
      frame = this.encodeFrame(entry, ids);
      this.frames.set(entry, frame);
    }
    return frame;
  }

  /**
   * Start listening for the function's new logs; read the backlog after this. Counts against the
   * workspace's open tails until `close()` of the returned Listening (stream() closes it).
   */
  listen(workspaceId: string, functionId: string): Listening {
    const open = this.perWorkspace.count(workspaceId);
    if (open >= this.limits.perWorkspace) {
      throw new EunhaError(
        'RATE_LIMITED',
        `this workspace has ${open} live tails open, the most allowed; close one first`,
        { limit: this.limits.perWorkspace },
        { 'retry-after': '15' },
      );
    }
    return new Listening(
      this.writer,
      functionId,
      this.ids.forFunction(workspaceId, functionId),
      this.perWorkspace.take(workspaceId),
    );
  }

  /**
   * Takes over the raw response; resolves when the stream ends. `backlog` is the store's page read
   * after listening began. `resumed`: the page holds what the client missed after its
   * Last-Event-ID, and when it could not hold all of it (`more`) an `event: gap` says so first.
   */
  stream(
    res: ServerResponse,
    listening: Listening,
    backlog: LogTailPage,
    resumed: boolean,
    opts: TailOptions = {},
  ): Promise<void> {
    const { functionId, ids } = listening;
    res.writeHead(200, {
      ...opts.headers,
      ...SSE_HEADERS,
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Node holds the head back until the first body bytes; with no backlog those would be the
    // first heartbeat, and the client would wait that long to learn the tail is open.
    res.write(': connected\n\n');
    if (resumed && backlog.more) {
      // No id: the client's last event id stays where it was.
      const message =
        'some logs stored since the last event id are not sent: more than one backlog holds, or deleted since by the quota or retention; the listing has what is kept';
      res.write(`event: gap\ndata: ${JSON.stringify({ functionId, message })}\n\n`);
    }
    // The backlog goes out in one go (a page is capped by the store); the unread allowance counts
    // from what it left waiting, so a client is judged on keeping up with new logs.
    let backlogLeft = Infinity;
    let last = 0;
    // A backlog is this tail's own read of the store, so its frames are not shared (nor kept: the
    // route holds its page while the stream lasts).
    const send = (entry: SequencedLog, heard = true): void => {
      // Heard while the page was read, and in it too: sequence numbers only grow.
      if (res.destroyed || entry.seq <= last) return;
      last = entry.seq;
      res.write(heard ? this.sharedFrame(entry, ids) : this.encodeFrame(entry, ids));
      if (res.writableLength > backlogLeft + this.limits.maxUnreadBytes) res.destroy();
    };
    // Everything stored before the page was read is in it; everything after was heard.
    const heard = listening.start(send);
    for (const entry of backlog.logs) send(entry, false);
    for (const entry of heard) send(entry);
    backlogLeft = res.writableLength;
    const unsubscribe = listening.close;
    return new Promise((resolve) => {
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        clearInterval(authCheck);
        unsubscribe();
        this.open.delete(end);
        if (!res.writableEnded) res.end();
        resolve();
      };
      /**
       * Every `ms`, asks `check` (one question at a time: a slow store must not pile them up); a
       * no ends the stream with `event`, a yes calls `onYes`.
       */
      const every = (
        ms: number,
        check: () => Promise<boolean>,
        event: string,
        message: string,
        onYes?: () => void,
      ): NodeJS.Timeout => {
        let asking = false;
        return setInterval(() => {
          if (asking) return;
          asking = true;
          void check().then((yes) => {
            asking = false;
            if (ended) return;
            if (yes) return onYes?.();
            res.write(`event: ${event}\ndata: ${JSON.stringify({ functionId, message })}\n\n`);
            end();
          });
        }, ms);
      };
      const { exists, allowed } = opts;
      const heartbeat = every(
        this.heartbeatMs,
        () => (exists ? exists().catch(() => true) : Promise.resolve(true)),
        'deleted',
        'the function was deleted',
        () => res.write(': keep-alive\n\n'),
      );
      const authCheck = allowed
        ? every(
            this.authCheckMs,
            () => allowed().catch(() => false),
            'unauthorized',
            'the key this tail was opened with no longer works',
          )
        : undefined;
      this.open.add(end);
      res.on('close', end);
      // The client may have left while the backlog was read; 'close' has been and gone then.
      if (res.destroyed) end();
    });
  }

  /** Ends every open stream (server shutdown). */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}
