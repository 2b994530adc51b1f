// Runs SQLite WAL checkpoints on a worker thread (checkpoint-worker.ts) instead of on the serving
// connection, so that execution-log writes under load never wait for a checkpoint's copy + fsync.
import { Worker } from 'node:worker_threads';

/** How often a checkpoint that keeps failing is said again. */
const REPEAT_MS = 60_000;

export class Checkpointer {
  private readonly worker: Worker;

  /** `onError` hears of failed checkpoints (the next one retries) and of the worker's death. */
  constructor(path: string, intervalMs: number, onError: (message: string) => void = () => undefined) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { path, intervalMs },
    });
    this.worker.on('message', checkpointReports(onError));
    this.worker.on('error', (err) => {
      onError(
        `WAL checkpointer stopped: ${err.message}; only the serving connection's own checkpoint at a 64 MB WAL remains`,
      );
    });
    // The worker must never keep the process alive on its own.
    this.worker.unref();
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * What the parent says of the worker's messages. A full disk fails every checkpoint, twice a
 * second: said once, then once a minute with a count, and once more when one succeeds again.
 */
export function checkpointReports(
  say: (message: string) => void,
  now: () => number = Date.now,
): (m: { error?: string; ok?: boolean }) => void {
  let failing = 0;
  let saidAt = 0;
  return (m) => {
    if (typeof m.error !== 'string') {
      if (failing > 0 && m.ok === true) say(`WAL checkpoints work again after ${failing} failed`);
      if (m.ok === true) failing = 0;
      return;
    }
    failing++;
    if (failing > 1 && now() - saidAt < REPEAT_MS) return;
    saidAt = now();
    say(`WAL checkpoint failed${failing > 1 ? ` (${failing} in a row)` : ''}: ${m.error}`);
  };
}
