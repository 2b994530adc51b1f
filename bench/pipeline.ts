// Pipeline benchmark: Eunha's /fn ingress side by side with a raw node:http hello-world server,
// both as separate processes measured in the same run (this machine is noisy: read the ratio).
// Prints: warm requests/s and p50/p99 at 50 connections, time from POST …/deployments to the first
// successful response (deploys 300 ms apart, and 3 s apart with the warm pool refilled), and the
// first-request latency of a fresh deployment.
//
// Warm load alternates raw and Eunha for --rounds rounds and reports medians and ranges.
//
//   npm run build && node dist/bench/pipeline.js [--seconds 10] [--fresh 10] [--rounds 3]

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { HELLO_SOURCE, json, numberArg, printTable, startServer, waitFor } from './common.js';

const SECONDS = numberArg('seconds', 10);
const FRESH = numberArg('fresh', 10);
const ROUNDS = numberArg('rounds', 3);
const CONNECTIONS = 50;

const RAW_SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => { res.writeHead(200, {'content-type': 'text/plain'}); res.end('Hello from Blue FaaS!'); });
s.listen(0, '127.0.0.1', () => console.log('RAW http://127.0.0.1:' + s.address().port));
`;

async function load(url: string): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) =>
  sorted(xs)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function main(): Promise<void> {
  const server = await startServer({
    EUNHA_WARM_POOL_SIZE: '2',
    // Pass scaling settings through so their effect can be measured: EUNHA_PIPELINE_DEPTH=0 node …
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) =>
          k.startsWith('EUNHA_MAX_INSTANCES') ||
          k === 'EUNHA_PIPELINE_DEPTH' ||
          k === 'EUNHA_LONG_REQUEST_NICE' ||
          k === 'EUNHA_INSTANCES_PER_PROCESS',
      ) as [string, string][],
    ),
  });
  const raw = spawn(process.execPath, ['-e', RAW_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const rawUrl = await waitFor(raw, /RAW (http:\/\/\S+)/);
    const { base } = server;
    const ws = (await json('POST', `${base}/api/workspaces`, { name: 'bench' })).body.id!;
    const code = Buffer.from(HELLO_SOURCE).toString('base64');

    // Deploy → first success, and first-request latency of a fresh deployment (pool warm).
    const deployToFirst: number[] = [];
    const firstRequest: number[] = [];
    let warmFn = '';
    // A deploy takes the workspace's spare sandbox (its first instance, which is also its code's
    // check). 300 ms apart, the spare has not always been booted again on 2 busy cores, so those
    // deploys partly time the boots; 3 s apart they time the deploy itself.
    const settledDeployToFirst: number[] = [];
    const deploys = [
      ...Array.from({ length: FRESH }, () => 300),
      ...Array.from({ length: Math.max(3, Math.ceil(FRESH / 2)) }, () => 3000),
    ];
    for (const [i, pause] of deploys.entries()) {
      const fn = (await json('POST', `${base}/api/workspaces/${ws}/functions`, { name: `f${i}`, code })).body
        .id!;
      await new Promise((r) => setTimeout(r, pause));
      const t0 = performance.now();
      const d = await json('POST', `${base}/api/workspaces/${ws}/functions/${fn}/deployments`);
      if (d.status !== 201) throw new Error(`deploy failed: ${JSON.stringify(d.body)}`);
      const t1 = performance.now();
      const r = await fetch(`${base}/fn/${fn}`);
      await r.text();
      const t2 = performance.now();
      if (r.status !== 200) throw new Error(`first request answered ${r.status}`);
      if (pause === 3000) {
        settledDeployToFirst.push(t2 - t0);
        continue;
      }
      deployToFirst.push(t2 - t0);
      firstRequest.push(t2 - t1);
      warmFn = fn;
    }

    // Warm throughput: the same hello world, raw vs through Eunha, alternating.
    await load(`${base}/fn/${warmFn}`); // warm-up: instances scale out
    const rawRuns: Awaited<ReturnType<typeof load>>[] = [];
    const fnRuns: Awaited<ReturnType<typeof load>>[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rawRuns.push(await load(rawUrl));
      fnRuns.push(await load(`${base}/fn/${warmFn}`));
    }
    const med = (runs: typeof rawRuns, k: 'rps' | 'p50' | 'p99'): number =>
      pct(
        runs.map((r) => r[k]),
        50,
      );
    const span = (runs: typeof rawRuns, k: 'rps' | 'p50' | 'p99'): string => {
      const xs = sorted(runs.map((r) => r[k]));
      return `${med(runs, k).toFixed(0)} (${xs[0]!.toFixed(0)}–${xs[xs.length - 1]!.toFixed(0)})`;
    };
    const errors = (runs: typeof rawRuns): string => String(runs.reduce((n, r) => n + r.errors, 0));

    const rows: Array<[string, string, string, string]> = [
      ['metric', 'raw node:http', 'eunha /fn', 'ratio / target'],
      [
        `warm requests/s (50 conns, median of ${ROUNDS}; range)`,
        span(rawRuns, 'rps'),
        span(fnRuns, 'rps'),
        `${(med(fnRuns, 'rps') / med(rawRuns, 'rps')).toFixed(2)}× (target ≥ 0.5×)`,
      ],
      ['warm p50 latency (ms, median; range)', span(rawRuns, 'p50'), span(fnRuns, 'p50'), ''],
      ['warm p99 latency (ms, median; range)', span(rawRuns, 'p99'), span(fnRuns, 'p99'), 'target ≤ 10 ms'],
      ['errors / non-2xx', errors(rawRuns), errors(fnRuns), ''],
      [
        `POST deployments → first 200 (ms, p50 of ${FRESH})`,
        '',
        pct(deployToFirst, 50).toFixed(1),
        `max ${Math.max(...deployToFirst).toFixed(1)} (target ≤ 1000)`,
      ],
      [
        `same, the pool refilled (3 s apart; p50 of ${settledDeployToFirst.length})`,
        '',
        pct(settledDeployToFirst, 50).toFixed(1),
        `max ${Math.max(...settledDeployToFirst).toFixed(1)}`,
      ],
      [
        `first request of a fresh deployment (ms, p50 of ${FRESH})`,
        '',
        pct(firstRequest, 50).toFixed(1),
        `p90 ${pct(firstRequest, 90).toFixed(1)} (target p50 ≤ 25)`,
      ],
    ];
    printTable(rows);
  } finally {
    raw.kill();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
