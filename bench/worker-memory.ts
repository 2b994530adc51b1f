// Memory benchmark for a candidate process model (a program, not a test): what one more warm
// Python interpreter costs as a worker thread inside a shared process, against today's model of one
// process per instance, both measured in the same run. Worker threads share V8's compiled wasm
// module (code and wire bytes) and Node itself; processes share only read-only program text.
//
//   npm run build && node dist/bench/worker-memory.js [--instances 4]
//
// The worker side boots Pyodide exactly as a sandbox host does (snapshot, sparse restore, the wasm
// file dropped, host flags, the host's malloc setting), without the lockdown and the jail, which do
// not change memory.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadPyodide } from 'pyodide';
import { HOST_ENV } from '../src/runtime/host-process.js';
import { HOST_NODE_FLAGS } from '../src/runtime/isolation.js';
import { ensureSnapshot } from '../src/runtime/snapshot.js';
import { withSparseRestore } from '../src/runtime/host/sparse-restore.js';
import { BENCH_CACHE_DIR, avg, extraInstanceMemory, printTable, procMem, sleep, type Mem } from './common.js';

const args = process.argv.slice(2);
const INSTANCES = Number(args[args.indexOf('--instances') + 1] ?? 4) || 4;

/** Worker thread: one interpreter, booted like a host, that ran a little Python; then idles. */
async function workerMain(): Promise<void> {
  const snapshot = new Uint8Array(readFileSync(workerData as string));
  const py = await withSparseRestore(snapshot, () =>
    loadPyodide({
      _loadSnapshot: snapshot,
      env: {},
      jsglobals: Object.create(null) as object,
      stdout: () => {},
      stderr: () => {},
    }),
  );
  (py as unknown as { _module: { instantiateWasm?: unknown } })._module.instantiateWasm = undefined;
  structuredClone(snapshot.buffer, { transfer: [snapshot.buffer as ArrayBuffer] });
  py.runPython('import json\nanswer = json.dumps({"hello": "world"})');
  (globalThis as { gc?: () => void }).gc?.();
  parentPort?.postMessage('ready');
  setInterval(() => undefined, 1 << 30);
}

/** Child process (with the host's flags and env): start workers one by one, report deltas. */
async function workersSide(snapshot: string): Promise<void> {
  await sleep(200);
  let prev = procMem('self');
  const deltas: Mem[] = [];
  const workers: Worker[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    const w = new Worker(fileURLToPath(import.meta.url), {
      workerData: snapshot,
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
    workers.push(w);
    await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await sleep(500);
    const now = procMem('self');
    deltas.push({ rss: now.rss - prev.rss, pss: now.pss - prev.pss, uss: now.uss - prev.uss });
    prev = now;
  }
  process.stdout.write(JSON.stringify(deltas) + '\n');
  await Promise.all(workers.map((w) => w.terminate()));
}

async function main(): Promise<void> {
  const snapshot = await ensureSnapshot(BENCH_CACHE_DIR);
  const procs = await extraInstanceMemory(INSTANCES);
  const child = spawn(
    process.execPath,
    [
      ...HOST_NODE_FLAGS,
      fileURLToPath(import.meta.url),
      '--workers-side',
      snapshot,
      '--instances',
      String(INSTANCES),
    ],
    { env: { ...HOST_ENV }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`workers side exited ${code}`);
  const workers = JSON.parse(out.trim()) as Mem[];
  const extra = workers.slice(1);
  const fmt = (m: number): string => `${m.toFixed(0)} MB`;
  const rows: [string, string, string, string][] = [
    ['model', 'first instance', 'each extra instance, RSS', 'each extra instance, USS'],
    [
      'one process per instance (today)',
      fmt(procs[0]?.rss ?? NaN),
      fmt(avg(procs.map((m) => m.rss))),
      fmt(avg(procs.map((m) => m.uss))),
    ],
    [
      'worker thread per instance, one process',
      `+${fmt(workers[0]!.rss)}`,
      `+${fmt(avg(extra.map((m) => m.rss)))}`,
      `+${fmt(avg(extra.map((m) => m.uss)))}`,
    ],
  ];
  printTable(rows);
  console.log(`(${INSTANCES} instances each; target for an extra warm instance: ≤ 60 MB RSS)`);
}

if (!isMainThread) {
  void workerMain();
} else if (args.includes('--workers-side')) {
  workersSide(args[args.indexOf('--workers-side') + 1]!).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
