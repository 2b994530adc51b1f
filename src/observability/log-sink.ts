// Where the process's own log lines go: stdout, written synchronously, as pino's own destination
// does. Writing there can fail: a full disk under the file it is redirected to (ENOSPC), a reader
// that went away (EPIPE). Through process.stdout such an error was an unhandled 'error' event that
// killed the server at its next request, and with it every execution log still waiting for the
// store (a review: 775 calls answered on a full disk, none of them logged); and once errored, that
// stream never wrote again. Here a line that cannot be written is dropped and counted
// (eunha_process_log_lines_dropped_total), the server goes on, and lines are written again as soon
// as the destination takes them (the disk has room again).

import { writeSync } from 'node:fs';

/** How long a line may wait for a full pipe (EAGAIN) before it is dropped. */
const FULL_PIPE_WAIT_MS = 500;
const PAUSE_MS = 10;

let dropped = 0;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Lines dropped since the process started, by every sink. */
export const droppedProcessLogLines = (): number => dropped;

export class LogSink {
  constructor(private readonly fd = 1) {}

  /** pino's destination interface. */
  write(line: string): void {
    const bytes = Buffer.from(line, 'utf8');
    let done = 0;
    let waited = 0;
    try {
      while (done < bytes.length) {
        try {
          done += writeSync(this.fd, bytes, done);
        } catch (err) {
          // A pipe its reader has not emptied (stdout made non-blocking by libuv): wait a little.
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || waited >= FULL_PIPE_WAIT_MS) throw err;
          Atomics.wait(pause, 0, 0, PAUSE_MS);
          waited += PAUSE_MS;
        }
      }
    } catch {
      dropped++;
    }
  }
}
