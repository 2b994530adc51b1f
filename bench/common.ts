// What the bench programs share: the hello-world function they all run, a key-value port that
// stores nothing, the snapshot cache they reuse, per-process memory from /proc, memory of extra
// warm instances through the real runtime, the built server started on a port of its own, and
// the Markdown table they print.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime, type FunctionVersion } from '../src/runtime/index.js';
import type { KeyValuePort } from '../src/core/kv.js';

/** The seed README's sample, as a user would deploy it. */
export const HELLO_SOURCE = `from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        return Response(200, {"content-type": "text/plain"}, bytes("Hello from Blue FaaS!", "utf-8"))
`;

export const BENCH_CACHE_DIR = join(tmpdir(), 'eunha-runtime-bench-cache');

export const noKv: KeyValuePort = {
  get: async () => undefined,
  set: async () => undefined,
  delete: async () => undefined,
  exists: async () => false,
  keys: async () => [],
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export interface Mem {
  rss: number;
  pss: number;
  /** The pages only this process maps: what the machine gets back when it stops. */
  uss: number;
}

/** Memory of a process, in MB, from /proc/<pid>/smaps_rollup. */
export function procMem(pid: number | 'self'): Mem {
  const txt = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const get = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(txt)?.[1] ?? 0) / 1024;
  return { rss: get('Rss'), pss: get('Pss'), uss: get('Private_Clean') + get('Private_Dirty') };
}

let seq = 0;
const helloVersion = (workspaceId: string): FunctionVersion => {
  seq++;
  return {
    key: `mem-${seq}@1`,
    functionId: `mem-${seq}`,
    workspaceId,
    engine: 'python',
    files: { 'app.py': new TextEncoder().encode(HELLO_SOURCE) },
    env: {},
    memoryMb: 128,
    timeoutMs: 5000,
  };
};

const sum = (ms: Mem[]): Mem =>
  ms.reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss, uss: a.uss + m.uss }), {
    rss: 0,
    pss: 0,
    uss: 0,
  });

/**
 * Through the real runtime, in one workspace: after a first instance, `count` more (different
 * functions, each loaded and invoked once, then given time for the spare sandbox to boot); for
 * each, how much the memory of all the workspace's processes grew. With `instancesPerProcess` 1
 * each instance is a process of its own; otherwise instances are worker threads of shared ones.
 */
export async function extraInstanceMemory(count: number, instancesPerProcess: number): Promise<Mem[]> {
  const rt = new Runtime({ kv: noKv, cacheDir: BENCH_CACHE_DIR, poolSize: 0, instancesPerProcess });
  await rt.start();
  const ws = `ws-mem-${instancesPerProcess}`;
  const keys: string[] = [];
  const add = async (): Promise<void> => {
    const v = helloVersion(ws);
    await rt.load(v);
    await rt.invoke(v.key, { method: 'GET', uri: '/', headers: {}, body: new Uint8Array(0) });
    keys.push(v.key);
    await sleep(1500);
  };
  const total = (): Mem => sum([...new Set(keys.flatMap((k) => rt.stats().versions[k]!.pids))].map(procMem));
  try {
    await add();
    let prev = total();
    const deltas: Mem[] = [];
    for (let i = 0; i < count; i++) {
      await add();
      const now = total();
      deltas.push({ rss: now.rss - prev.rss, pss: now.pss - prev.pss, uss: now.uss - prev.uss });
      prev = now;
    }
    return deltas;
  } finally {
    await rt.close();
  }
}

/** Prints a Markdown table; the first row is the header. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(`| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`);
    if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  }
}

/** The first match group of `re` in the child's output, once it appears. */
export function waitFor(child: ChildProcess, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let found = false;
    const on = (c: Buffer) => {
      if (found) return; // keep draining the pipe, stop buffering
      out += c.toString();
      const m = re.exec(out);
      if (m) {
        found = true;
        resolve(m[1]!);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.on('exit', (code) => found || reject(new Error(`exited ${code}: ${out}`)));
  });
}

export async function json(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

export interface BenchServer {
  base: string;
  stop(): Promise<void>;
}

/** The built Eunha server (`npm start`'s entry) on a free port and a data directory of its own. */
export async function startServer(env: Record<string, string>): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'eunha-bench-'));
  const server = spawn(process.execPath, [fileURLToPath(new URL('../src/main.js', import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', EUNHA_PORT: '0', EUNHA_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A server that dies mid-run says why.
  let tail = '';
  const keep = (c: Buffer): void => {
    tail = (tail + c.toString()).slice(-4000);
  };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  let stopping = false;
  server.on('exit', (code, signal) => {
    if (!stopping) console.error(`the server exited (${code ?? signal}):\n${tail}`);
  });
  const stop = async (): Promise<void> => {
    stopping = true;
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.on('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    return { base: await waitFor(server, /Eunha listening on (http:\/\/[^\s"]+)/), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `--name N` from the command line, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a number, got ${process.argv[i + 1]}`);
  return n;
}
