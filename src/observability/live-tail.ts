// Live tail of a function's execution logs as Server-Sent Events: the recent backlog first, then
// every new entry as the writer sees it, until the client leaves, the server stops or the function
// is found deleted (an `event: deleted`, then the end). A comment line every few seconds keeps
// proxies from closing an idle stream; each of those beats also asks whether the function is
// still there, since deletes are not announced to this module.

import type { ServerResponse } from 'node:http';
import type { ExecutionLog } from '../core/types.js';
import type { ExecutionLogWriter } from './log-writer.js';

/** The head of every live tail; a HEAD request gets the same without a stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
} as const;

export interface TailOptions {
  /** Extra response headers (request id, CORS). */
  headers?: Record<string, string>;
  /** False once the function (or its workspace) is gone; a rejection counts as "still there". */
  exists?: () => Promise<boolean>;
  /**
   * False once the caller's key no longer works (revoked): asked every `authCheckMs`, since a
   * revoked key must stop receiving logs too, not only making requests. A rejection counts as no.
   */
  allowed?: () => Promise<boolean>;
}

export class LiveTails {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly writer: ExecutionLogWriter,
    private readonly heartbeatMs = 15_000,
    private readonly authCheckMs = 1_000,
  ) {}

  /** Takes over the raw response; resolves when the stream ends. */
  stream(
    res: ServerResponse,
    functionId: string,
    backlog: ExecutionLog[],
    opts: TailOptions = {},
  ): Promise<void> {
    res.writeHead(200, {
      ...opts.headers,
      ...SSE_HEADERS,
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Node holds the head back until the first body bytes; with no backlog those would be the
    // first heartbeat, and the client would wait that long to learn the tail is open.
    res.write(': connected\n\n');
    const send = (log: ExecutionLog) =>
      res.write(`id: ${log.id}\nevent: log\ndata: ${JSON.stringify(log)}\n\n`);
    for (const log of backlog) send(log);
    const unsubscribe = this.writer.subscribe(functionId, send);
    return new Promise((resolve) => {
      let ended = false;
      let checking = false;
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
      const beat = async () => {
        // A slow store must not pile checks up behind one another.
        if (checking) return;
        checking = true;
        const there = opts.exists ? await opts.exists().catch(() => true) : true;
        checking = false;
        if (ended) return;
        if (there) {
          res.write(': keep-alive\n\n');
          return;
        }
        res.write(
          `event: deleted\ndata: ${JSON.stringify({ functionId, message: 'the function was deleted' })}\n\n`,
        );
        end();
      };
      const heartbeat = setInterval(() => void beat(), this.heartbeatMs);
      let authChecking = false;
      const authCheck = setInterval(() => {
        if (!opts.allowed || authChecking) return;
        authChecking = true;
        void opts
          .allowed()
          .catch(() => false)
          .then((ok) => {
            authChecking = false;
            if (ok || ended) return;
            res.write(
              `event: unauthorized\ndata: ${JSON.stringify({ functionId, message: 'the key this tail was opened with no longer works' })}\n\n`,
            );
            end();
          });
      }, this.authCheckMs);
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
