// Live tail of a function's execution logs as Server-Sent Events: the recent backlog first, then
// every new entry as the writer sees it, until the client leaves or the server stops. A comment
// line every few seconds keeps proxies from closing an idle stream.

import type { ServerResponse } from 'node:http';
import type { ExecutionLog } from '../core/types.js';
import type { ExecutionLogWriter } from './log-writer.js';

export class LiveTails {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly writer: ExecutionLogWriter,
    private readonly heartbeatMs = 15_000,
  ) {}

  /** Takes over the raw response; resolves when the stream ends. */
  stream(
    res: ServerResponse,
    functionId: string,
    backlog: ExecutionLog[],
    headers: Record<string, string> = {},
  ): Promise<void> {
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (log: ExecutionLog) =>
      res.write(`id: ${log.id}\nevent: log\ndata: ${JSON.stringify(log)}\n\n`);
    for (const log of backlog) send(log);
    const unsubscribe = this.writer.subscribe(functionId, send);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), this.heartbeatMs);
    return new Promise((resolve) => {
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
        this.open.delete(end);
        if (!res.writableEnded) res.end();
        resolve();
      };
      this.open.add(end);
      res.on('close', end);
    });
  }

  /** Ends every open stream (server shutdown). */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}
