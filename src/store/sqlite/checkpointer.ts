// Runs SQLite WAL checkpoints on a worker thread (checkpoint-worker.ts) instead of on the serving
// connection, so that execution-log writes under load never wait for a checkpoint's copy + fsync.
import { Worker } from 'node:worker_threads';

export class Checkpointer {
  private readonly worker: Worker;
  /** The last failure the worker reported, for diagnostics. */
  lastError: string | null = null;

  constructor(path: string, intervalMs: number) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { path, intervalMs },
    });
    this.worker.on('message', (m: { error?: string }) => {
      if (typeof m.error === 'string') this.lastError = m.error;
    });
    this.worker.on('error', (err) => {
      this.lastError = err.message;
    });
    // The worker must never keep the process alive on its own.
    this.worker.unref();
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
