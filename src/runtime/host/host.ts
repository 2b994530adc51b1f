// Entry of a sandbox host process: the main thread of a process that holds the sandboxes of one
// workspace, each a worker thread (sandbox-thread.ts) with its own interpreter and its own channel to the
// parent. The parent spawns it with an empty environment, in an empty directory, under a uid of
// its own and without network where it can, with a control channel on fd 3, the snapshot on fd 4
// and one channel per slot from fd 5 on. This thread runs no guest code: it starts a sandbox in a
// slot when told, terminates one when told (the timeout kill), and reports each one's end.

import fs from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import {
  CONTROL_FD,
  FIRST_SLOT_FD,
  FrameReader,
  SNAPSHOT_FD,
  encodeFrame,
  type Header,
} from '../protocol.js';
import { disarmSpawnAndNetwork } from './lockdown.js';
import type { SandboxData } from './sandbox-thread.js';
import { readZoneinfo } from './zoneinfo.js';

const sandboxScript = new URL('./sandbox-thread.js', import.meta.url);

disarmSpawnAndNetwork();
// The server ends its hosts when its graceful stop is done, and its control channel ends with the
// server even when it is killed. A terminal's Ctrl-C, a kill of the process group, `timeout` or
// systemd's stop of the control group signal the hosts at the same moment as the server: obeyed,
// they cut the requests the server was still finishing (a review: three of three got 502).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
// Read once per process, copied to each sandbox it starts.
const zoneinfo = readZoneinfo();

const control = new net.Socket({ fd: CONTROL_FD, readable: true, writable: true });
const reader = new FrameReader();
const workers = new Map<number, Worker>();

const send = (h: Header): void => {
  control.write(encodeFrame(h));
};

function start(slot: number, header: Header): void {
  if (!Number.isInteger(slot) || slot < 0 || workers.has(slot)) return;
  const data: SandboxData = {
    fd: FIRST_SLOT_FD + slot,
    snapshotFd: header.noSnapshot === true || header.makeSnapshot === true ? null : SNAPSHOT_FD,
    makeSnapshot: header.makeSnapshot === true,
    zoneinfo,
  };
  const worker = new Worker(sandboxScript, {
    workerData: data,
    // A small young generation keeps each interpreter's JS heap tight; the old generation is the
    // sandbox's own cap (a heap bomb ends this worker with ERR_WORKER_OUT_OF_MEMORY, not its neighbours).
    resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 256 },
    stdout: false,
    stderr: false,
  });
  workers.set(slot, worker);
  worker.on('error', (e) => {
    process.stderr.write(`sandbox ${slot}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  });
  worker.on('exit', (code) => {
    workers.delete(slot);
    // Report first, then close: the parent's end of the slot then reads EOF, after everything the
    // sandbox wrote.
    send({ t: 'exit', slot, code });
    try {
      fs.closeSync(FIRST_SLOT_FD + slot);
    } catch {
      // Already closed.
    }
  });
}

control.on('data', (chunk: Buffer) => {
  let frames;
  try {
    frames = reader.push(chunk);
  } catch {
    process.exit(70);
  }
  for (const { header } of frames) {
    const slot = Number(header.slot);
    if (header.t === 'start') start(slot, header);
    else if (header.t === 'kill') void workers.get(slot)?.terminate();
  }
});

// The parent closed the control channel (stop) or died: end every sandbox, then the process.
const shutdown = (): void => {
  void Promise.allSettled([...workers.values()].map((w) => w.terminate())).then(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
control.on('end', shutdown);
control.on('error', shutdown);
