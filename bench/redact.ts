// Secret masking of logged bodies (auth/redact.ts): what it costs the server's main thread per
// call, for a function with many long secrets and large bodies, masking only what the execution
// log keeps (the platform's way) against masking the whole body (the baseline, measured in the
// same run: read the ratio, this machine is noisy). Both run on the main thread in the server.
//
//   npm run build && node dist/bench/redact.js [--secrets 256] [--secret-kib 32] [--body-mib 6] [--runs 9]

import { performance } from 'node:perf_hooks';
import { Redactor } from '../src/auth/redact.js';
import { numberArg, printTable } from './common.js';

const SECRETS = numberArg('secrets', 256);
const SECRET_KIB = numberArg('secret-kib', 32);
const BODY_MIB = numberArg('body-mib', 6);
const RUNS = numberArg('runs', 9);
const LOG_CAP = 8192; // EUNHA_LOG_BODY_BYTES's default

// A quote and a non-ASCII letter give each secret its two JSON spellings too (3 per secret).
const secrets = Array.from(
  { length: SECRETS },
  (_, i) => `é"${String(i).padStart(4, '0')}${'x'.repeat(SECRET_KIB * 1024 - 8)}`,
);
const redactor = new Redactor(secrets);
const bodies: Array<[string, Buffer]> = [
  ['no secret in it', Buffer.alloc(BODY_MIB * 1024 * 1024, 'x')],
  [
    'a secret at its start',
    Buffer.concat([Buffer.from(secrets[0]!), Buffer.alloc(BODY_MIB * 1024 * 1024, 'y')]),
  ],
];

function median(f: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

const rows = [['body', 'whole body, ms', `what the log keeps (${LOG_CAP} B), ms`, 'ratio']];
for (const [name, body] of bodies) {
  const whole = median(() => redactor.buffer(body));
  const kept = median(() => redactor.buffer(body, LOG_CAP));
  rows.push([name, whole.toFixed(1), kept.toFixed(2), `${(whole / kept).toFixed(0)}×`]);
}
console.log(
  `\n${SECRETS} secrets of ${SECRET_KIB} KiB (${SECRETS * 3} spellings), ${BODY_MIB}-MiB bodies, medians of ${RUNS}\n`,
);
printTable(rows);
