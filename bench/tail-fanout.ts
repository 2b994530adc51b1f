// What live tails cost the main thread per log: `--tails` tails (16, a workspace's most) open on a
// function printing `--kib` KiB a call, the time to hand `--logs` new logs to all of them (the
// writer's announce: encoding and writing each frame; responses that drop what they are given, so
// no socket is measured). Run it on two builds to compare.
//
//   npm run build && node dist/bench/tail-fanout.js [--tails 16] [--kib 64] [--logs 200]

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ExecutionLog } from '../src/core/types.js';
import { LiveTails } from '../src/observability/live-tail.js';
import { ExecutionLogWriter } from '../src/observability/log-writer.js';
import { TailIdKey } from '../src/observability/tail-ids.js';
import { numberArg, printTable } from './common.js';

const TAILS = numberArg('tails', 16);
const KIB = numberArg('kib', 64);
const LOGS = numberArg('logs', 200);

/** A response that takes every write and keeps nothing. */
class Sink extends EventEmitter {
  destroyed = false;
  writableEnded = false;
  writableLength = 0;
  writeHead(): this {
    return this;
  }
  write(): boolean {
    return true;
  }
  end(): this {
    this.writableEnded = true;
    return this;
  }
}

let seq = 0;
let announced = 0;
const writer = new ExecutionLogWriter(
  { appendLogs: async (logs) => logs.map((log) => ({ seq: ++seq, log })) },
  { flushIntervalMs: 1 },
);
const tails = new LiveTails(writer, new TailIdKey(randomBytes(32)));
for (let i = 0; i < TAILS; i++) {
  void tails.stream(
    new Sink() as unknown as ServerResponse,
    tails.listen('ws-a', 'fn-a'),
    { logs: [], more: false, last: 0 },
    false,
  );
}
// Counts the entries announced (a check that the tails heard them all).
const out = writer.subscribe('fn-a', () => announced++);
const lines = Array.from({ length: KIB }, (_, n) => `${String(n).padStart(5, '0')} ${'x'.repeat(1017)}`);
const log = (i: number): ExecutionLog => ({
  id: `log-${i}`,
  functionId: 'fn-a',
  workspaceId: 'ws-a',
  timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
  status: 'success',
  duration: 1,
  statusCode: 200,
  requestBody: null,
  responseBody: null,
  logs: lines.slice(),
  level: 'info',
  coldStart: false,
  deploymentVersion: 1,
  cpuMs: 1,
});
const times: number[] = [];
for (let i = 0; i < LOGS; i++) {
  writer.append(log(i));
  const t = performance.now();
  await writer.flush();
  times.push(performance.now() - t);
}
out();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
console.log(`\n${TAILS} tails, ${KIB}-KiB logs, medians of ${LOGS} (${announced} announced)\n`);
printTable([
  ['main thread a log, ms', 'logs/s one core can hand to the tails'],
  [median.toFixed(2), (1000 / median).toFixed(0)],
]);
tails.closeAll();
await writer.close();
