// A function's execution logs, deleted a batch at a time with the event loop free between
// batches, before the function (or its workspace) is deleted in one transaction. Deleted in that
// transaction, they held the main thread for every tenant: a review measured 161 ms for a
// function with 64 MB of logs (about 0.6 s at the 256-MiB log quota), and the database now zeroes
// what it deletes, which doubles that.

import type { MetadataStore } from '../store/ports.js';

/**
 * Logs deleted per transaction: a log may hold 64 KiB of printed lines, and 2,000 of those (the
 * quota's own batch) are 128 MiB deleted, and zeroed, in one step (a review).
 */
const BATCH = 250;
/** Later than any log's timestamp: every log is before it. */
const END_OF_TIME = '9999-12-31T23:59:59.999Z';

export async function purgeLogs(
  meta: Pick<MetadataStore, 'deleteFunctionLogsBefore'>,
  functionId: string,
): Promise<void> {
  while ((await meta.deleteFunctionLogsBefore(functionId, END_OF_TIME, BATCH)) >= BATCH) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}
