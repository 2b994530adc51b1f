// One sandbox: a worker thread of a host process (host.ts) running one Pyodide interpreter that
// serves one function version, one request at a time, over a blocking frame channel of its own
// (an fd the host inherited for this slot). Modes: `makeSnapshot` (boot from scratch, pre-import,
// send back the memory snapshot) or serve (boot from the snapshot, harden, then answer load/invoke
// frames until the channel closes). Guest code only ever runs here, never on the host's main thread.

import fs from 'node:fs';
import v8 from 'node:v8';
import { workerData } from 'node:worker_threads';
import { loadPyodide, type PyodideAPI } from 'pyodide';
import { SyncChannel } from './sync-channel.js';
import { BridgeDevice } from './bridge-device.js';
import { OutputCollector } from '../output.js';
import { decodeFrame, encodeFrame, type Frame, type Header } from '../protocol.js';
import { derive } from './kdf.js';
import { clipMessage, clipTraceback } from '../answer-limits.js';
import { SNAPSHOT_TRAILER_BYTES } from '../snapshot-format.js';
import { guestResult, loadOverrun, loadReply } from './guest-answers.js';
import {
  disarmFilesAndProcess,
  disarmSpawnAndNetwork,
  installWasmMemoryCap,
  setWasmMemoryLimit,
} from './lockdown.js';
import { SPIN_SDK_FILES } from '../python/spin-sdk.js';
import { GUEST_FILES, PREIMPORT } from '../python/guest.js';
import { lockPyodideApi, refuseListening, writeTree, type FSLike } from './pyodide-setup.js';
import { withSparseRestore } from './sparse-restore.js';
import { threadCpuClock } from './thread-cpu.js';
import {
  FIRST_REQUEST_YIELD_AFTER_MS,
  niceNow,
  startLoad,
  startRequest,
  yieldIfLong,
} from './thread-nice.js';
import { installZoneinfo, type Zoneinfo } from './zoneinfo.js';

/** What the host's main thread hands a sandbox it starts (see host.ts). */
export interface SandboxData {
  /** This sandbox's end of its channel to the parent. */
  fd: number;
  /** The memory snapshot, read with pread (the host and its other sandboxes share the fd); null: boot without. */
  snapshotFd: number | null;
  makeSnapshot: boolean;
  /** The host's time zone database (zoneinfo.ts); null: the host has none. */
  zoneinfo: Zoneinfo | null;
}

// Captured before the lockdown replaces the fs and process functions with deniers.
const fstatSync = fs.fstatSync;
const readSync = fs.readSync;
// In a worker thread, process.exit ends this thread only.
const exit = process.exit.bind(process);
const data = workerData as SandboxData;
/** This thread's CPU time: the sandbox's own, not its neighbours' in the same process. */
const cpuNow = threadCpuClock();
const channel = new SyncChannel(data.fd);
const heapStatistics = v8.getHeapStatistics.bind(v8);
// --expose-gc gives every isolate a gc(); boot deletes the global, this keeps it for the memory check.
const collect = (globalThis as { gc?: () => void }).gc;
const output = new OutputCollector();
const MiB = 1024 * 1024;
/** Above the function's memory: the sandbox's JS heap (Pyodide's glue, ~16 MB) and slack. */
const FOOTPRINT_ALLOWANCE = 64 * MiB;

/**
 * The snapshot arrives as an inherited fd (pread: the file description may be shared). The parent
 * checked its trailer (snapshot-format.ts) before handing it over; the bytes before it are the
 * snapshot.
 */
function readSnapshot(fd: number): Uint8Array {
  const size = fstatSync(fd).size - SNAPSHOT_TRAILER_BYTES;
  const buf = new Uint8Array(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf;
}

installWasmMemoryCap();
disarmSpawnAndNetwork();

interface Loaded {
  load: () => void;
  dispatch: () => void;
}

interface Booted {
  entry: Loaded;
  device: BridgeDevice;
  FS: FSLike;
  /** Current size of the interpreter's linear memory. */
  heap: () => number;
}

async function makeSnapshot(): Promise<void> {
  const py = await loadPyodide({
    _makeSnapshot: true,
    env: {},
    jsglobals: Object.create(null) as object,
    stdout: () => {},
    stderr: () => {},
  });
  writeTree(py.FS as FSLike, '/lib/eunha', { ...SPIN_SDK_FILES, ...GUEST_FILES });
  py.runPython(
    `import sys\nsys.path.insert(0, '/lib/eunha')\n${PREIMPORT.map((m) => `import ${m}`).join('\n')}`,
  );
  channel.write({ t: 'snapshot' }, py.makeMemorySnapshot());
}

async function bootSandbox(snapshot: Uint8Array | null): Promise<Booted> {
  // Without a snapshot (the bench's baseline) the interpreter boots from scratch.
  const load = (): Promise<PyodideAPI> =>
    loadPyodide({
      ...(snapshot ? { _loadSnapshot: snapshot } : {}),
      env: {},
      jsglobals: Object.create(null) as object,
      stdout: () => {},
      stderr: () => {},
    });
  const py = snapshot ? await withSparseRestore(snapshot, load) : await load();
  const FS = py.FS as FSLike;
  // MEMFS lives outside the wasm heap, so the snapshot has the modules but not their files.
  writeTree(FS, '/lib/eunha', { ...SPIN_SDK_FILES, ...GUEST_FILES });
  FS.mkdirTree('/app');
  if (data.zoneinfo) {
    installZoneinfo(FS, data.zoneinfo);
    // The file system has its own copy now.
    data.zoneinfo = null;
  }
  const device = new BridgeDevice((raw) => {
    channel.writeRaw(raw);
    return awaitReply();
  }, serveLocally);
  device.install(py.FS as Parameters<BridgeDevice['install']>[0]);
  refuseListening(py);
  // A function has no stdin. Pyodide's default reads the host's fd 0 through `fs`, which the
  // lockdown disarms: open("/dev/stdin").read() ended the sandbox instead of raising OSError.
  py.setStdin({ error: true });
  py.setStdout({ write: output.write });
  py.setStderr({ write: output.write });
  // Not a TypedArray, but Pyodide only ever indexes [0] (see `interrupt` below).
  py.setInterruptBuffer(interrupt as unknown as Int32Array);
  py.runPython(`import sys, os, posix
if '/lib/eunha' not in sys.path: sys.path.insert(0, '/lib/eunha')
for _m in (os, posix):
    for _n in ('system', 'popen', 'fork', 'forkpty', 'execv', 'execve', 'spawnv', 'spawnve', 'posix_spawn', 'posix_spawnp', 'kill', 'killpg'):
        _m.__dict__.pop(_n, None)
del _m, _n
# The snapshot holds one generator state for every instance: reseed from os.urandom. This first
# os.urandom also binds Emscripten's random source (node:crypto), which it loads on first use and
# could not load after the lockdown: os.urandom, uuid4 and secrets then ended the sandbox.
import random
random.seed()
del random
import _eunha_asyncio
_eunha_asyncio.install()
import time, _eunha_io
time.sleep = _eunha_io.sleep
del time, _eunha_io
import _eunha_hashlib
_eunha_hashlib.install()
del _eunha_hashlib`);
  // Kept alive for the life of the host: the function proxies are borrowed from the module proxy.
  const main = py.pyimport('_eunha_main') as unknown as Loaded;
  const entry: Loaded = { load: main.load, dispatch: main.dispatch };
  const mod = (py as unknown as { _module: { HEAP8: Int8Array } })._module;
  const heap = (): number => mod.HEAP8.buffer.byteLength;
  py.unregisterJsModule('js');
  py.unregisterJsModule('pyodide_js');
  py.runPython('import _eunha_harden\n_eunha_harden.harden()');
  lockPyodideApi(py);
  // Pyodide's instantiateWasm closure holds the 9.6 MB wasm file for the life of the process;
  // the compiled module keeps its own copy, so the file's bytes can go.
  (mod as unknown as { instantiateWasm?: unknown }).instantiateWasm = undefined;
  return { entry, device, FS, heap };
}

/**
 * The timeout and the memory check, without a watchdog thread: CPython's eval loop polls
 * Pyodide's "interrupt buffer" (it reads element 0 every few dozen checks). Handing it this object
 * instead of an Int32Array makes each poll compare the clock with the armed deadline, and now and
 * then the sandbox's footprint with its limit, and answer SIGINT when either is passed.
 */
const SIGINT = 2;
let deadlineAt = 0;
/** The current step (a load or a request) reached its deadline: an interrupt it reports is a timeout. */
let timedOut = false;
/** The loaded function's memory (Infinity until a load): caps its wasm heap and, plus an allowance, its footprint. */
let memoryLimit = Infinity;
/** CPU time of this thread at the end of the previous answer, or at the start of the load running now, ms. */
let cpuMark = cpuNow();
/**
 * What this sandbox holds, of its own: its JS heap plus V8's external memory, which counts its
 * wasm linear memory and the buffers outside both (the in-memory FS's files). The process's RSS
 * is shared with the workspace's other sandboxes, so it cannot say which one runs away.
 */
function overFootprint(): boolean {
  const limit = memoryLimit + FOOTPRINT_ALLOWANCE;
  const h = heapStatistics();
  if (h.used_heap_size + h.external_memory <= limit) return false;
  // Freed files and buffers may only be waiting for a collection.
  collect?.();
  const again = heapStatistics();
  return again.used_heap_size + again.external_memory > limit;
}
/** When the footprint was last checked (ms since the epoch). */
let checkedAt = 0;
let overReported = false;

/** What the request printed so far and the CPU it used, for the parent to keep if it has to kill. */
function sendPartial(overMemory = false): void {
  const sofar = output.peek();
  channel.write({
    t: 'partial',
    overMemory,
    lines: sofar.lines,
    linesTruncated: sofar.truncated,
    cpuMs: cpuNow() - cpuMark,
  });
}

function reachDeadline(): void {
  deadlineAt = 0;
  timedOut = true;
  // If the guest swallows the interrupt, the parent kills the sandbox after its grace period
  // and this is all that is left of the request's output: send it now.
  sendPartial();
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/**
 * `time.sleep` in the guest (through the bridge device): the thread blocks without spinning, and
 * wakes at the step's deadline. Answers true when the deadline cut the sleep short (or had passed
 * already); the guest then raises KeyboardInterrupt, as the eval loop would have.
 */
function sleepFor(ms: number): boolean {
  if (timedOut) return true;
  const until = Date.now() + ms;
  const stopAt = deadlineAt > 0 ? Math.min(until, deadlineAt) : until;
  for (let left = stopAt - Date.now(); left > 0; left = stopAt - Date.now()) {
    Atomics.wait(sleeper, 0, 0, left);
  }
  if (deadlineAt > 0 && Date.now() >= deadlineAt) {
    reachDeadline();
    return true;
  }
  return false;
}

/** Calls of the guest this thread answers itself, without the parent (bridge-device.ts). */
function serveLocally({ header, body }: Frame): Uint8Array | undefined {
  if (header.t === 'sleep') {
    const ms = Number(header.ms);
    return encodeFrame({ t: 'slept', timedOut: Number.isNaN(ms) ? false : sleepFor(Math.max(0, ms)) });
  }
  if (header.t === 'kdf') {
    // Past the deadline (a guest that caught the interrupt): no budget left, nothing is run.
    if (timedOut) return encodeFrame({ t: 'derived', ok: false, timedOut: true });
    const out = derive(header, body, deadlineAt > 0 ? deadlineAt - Date.now() : Infinity);
    if (out.ok) return encodeFrame({ t: 'derived', ok: true }, out.key);
    // Priced past the deadline: wait it out (no CPU), then the guest is interrupted as if it ran.
    if ('late' in out) return encodeFrame({ t: 'derived', ok: false, timedOut: sleepFor(Infinity) });
    return encodeFrame({ t: 'derived', ok: false, message: out.message });
  }
  return undefined;
}

/** When the interrupt poll next looks at the request's CPU time (thread-nice.ts). */
let yieldCheckAt = Infinity;

const interrupt = {
  get 0(): number {
    const now = Date.now();
    // Every 5 ms (~0.5 µs a check): a guest filling memory outside the wasm heap is stopped
    // here, and the parent ends this sandbox alone.
    if (memoryLimit !== Infinity && now - checkedAt >= 5) {
      checkedAt = now;
      if (overFootprint()) {
        if (!overReported) {
          overReported = true;
          sendPartial(true);
        }
        return SIGINT;
      }
    }
    if (deadlineAt > 0 && now >= deadlineAt) {
      reachDeadline();
      return SIGINT;
    }
    // A request past the CPU of a short one yields the cores (design note 008): looked at once a
    // millisecond, and only after as much wall time, since CPU time cannot run ahead of it.
    if (now >= yieldCheckAt) yieldCheckAt = yieldIfLong(cpuNow() - cpuMark) ? Infinity : now + 1;
    return 0;
  },
  set 0(_cleared: number) {
    // Pyodide writes 0 back after reading; the deadline is disarmed above instead.
  },
};

/**
 * Frames that arrived while the guest was waiting for the answer to a relayed call. The parent
 * pipelines: it may write the next request while this one runs, so a reply can be preceded by
 * invoke frames.
 */
const early: Uint8Array[] = [];

function awaitReply(): Uint8Array {
  for (;;) {
    const raw = channel.readRaw();
    if (raw === null) exit(0);
    if (decodeFrame(raw!).header.t === 'reply') return raw!;
    early.push(raw!);
  }
}

function nextFrame(): Uint8Array | null {
  return early.shift() ?? channel.readRaw();
}

function isFatal(e: unknown): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    (e as { pyodide_fatal_error?: unknown }).pyodide_fatal_error === true
  );
}

function serve({ entry, device, FS, heap }: Booted): void {
  /**
   * Set once an answer said "recycle": requests already pipelined behind it are answered "not
   * run" (the parent runs them elsewhere) rather than run in an interpreter that is suspect.
   */
  let draining = false;
  /** Requests this sandbox has taken: the first one's yield line is higher (thread-nice.ts). */
  let answered = 0;
  for (;;) {
    const raw = nextFrame();
    if (raw === null) return;
    const { header, body } = decodeFrame(raw);
    if (header.t === 'load') {
      // Module code yields like a handler (thread-nice.ts), on the load's own CPU: the boot's is
      // not the guest's. The mark after the answer starts the first request's count afresh.
      cpuMark = cpuNow();
      yieldCheckAt = startLoad(header.nice, Date.now());
      const files = header.files as { name: string; size: number }[];
      const tree: Record<string, Uint8Array> = {};
      let off = 0;
      for (const f of files) {
        tree[f.name] = body.subarray(off, off + f.size);
        off += f.size;
      }
      let reply: Header;
      try {
        writeTree(FS, '/app', tree);
        const memoryMb = Number(header.memoryMb);
        memoryLimit = memoryMb * MiB;
        setWasmMemoryLimit(Math.max(memoryMb * MiB, heap() + 16 * MiB));
        device.offer(encodeFrame({ t: 'load', env: header.env, variables: header.variables }));
        // Module-level code runs here: it has a deadline like a request (a `while True` at import
        // used to hold its deploy, and a build slot, forever).
        const loadMs = Number(header.timeoutMs);
        deadlineAt = Date.now() + loadMs;
        timedOut = false;
        entry.load();
        deadlineAt = 0;
        const ans = device.answer;
        reply = loadReply(ans !== null && ans.header.t === 'loaded' ? ans.header : null, timedOut, loadMs);
      } catch (e) {
        deadlineAt = 0;
        reply = {
          t: 'loaded',
          ok: false,
          error: timedOut
            ? loadOverrun(Number(header.timeoutMs))
            : clipMessage(String(e instanceof Error ? e.message : e)),
        };
      }
      const out = output.take();
      channel.write({ ...reply, lines: out.lines, heapBytes: heap(), nice: niceNow() });
      cpuMark = cpuNow();
      continue;
    }
    if (header.t !== 'invoke') continue;
    if (draining) {
      channel.write({ t: 'result', notRun: true });
      continue;
    }
    yieldCheckAt = startRequest(
      header.nice,
      Date.now(),
      answered === 0 ? FIRST_REQUEST_YIELD_AFTER_MS : undefined,
    );
    answered++;
    device.offer(raw);
    overReported = false;
    timedOut = false;
    deadlineAt = Date.now() + Number(header.timeoutMs);
    const w0 = performance.now();
    let thrown: unknown = null;
    try {
      entry.dispatch();
    } catch (e) {
      thrown = e;
    }
    deadlineAt = 0;
    // One clock read per request: the span runs from the end of the previous answer, so it
    // includes this request's channel I/O — the CPU the request cost its sandbox.
    const c1 = cpuNow();
    const cpuMs = c1 - cpuMark;
    cpuMark = c1;
    const out = output.take();
    const ans = device.answer;
    const heapBytes = heap();
    const overMemory = heapBytes > memoryLimit || overFootprint();
    const meta = {
      lines: out.lines,
      linesTruncated: out.truncated,
      cpuMs,
      runMs: performance.now() - w0,
      heapBytes,
      nice: niceNow(),
    };
    if (overReported) {
      // Interrupted for its memory (the parent is ending this sandbox too): whatever the guest
      // made of the interrupt, the answer is the limit it broke.
      draining = true;
      channel.write({
        t: 'result',
        status: 502,
        headers: {},
        error: 'FUNCTION_CRASHED',
        message: `the sandbox exceeded its memory limit of ${memoryLimit / MiB} MB`,
        recycle: true,
        ...meta,
      });
      continue;
    }
    if (thrown === null && ans !== null && ans.header.t === 'resp') {
      // A handler's own exception leaves the interpreter sound; an interrupt at the deadline,
      // caught or not, may have landed anywhere.
      const recycle = overMemory || timedOut;
      draining = recycle;
      channel.write({ ...guestResult(ans.header, timedOut), ...meta, recycle, notRun: false }, ans.body);
      continue;
    }
    draining = true;
    const fatal = isFatal(thrown);
    const text = String(thrown instanceof Error ? thrown.message : (thrown ?? 'no response'));
    const timeout = !fatal && timedOut;
    channel.write({
      t: 'result',
      status: timeout ? 504 : 502,
      headers: {},
      error: timeout ? 'TIMEOUT' : 'FUNCTION_CRASHED',
      // What escaped may hold anything the guest put in an exception: cut as answers are.
      message: timeout
        ? 'the function did not answer within its timeout'
        : clipMessage('the sandbox failed: ' + text.split('\n').slice(-2).join(' ')),
      traceback: clipTraceback(text),
      recycle: true,
      ...meta,
    });
    if (fatal) exit(70);
  }
}

async function main(): Promise<void> {
  if (data.makeSnapshot) {
    await makeSnapshot();
    return;
  }
  const t0 = performance.now();
  const snapshot = data.snapshotFd === null ? null : readSnapshot(data.snapshotFd);
  const sandbox = await bootSandbox(snapshot);
  // Pyodide keeps a reference to the snapshot bytes; detaching the buffer frees its 30 MB anyway.
  if (snapshot) structuredClone(snapshot.buffer, { transfer: [snapshot.buffer as ArrayBuffer] });
  disarmFilesAndProcess();
  // Drop the snapshot bytes and boot garbage now rather than carry them for the host's life.
  const g = globalThis as unknown as { gc?: () => void };
  if (typeof g.gc === 'function') {
    g.gc();
    try {
      delete g.gc;
    } catch {
      g.gc = undefined;
    }
  }
  channel.write({ t: 'ready', bootMs: performance.now() - t0, heapBytes: sandbox.heap() });
  serve(sandbox);
}

main().then(
  () => exit(0),
  (e: unknown) => {
    try {
      channel.write({ t: 'fatal', error: String(e instanceof Error ? (e.stack ?? e.message) : e) });
    } finally {
      exit(70);
    }
  },
);
