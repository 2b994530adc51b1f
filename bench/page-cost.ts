// What one large answer costs the server's main thread: a workspace's log page of ~4 MiB (~700
// logs of ~64 KiB of printed output each, the review's hostile reader), listed from SQLite and
// encoded, through the real app (inject: no socket, so this is the main-thread work alone). The
// per-key rate limit charges answers by size (auth/rate-limit.ts); this is how its KiB a token
// was chosen.
//
//   npm run build && node dist/bench/page-cost.js [--logs 700] [--line-kib 1] [--lines 64] [--runs 15]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config/config.js';
import { createPlatform } from '../src/platform.js';
import { fn } from '../test/store/fixtures.js';
import { BENCH_CACHE_DIR, numberArg, printTable } from './common.js';

const LOGS = numberArg('logs', 700);
const LINES = numberArg('lines', 64);
const LINE_KIB = numberArg('line-kib', 1);
const RUNS = numberArg('runs', 15);
const ADMIN = 'bench-admin-key-0123456789abcdef0123456789';

const dir = mkdtempSync(join(tmpdir(), 'eunha-page-cost-'));
const p = await createPlatform(
  loadConfig({
    EUNHA_DATA_DIR: dir,
    EUNHA_CACHE_DIR: BENCH_CACHE_DIR,
    EUNHA_WARM_POOL_SIZE: '0',
    EUNHA_ADMIN_KEY: ADMIN,
    EUNHA_RATE_LIMIT_PER_MINUTE: '0',
    LOG_LEVEL: 'silent',
  }),
  { logger: false },
);
try {
  await p.restoring;
  const headers = { authorization: `Bearer ${ADMIN}` };
  const ws = (
    await p.app.inject({ method: 'POST', url: '/api/workspaces', headers, payload: { name: 'bench' } })
  ).json().id as string;
  const FUNCTIONS = 16;
  for (let f = 0; f < FUNCTIONS; f++) await p.meta.createFunction(fn(ws, { id: `fn-${f}`, name: `fn-${f}` }));
  const line = 'x'.repeat(LINE_KIB * 1024 - 8);
  for (let i = 0; i < LOGS; i++) {
    p.writer.append({
      id: `log-${i}`,
      // Spread over functions: each function's log quota is its own.
      functionId: `fn-${i % FUNCTIONS}`,
      workspaceId: ws,
      timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
      status: 'success',
      duration: 1,
      statusCode: 200,
      requestBody: null,
      responseBody: null,
      logs: Array.from({ length: LINES }, (_, n) => `${String(n).padStart(6, '0')} ${line}`),
      level: 'info',
      coldStart: false,
      deploymentVersion: 1,
      cpuMs: 0,
    });
    // The writer's backlog is bounded (it drops past it): let it write as it goes.
    if (i % 16 === 15) await p.writer.flush();
  }
  await p.writer.flush();

  const url = `/api/workspaces/${ws}/logs?limit=1000`;
  const times: number[] = [];
  let bytes = 0;
  let count = 0;
  for (let i = 0; i < RUNS + 2; i++) {
    const t = performance.now();
    const res = await p.app.inject({ method: 'GET', url, headers });
    const ms = performance.now() - t;
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body.slice(0, 200)}`);
    bytes = res.rawPayload.length;
    count = (res.json() as { logs: unknown[] }).logs.length;
    if (i >= 2) times.push(ms); // the first two warm the JIT and SQLite's cache
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const kib = bytes / 1024;
  console.log(`\n${count} logs a page, medians of ${RUNS}\n`);
  printTable([
    ['page, KiB', 'main thread, ms', 'µs per KiB', 'pages/s one core can serve'],
    [kib.toFixed(0), median.toFixed(1), ((median * 1000) / kib).toFixed(2), (1000 / median).toFixed(0)],
  ]);
} finally {
  await p.close();
  rmSync(dir, { recursive: true, force: true });
}
