// Runs SQLite WAL checkpoints on a worker thread (checkpoint-worker.ts) instead of on the serving
// connection, so that execution-log writes under load never wait for a checkpoint's copy + fsync.
import { Worker } from 'node:worker_threads';

export class Checkpointer {
  private readonly worker: Worker;

  /** `onError` hears of failed checkpoints (the next one retries) and of the worker's death. */
  constructor(path: string, intervalMs: number, onError: (message: string) => void = () => undefined) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { path, intervalMs },
    });
    this.worker.on('message', (m: { error?: string }) => {
      if (typeof m.error === 'string') onError(`WAL checkpoint failed: ${m.error}`);
    });
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
