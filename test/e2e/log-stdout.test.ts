// The server when its own log lines cannot be written: stdout on a full disk (/dev/full answers
// every write with ENOSPC) or a reader that went away (EPIPE). It used to die at the next request
// with every execution log still waiting for the store; it now drops and counts those lines and
// goes on, and its execution logs are all there after a graceful stop.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { b64, SAMPLE_HANDLER, SHARED_CACHE_DIR } from '../helpers/platform.js';
import { startServer } from '../helpers/server-process.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const CALLS = 20;

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** Creates, deploys and calls a function CALLS times; answers the function's id and workspace. */
async function traffic(url: string): Promise<{ ws: string; fn: string }> {
  const json = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    return res.json() as Promise<{ id: string }>;
  };
  const ws = (await json('POST', '/api/workspaces', { name: 'full' })).id;
  const fn = (await json('POST', `/api/workspaces/${ws}/functions`, { name: 'f', code: b64(SAMPLE_HANDLER) }))
    .id;
  await json('POST', `/api/workspaces/${ws}/functions/${fn}/deployments`);
  for (let i = 0; i < CALLS; i++) assert.equal((await fetch(`${url}/fn/${fn}`)).status, 200);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const dropped = Number(/^eunha_process_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1]);
  assert.ok(dropped > 0, `dropped lines counted: ${dropped}`);
  return { ws, fn };
}

/** After the stop: a fresh server on the same data directory has every call's execution log. */
async function logsKept(env: Record<string, string>, ids: { ws: string; fn: string }): Promise<void> {
  const again = await startServer(env);
  try {
    const res = await fetch(`${again.url}/api/workspaces/${ids.ws}/functions/${ids.fn}/logs?limit=100`);
    assert.equal(((await res.json()) as { logs: unknown[] }).logs.length, CALLS);
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
}

const serverEnv = (dir: string): Record<string, string> => ({
  EUNHA_DATA_DIR: join(dir, 'data'),
  EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
  EUNHA_WARM_POOL_SIZE: '1',
});

describe("the server's own log lines on a full disk or a closed pipe", () => {
  test(
    'stdout on a full disk (ENOSPC): it serves on and loses no execution log',
    { timeout: 90_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eunha-full-'));
      const env = serverEnv(dir);
      const full = openSync('/dev/full', 'w');
      try {
        const port = await freePort();
        const child = spawn(process.execPath, [MAIN], {
          env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', EUNHA_PORT: String(port), ...env },
          stdio: ['ignore', full, 'pipe'],
        });
        let err = '';
        child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
        const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
        const url = `http://127.0.0.1:${port}`;
        for (let up = false; !up; await new Promise((r) => setTimeout(r, 100))) {
          assert.equal(child.exitCode, null, `the server exited: ${err}`);
          up = await fetch(`${url}/health`).then(
            (r) => r.ok,
            () => false,
          );
        }
        const ids = await traffic(url);
        child.kill('SIGTERM');
        assert.equal(await exited, 0, err);
        await logsKept(env, ids);
      } finally {
        closeSync(full);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    'stdout a pipe whose reader went away (EPIPE): it serves on and loses no execution log',
    { timeout: 90_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eunha-epipe-'));
      const env = serverEnv(dir);
      try {
        const server = await startServer(env);
        // The log reader goes (a `| head`, a log shipper that died).
        server.child.stdout!.destroy();
        const ids = await traffic(server.url);
        server.child.kill('SIGTERM');
        assert.equal(await server.exited, 0, server.output());
        await logsKept(env, ids);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
