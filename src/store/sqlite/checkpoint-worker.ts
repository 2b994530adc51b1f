// Worker-thread entry of the background checkpointer: its own connection to the database file,
// copying the WAL back into the main file every few hundred milliseconds. A checkpoint copies
// megabytes and fsyncs; done by the serving connection it stalled the event loop for ~15 ms every
// couple of seconds under load. PASSIVE never waits for, or blocks, the writer.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new Database(path);
db.pragma('busy_timeout = 1000');

let failed = false;
setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    // Said once after failures, so that the parent can say they are over.
    if (failed) parentPort?.postMessage({ ok: true });
    failed = false;
  } catch (err) {
    failed = true;
    // Busy or I/O trouble: the next tick tries again; the serving connection's own (rare)
    // auto-checkpoint still bounds the WAL if this one keeps failing.
    parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}, intervalMs);
