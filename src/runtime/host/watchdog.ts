// Worker thread inside a sandbox host: while Python runs on the host's main thread (which then
// cannot run timers), this thread watches the armed deadline and raises SIGINT in the interpreter
// through Pyodide's interrupt buffer. The parent kills the whole process if that is not enough.

import { workerData } from 'node:worker_threads';

const { ctl, intr } = workerData as { ctl: SharedArrayBuffer; intr: SharedArrayBuffer };
const deadline = new Float64Array(ctl); // [0]: epoch ms of the deadline, 0 when disarmed
const interrupt = new Int32Array(intr);
const nap = new Int32Array(new SharedArrayBuffer(4));
const SIGINT = 2;

for (;;) {
  const at = deadline[0] ?? 0;
  const now = Date.now();
  if (at > 0 && now >= at) {
    Atomics.store(interrupt, 0, SIGINT);
    deadline[0] = 0;
  }
  // Poll instead of being notified per invocation: arming then costs one store, not a wake-up.
  Atomics.wait(nap, 0, 0, at > 0 ? Math.max(1, Math.min(20, at - now)) : 20);
}
