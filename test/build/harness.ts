// A small control plane for the build tests: the build routes on a Fastify app with the platform's
// own parsing, validation and error mapping, over the real SQLite + filesystem stores in a temp
// dir (the shared test platform does not wire the build routes yet).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandling } from '../../src/api/errors.js';
import { installJsonParser } from '../../src/api/json-body.js';
import { buildRoutes } from '../../src/api/routes/builds.js';
import type { UploadTimes } from '../../src/api/upload-form.js';
import { validatorCompiler } from '../../src/api/validation.js';
import { BuildService, type BuildServiceOptions, type SourceChecker } from '../../src/build/index.js';
import { randomIds } from '../../src/core/ids.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import type { BlobStore, MetadataStore, TaskPatch } from '../../src/store/ports.js';
import { openSqliteMetadataStore } from '../../src/store/sqlite/index.js';

export interface BuildHarness {
  app: FastifyInstance;
  builds: BuildService;
  meta: MetadataStore;
  blobs: BlobStore;
  dir: string;
  finished: Array<{ seconds: number; outcome: string }>;
  /**
   * Task ids in the order their builds started (marked running: the first, synchronous step of a
   * build, so this is the queue's own order, not that of later asynchronous steps).
   */
  started: string[];
  /** Closes app, service and stores; removes the dir unless keepDir. */
  close(keepDir?: boolean): Promise<void>;
}

export async function startBuildHarness(
  checker: SourceChecker,
  opts: Partial<Pick<BuildServiceOptions, 'concurrency' | 'maxSourceBytes' | 'zipLimits'>> & {
    dir?: string;
    start?: boolean;
    /** The blob store the service sees, in place of the real one (which `blobs` still is). */
    wrapBlobs?: (blobs: BlobStore) => BlobStore;
    uploads?: UploadTimes;
  } = {},
): Promise<BuildHarness> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'eunha-build-'));
  const meta = await openSqliteMetadataStore(join(dir, 'eunha.db'));
  const blobs = await openFsBlobStore(join(dir, 'blobs'));
  const finished: Array<{ seconds: number; outcome: string }> = [];
  const started: string[] = [];
  const watched = new Proxy(meta, {
    get(target, prop) {
      if (prop === 'updateTask') {
        return (taskId: string, patch: TaskPatch) => {
          if (patch.status === 'running') started.push(taskId);
          return target.updateTask(taskId, patch);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const builds = new BuildService({
    meta: watched,
    blobs: opts.wrapBlobs ? opts.wrapBlobs(blobs) : blobs,
    clock: () => new Date(),
    ids: randomIds,
    checker,
    concurrency: opts.concurrency ?? 2,
    maxSourceBytes: opts.maxSourceBytes ?? 10 * 1024 * 1024,
    ...(opts.zipLimits ? { zipLimits: opts.zipLimits } : {}),
    onBuildFinished: (seconds, outcome) => finished.push({ seconds, outcome }),
  });
  if (opts.start !== false) await builds.start();
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false } } });
  app.setValidatorCompiler(validatorCompiler);
  installJsonParser(app as unknown as FastifyInstance);
  installErrorHandling(app as unknown as FastifyInstance);
  await buildRoutes(app as unknown as FastifyInstance, builds, undefined, opts.uploads);
  await app.ready();
  return {
    app: app as unknown as FastifyInstance,
    builds,
    meta,
    blobs,
    dir,
    finished,
    started,
    async close(keepDir = false) {
      await app.close();
      await builds.close();
      await meta.close();
      await blobs.close();
      if (!keepDir && !opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A multipart/form-data body with text fields and at most one file. */
export function multipart(
  fields: Record<string, string>,
  file?: { field?: string; filename: string; data: Uint8Array | string },
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----eunha${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  if (file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'file'}"; ` +
          `filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      typeof file.data === 'string' ? Buffer.from(file.data, 'utf8') : Buffer.from(file.data),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** Polls a task until it is completed or failed (or throws after timeoutMs). */
export async function waitForTask(
  app: FastifyInstance,
  taskId: string,
  timeoutMs = 15_000,
): Promise<{
  task_id: string;
  status: string;
  result: Record<string, string | null> | null;
  error: string | null;
}> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/api/v1/tasks/${taskId}` });
    const body = res.json();
    if (body.status === 'completed' || body.status === 'failed') return body;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${body.status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
