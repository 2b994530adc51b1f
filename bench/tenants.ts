// Tenants benchmark: what one workspace's busy loops cost another workspace's short requests,
// with long requests yielding the cores (the default, EUNHA_LONG_REQUEST_NICE=5) and without
// (EUNHA_LONG_REQUEST_NICE=0), each on a server of its own, alternating, in one run. Also what
// yielding costs the long requests themselves beside a flood of short ones.
//
//   npm run build && node dist/bench/tenants.js [--seconds 8] [--settle 2] [--rounds 1] [--loops 16]
//     [--iterations 2000000]

import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { HELLO_SOURCE, json, numberArg, printTable, sleep, startServer } from './common.js';

const SECONDS = numberArg('seconds', 8);
/** After the noisy workspace has all its instances, before measuring. */
const SETTLE = numberArg('settle', 2);
const ROUNDS = numberArg('rounds', 1);
/** Concurrent busy requests from the noisy workspace: its instance cap, at the defaults. */
const LOOPS = numberArg('loops', 16);
/** The victim's closed loop: a few clients, so its latency is the machine's, not its own line. */
const VICTIM_CONNECTIONS = 4;
const BUSY_ITERATIONS = numberArg('iterations', 2_000_000);

/**
 * Fixed work, so that a request that gets less CPU takes longer (about 125 ms alone here). It
 * answers with a token drawn when its instance loaded, so the bench can count the instances.
 */
const BUSY_SOURCE = `import os
from spin_sdk import http
from spin_sdk.http import Request, Response

INSTANCE = os.urandom(8).hex()

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        x = 0
        for i in range(${BUSY_ITERATIONS}):
            x += i
        return Response(200, {"content-type": "text/plain"}, INSTANCE.encode())
`;

interface Round {
  alone: Load;
  beside: Load;
  busyPerSecond: number;
  /** From the first noisy request until the noisy workspace had LOOPS instances. */
  scaleSeconds: number;
  refused: number;
  /** One busy request at a time beside a 50-connection hello-world flood: its latency. */
  longUnderFlood: number[];
  longAlone: number[];
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function victimLoad(url: string, connections = VICTIM_CONNECTIONS): Promise<Load> {
  const r = await autocannon({ url, connections, duration: SECONDS });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function deploy(base: string, ws: string, name: string, source: string): Promise<string> {
  const code = Buffer.from(source).toString('base64');
  const fn = (await json('POST', `${base}/api/workspaces/${ws}/functions`, { name, code, timeout: 60 })).body
    .id!;
  const d = await json('POST', `${base}/api/workspaces/${ws}/functions/${fn}/deployments`);
  if (d.status !== 201) throw new Error(`deploy failed: ${JSON.stringify(d.body)}`);
  return fn;
}

/**
 * Call `url` from `n` loops until `stop()`: the latencies of answered calls and when each ended, in
 * ms, and how many were turned away (429 while the workspace scales out: its queue has a deadline).
 */
interface Calls {
  times: number[];
  /** The instances that answered (their tokens). */
  instances: Set<string>;
  ends: number[];
  refused: number;
}

function callLoops(url: string, n: number): { instances: Set<string>; stop: () => Promise<Calls> } {
  let stopping = false;
  const times: number[] = [];
  const ends: number[] = [];
  const instances = new Set<string>();
  let refused = 0;
  // The first failure ends every loop and is thrown by stop(); none is left unhandled.
  let failure: unknown = null;
  const loop = async (): Promise<void> => {
    while (!stopping) {
      const t0 = performance.now();
      const r = await fetch(url);
      const body = await r.text();
      if (r.status === 429) {
        refused++;
        await sleep(100);
        continue;
      }
      if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
      const t1 = performance.now();
      times.push(t1 - t0);
      ends.push(t1);
      instances.add(body);
    }
  };
  const loops = Array.from({ length: n }, () =>
    loop().catch((e: unknown) => {
      failure ??= e;
      stopping = true;
    }),
  );
  return {
    instances,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
      if (failure !== null) throw failure;
      return { times, ends, instances, refused };
    },
  };
}

async function round(nice: string): Promise<Round> {
  const server = await startServer({ EUNHA_WARM_POOL_SIZE: '2', EUNHA_LONG_REQUEST_NICE: nice });
  try {
    const { base } = server;
    const victimWs = (await json('POST', `${base}/api/workspaces`, { name: 'victim' })).body.id!;
    const noisyWs = (await json('POST', `${base}/api/workspaces`, { name: 'noisy' })).body.id!;
    const victim = `${base}/fn/${await deploy(base, victimWs, 'hello', HELLO_SOURCE)}`;
    // Two functions: one function's cap (8) is half the workspace's (16).
    const busy = [
      `${base}/fn/${await deploy(base, noisyWs, 'busy1', BUSY_SOURCE)}`,
      `${base}/fn/${await deploy(base, noisyWs, 'busy2', BUSY_SOURCE)}`,
    ];
    await autocannon({ url: victim, connections: VICTIM_CONNECTIONS, duration: 2 }); // warm-up
    const alone = await victimLoad(victim);

    const noisy = busy.map((url, i) => callLoops(url, Math.ceil((LOOPS - i) / 2)));
    // Measure beside all of them: yielding also changes how fast the noisy workspace scales out.
    const s0 = performance.now();
    const seen = (): number => noisy.reduce((k, l) => k + l.instances.size, 0);
    while (seen() < LOOPS) {
      if (performance.now() - s0 > 120_000) {
        throw new Error(`the noisy workspace did not scale out in 2 min: ${seen()} instances answered`);
      }
      await sleep(100);
    }
    const scaleSeconds = (performance.now() - s0) / 1000;
    await sleep(SETTLE * 1000);
    const t0 = performance.now();
    const beside = await victimLoad(victim);
    const t1 = performance.now();
    const done = await Promise.all(noisy.map((l) => l.stop()));
    const busyDone = done.reduce((n, d) => n + d.ends.filter((t) => t >= t0 && t <= t1).length, 0);
    const refused = done.reduce((n, d) => n + d.refused, 0);

    const one = callLoops(busy[0]!, 1);
    await sleep(SECONDS * 1000);
    const longAlone = (await one.stop()).times;
    const under = callLoops(busy[0]!, 1);
    await victimLoad(victim, 50);
    const longUnderFlood = (await under.stop()).times;
    return {
      alone,
      beside,
      scaleSeconds,
      busyPerSecond: (busyDone * 1000) / (t1 - t0),
      refused,
      longUnderFlood,
      longAlone,
    };
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const off: Round[] = [];
  const on: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    off.push(await round('0'));
    on.push(await round('5'));
  }
  type Measure = (r: Round) => number;
  const med = (rs: Round[], f: Measure): number => median(rs.map(f));
  const cell = (rs: Round[], f: Measure, digits = 0): string => med(rs, f).toFixed(digits);
  const ratio = (f: Measure): string => `${(med(on, f) / med(off, f)).toFixed(2)}×`;
  /** A measure's median off and on, and their ratio. */
  const row = (label: string, f: Measure, digits = 0): string[] => [
    label,
    cell(off, f, digits),
    cell(on, f, digits),
    ratio(f),
  ];
  /** p50 / p99 of a load, off and on; the ratio (if any) of `ratioOf`. */
  const latency = (label: string, load: (r: Round) => Load, ratioOf?: Measure): string[] => [
    label,
    ...[off, on].map((rs) => `${cell(rs, (r) => load(r).p50)} / ${cell(rs, (r) => load(r).p99)}`),
    ratioOf ? ratio(ratioOf) : '',
  ];
  const total = (rs: Round[], f: Measure): string => String(rs.reduce((n, r) => n + f(r), 0));
  const rows: string[][] = [
    ['measure (median of rounds)', 'yielding off (NICE=0)', 'default (NICE=5)', 'default / off'],
    row(`victim alone: requests/s (${VICTIM_CONNECTIONS} conns)`, (r) => r.alone.rps),
    latency('victim alone: p50 / p99 ms', (r) => r.alone),
    row(`victim beside ${LOOPS} busy loops: requests/s`, (r) => r.beside.rps),
    latency(
      'victim beside busy loops: p50 / p99 ms',
      (r) => r.beside,
      (r) => r.beside.p99,
    ),
    row('noisy workspace: busy requests done/s meanwhile', (r) => r.busyPerSecond, 1),
    row('one busy request at a time, alone: p50 ms', (r) => median(r.longAlone)),
    row('one busy request at a time beside a 50-conn hello flood: p50 ms', (r) => median(r.longUnderFlood)),
    row(`noisy workspace: seconds to its ${LOOPS} instances`, (r) => r.scaleSeconds, 1),
    [
      'noisy requests refused (429) over the whole run',
      total(off, (r) => r.refused),
      total(on, (r) => r.refused),
      '',
    ],
    [
      'victim errors / non-2xx',
      total(off, (r) => r.alone.errors + r.beside.errors),
      total(on, (r) => r.alone.errors + r.beside.errors),
      '',
    ],
  ];
  printTable(rows);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
