// Runtime benchmark (a program, not a test): cold start with a booted pool, cold start with an
// empty pool (snapshot boot) against a no-snapshot baseline measured in the same run, warm
// throughput of a hello-world handler with both cores busy, and memory per extra warm instance.
// Run: npx tsc -p . && node dist/bench/runtime.js [--quick]

import { loadavg } from 'node:os';
import { Runtime, type FunctionVersion, type InvokeRequest } from '../src/runtime/index.js';
import {
  BENCH_CACHE_DIR as cacheDir,
  HELLO_SOURCE,
  avg,
  extraInstanceMemory,
  type Mem,
  noKv,
  printTable,
  sleep,
} from './common.js';

const quick = process.argv.includes('--quick');
const HELLO = new TextEncoder().encode(HELLO_SOURCE);
const req: InvokeRequest = { method: 'GET', uri: '/', headers: {}, body: new Uint8Array(0) };
let n = 0;
const hello = (over: Partial<FunctionVersion> = {}): FunctionVersion => {
  n++;
  return {
    key: `bench-${n}@1`,
    functionId: `bench-${n}`,
    workspaceId: `ws-${n}`,
    engine: 'python',
    files: { 'app.py': HELLO },
    env: {},
    memoryMb: 128,
    timeoutMs: 5000,
    ...over,
  };
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const rows: [string, string, string][] = [];
const row = (what: string, value: string, target: string): void => {
  rows.push([what, value, target]);
  console.error(`  ${what}: ${value}`);
};

async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

async function coldStart(rt: Runtime, v: FunctionVersion): Promise<number> {
  const t0 = performance.now();
  await rt.load(v);
  const r = await rt.invoke(v.key, req);
  if (r.status !== 200) throw new Error(`hello failed: ${r.status} ${r.error?.message}`);
  return performance.now() - t0;
}

async function poolColdStart(): Promise<void> {
  const rt = new Runtime({ kv: noKv, cacheDir, poolSize: 2 });
  const t0 = performance.now();
  await rt.start();
  row('snapshot ready (made or found in cache)', `${(performance.now() - t0).toFixed(0)} ms`, '');
  const samples: number[] = [];
  for (let i = 0; i < (quick ? 10 : 40); i++) {
    await until(() => rt.stats().warmPool.ready === 2);
    const v = hello();
    samples.push(await coldStart(rt, v));
    await rt.unload(v.key);
  }
  row('cold start, booted pool: load + first invoke p50', `${pct(samples, 50).toFixed(1)} ms`, '<= 20 ms');
  row('cold start, booted pool: load + first invoke p99', `${pct(samples, 99).toFixed(1)} ms`, '<= 60 ms');
  await rt.close();
}

async function emptyPool(useSnapshot: boolean, count: number): Promise<number[]> {
  const rt = new Runtime({ kv: noKv, cacheDir, poolSize: 0, useSnapshot });
  await rt.start();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = hello();
    samples.push(await coldStart(rt, v));
    await rt.unload(v.key);
  }
  await rt.close();
  return samples;
}

async function throughput(): Promise<void> {
  const rt = new Runtime({ kv: noKv, cacheDir, poolSize: 0 });
  await rt.start();
  const v = hello({ minWarm: 2, maxInstances: 2 });
  await rt.load(v);
  await until(() => rt.stats().versions[v.key]!.idle === 2);
  for (const conc of [2, 4, 8]) {
    const seconds = quick ? 2 : 5;
    let done = 0;
    const end = performance.now() + seconds * 1000;
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: conc }, async () => {
        while (performance.now() < end) {
          const r = await rt.invoke(v.key, req);
          if (r.status !== 200) throw new Error(`status ${r.status}`);
          done++;
        }
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    row(
      `warm throughput, 2 instances, ${conc} in flight`,
      `${Math.round(done / seconds)} inv/s (parent CPU ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)}%)`,
      '>= 10000 inv/s',
    );
  }
  await rt.close();
}

/** Both process models in the same run: worker threads in a workspace's process (the default) and a process each. */
async function memory(): Promise<void> {
  const n = quick ? 3 : 6;
  const shared = await extraInstanceMemory(n, 8);
  const solo = await extraInstanceMemory(n, 1);
  const mb = (ms: Mem[], k: keyof Mem): string => `${avg(ms.map((m) => m[k])).toFixed(0)} MB`;
  row(
    'memory per extra warm instance (sandbox thread in its workspace process): RSS / PSS / USS',
    `${mb(shared, 'rss')} / ${mb(shared, 'pss')} / ${mb(shared, 'uss')}`,
    '<= 60 MB RSS',
  );
  row(
    'same, a process per instance (instancesPerProcess 1, baseline): RSS / PSS / USS',
    `${mb(solo, 'rss')} / ${mb(solo, 'pss')} / ${mb(solo, 'uss')}`,
    '',
  );
}

async function main(): Promise<void> {
  console.error('eunha runtime bench (progress on stderr, table on stdout)');
  const load0 = loadavg()[0]!.toFixed(1);
  await poolColdStart();
  const snap = await emptyPool(true, quick ? 3 : 8);
  row('cold start, empty pool, snapshot boot p50', `${pct(snap, 50).toFixed(0)} ms`, '<= 700 ms');
  const base = await emptyPool(false, quick ? 2 : 3);
  row('cold start, empty pool, no snapshot (baseline) p50', `${pct(base, 50).toFixed(0)} ms`, '~2400 ms');
  row('snapshot speed-up vs baseline', `${(pct(base, 50) / pct(snap, 50)).toFixed(1)}x`, '');
  await throughput();
  await memory();
  // Other work on the machine moves every number above; say how busy it was.
  row('machine load average (1 min) at start / end', `${load0} / ${loadavg()[0]!.toFixed(1)}`, '2 cores');
  printTable([['measure', 'value', 'target'], ...rows]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
