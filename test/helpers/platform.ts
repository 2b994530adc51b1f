// Test harness: a real platform (SQLite + files) in a fresh temp dir, with a settable clock.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPlatform, type Platform, type PlatformOptions } from '../../src/platform.js';

export { SAMPLE_HANDLER } from './samples.js';

/** One Pyodide snapshot for the whole test run (made once, atomically, by whichever test is first). */
export const SHARED_CACHE_DIR = join(tmpdir(), 'eunha-test-cache');

export interface TestPlatform extends Platform {
  dataDir: string;
  clock: { now: Date; advance(ms: number): void };
  cleanup(): Promise<void>;
}

export async function startTestPlatform(
  env: Record<string, string> = {},
  dataDir?: string,
  opts: Omit<PlatformOptions, 'logger' | 'clock'> & {
    /** Return as soon as the server could listen, before the active deployments are loaded. */
    beforeRestore?: boolean;
  } = {},
): Promise<TestPlatform> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'eunha-test-'));
  const clock = {
    now: new Date('2026-11-26T12:00:00.000Z'),
    advance(ms: number) {
      this.now = new Date(this.now.getTime() + ms);
    },
  };
  const config = loadConfig({
    EUNHA_DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    // Control-plane tests need no warm sandboxes; pipeline tests ask for some.
    EUNHA_WARM_POOL_SIZE: '0',
    EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
    // Off unless a test asks for it (test/security/abuse.test.ts): tests poll build tasks every
    // 10 ms, and a build slowed by a loaded machine polled past 600 a minute, so the test's next
    // request got 429.
    EUNHA_RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
  const { beforeRestore, ...platformOpts } = opts;
  const platform = await createPlatform(config, { ...platformOpts, logger: false, clock: () => clock.now });
  // Most tests look at what a restart restored: they go on once it is over, as they did when
  // createPlatform itself waited for it.
  if (!beforeRestore) await platform.restoring;
  return {
    ...platform,
    dataDir: dir,
    clock,
    async cleanup() {
      await platform.close();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A platform with its process log kept in memory at `level` (what an operator reads), in a data
 * directory of its own, or in `dataDir` (kept: a restart's test reads it again); `cleanup` closes
 * it and removes the directory it made.
 */
export async function startLoggedPlatform(
  env: Record<string, string>,
  level: Parameters<typeof createLogger>[0],
  dataDir?: string,
): Promise<{ p: Platform; logged: () => string; cleanup(): Promise<void> }> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'eunha-logged-'));
  let text = '';
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => (text += c.toString()));
  const config = loadConfig({ EUNHA_DATA_DIR: dir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, ...env });
  const p = await createPlatform(config, { logger: createLogger(level, sink) });
  return {
    p,
    logged: () => text,
    async cleanup() {
      await p.close();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A new workspace with one function, through the API; `payload` is merged into the create. */
export async function newFunction(
  p: Pick<Platform, 'app'>,
  payload: Record<string, unknown>,
): Promise<{ ws: string; fn: string }> {
  const ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'w' } })).json()
    .id as string;
  const created = await p.app.inject({
    method: 'POST',
    url: `/api/workspaces/${ws}/functions`,
    payload: { name: 'f', ...payload },
  });
  if (created.statusCode !== 201) throw new Error(`function create: ${created.statusCode} ${created.body}`);
  return { ws, fn: created.json().id as string };
}

/** The same, deployed by the one-call path (which must answer 201); `digest` is the artifact's. */
export async function deployedFunction(
  p: Pick<Platform, 'app'>,
  payload: Record<string, unknown>,
): Promise<{ ws: string; fn: string; digest: string }> {
  const { ws, fn } = await newFunction(p, payload);
  const d = await p.app.inject({ method: 'POST', url: `/api/workspaces/${ws}/functions/${fn}/deployments` });
  if (d.statusCode !== 201) throw new Error(`deploy: ${d.statusCode} ${d.body}`);
  return { ws, fn, digest: d.json().digest as string };
}
