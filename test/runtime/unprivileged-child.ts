// Run by unprivileged.test.ts under another uid (setpriv): starts a runtime as an ordinary user
// would with `npm start`, serves a few requests, and prints what the test checks as one JSON line.
// Not a test file itself (no .test suffix): it only runs in that child process.

import { readFileSync, readdirSync } from 'node:fs';
import { Runtime } from '../../src/runtime/index.js';
import { MemoryKv, get, handler, text, untilSpare, version } from './helpers.js';

function nices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

const rt = new Runtime({ kv: new MemoryKv(), cacheDir: process.argv[2]!, poolSize: 1 });
await rt.start();
try {
  const v = version(
    handler('return Response(200, {}, b"hello as " + str(os.getuid()).encode())', 'import os'),
  );
  await rt.load(v);
  const bodies: string[] = [];
  for (let i = 0; i < 3; i++) bodies.push(text((await rt.invoke(v.key, get())).body));
  // A spare boots in the background after the first instance: it runs at the same nice value.
  await untilSpare(rt);
  const stats = rt.stats();
  const pid = stats.versions[v.key]!.pids[0]!;
  console.log(
    JSON.stringify({ uid: process.getuid?.(), bodies, isolation: stats.isolation, hostNices: nices(pid) }),
  );
} finally {
  await rt.close();
}
