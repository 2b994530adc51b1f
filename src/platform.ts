// Composition root: config → adapters → services → HTTP app. The only place that knows which
// adapter sits behind each port. main.ts adds the socket and the signals; tests call this directly.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import type { Config } from './config/config.js';
import { randomIds, systemClock, type Clock, type IdSource } from './core/ids.js';
import { ExecutionLogService } from './observability/execution-logs.js';
import { FunctionService } from './services/functions.js';
import { WorkspaceService } from './services/workspaces.js';
import { openFsBlobStore } from './store/fs/index.js';
import type { BlobStore, MetadataStore } from './store/ports.js';
import { openSqliteMetadataStore } from './store/sqlite/index.js';
import { VERSION } from './version.js';

export interface Platform {
  app: FastifyInstance;
  meta: MetadataStore;
  blobs: BlobStore;
  /** Stops the HTTP app (in-flight requests finish), then closes the stores. */
  close(): Promise<void>;
}

export interface PlatformOptions {
  logger: Logger | false;
  clock?: Clock;
  ids?: IdSource;
}

export async function createPlatform(config: Config, opts: PlatformOptions): Promise<Platform> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const clock = opts.clock ?? systemClock;
  const meta = await openSqliteMetadataStore(join(dataDir, 'eunha.db'), { now: clock });
  const blobs = await openFsBlobStore(join(dataDir, 'blobs'));
  const deps = { meta, blobs, clock, ids: opts.ids ?? randomIds };

  const app = await buildApp({
    config,
    version: VERSION,
    workspaces: new WorkspaceService(deps),
    functions: new FunctionService(deps),
    logs: new ExecutionLogService(meta),
    logger: opts.logger,
  });

  let closing: Promise<void> | undefined;
  return {
    app,
    meta,
    blobs,
    close: () =>
      (closing ??= (async () => {
        // close() stops accepting and waits for open connections; a keep-alive connection whose
        // last request finishes after that moment would hold it forever, so idle ones are closed
        // as they appear.
        const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
        try {
          await app.close();
        } finally {
          clearInterval(reaper);
        }
        await meta.close();
        await blobs.close();
      })()),
  };
}
