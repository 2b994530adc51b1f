// Test harness: a real platform (SQLite + files) in a fresh temp dir, with a settable clock.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { createPlatform, type Platform } from '../../src/platform.js';

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
    ...env,
  });
  const platform = await createPlatform(config, { logger: false, clock: () => clock.now });
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

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
