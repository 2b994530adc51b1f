// Composition root: config → adapters → services → HTTP app. The only place that knows which
// adapter sits behind each port. main.ts adds the socket and the signals; tests call this directly.

import { chmodSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import { ApiKeyService } from './auth/api-keys.js';
import { Authenticator } from './auth/principal.js';
import { RateLimiter } from './auth/rate-limit.js';
import { SecretBox } from './auth/secrets.js';
import { loadSecretsKey, requireKeyForSealed, requireNewKey, unreadKeyFile } from './auth/secrets-key.js';
import { reportReseal, resealWithCurrentKey } from './auth/secrets-rotation.js';
import { buildBlobPrefixes, BuildService, loadArtifact } from './build/index.js';
import { requireProtectedBinding, type Config } from './config/config.js';
import { randomIds, systemClock, type Clock, type IdSource } from './core/ids.js';
import { DeploymentService } from './deploy/deployments.js';
import { LocalTarget } from './deploy/local-target.js';
import { DeploymentRestorer, type RestoreSummary } from './deploy/restore.js';
import { Invoker } from './gateway/invoker.js';
import { ExecutionLogService } from './observability/execution-logs.js';
import { LiveTails } from './observability/live-tail.js';
import { TailIdKey } from './observability/tail-ids.js';
import { ExecutionLogWriter } from './observability/log-writer.js';
import { LogRetention } from './observability/log-retention.js';
import { TaskRetention } from './build/task-retention.js';
import { DAY_MS } from './services/deps.js';
import { Metrics } from './observability/metrics.js';
import { OutboundHttp } from './runtime/outbound-http.js';
import { Runtime } from './runtime/index.js';
import { EunhaError } from './core/errors.js';
import { DEFAULT_MEMORY_MB, FunctionService } from './services/functions.js';
import { sweepOrphanBlobs } from './services/orphan-blobs.js';
import { UndrainedResponses } from './api/undrained.js';
import { BodyBudget } from './gateway/body-budget.js';
import { WorkspaceService } from './services/workspaces.js';
import { openFsBlobStore } from './store/fs/index.js';
import { MeteredBlobStore } from './store/metered-blobs.js';
import { WorkspaceStorage, workspaceBlobOwners } from './services/storage-quota.js';
import type { BlobStore, MetadataStore } from './store/ports.js';
import { openSqliteMetadataStore } from './store/sqlite/index.js';
import { lockDataDir } from './store/data-dir-lock.js';
import { makeDirectory, openingPath } from './store/path-error.js';
import { listenError } from './api/listen-error.js';
import {
  DataDirStateError,
  installationId,
  readDataDirState,
  requireDatabaseForBlobs,
  type DataDirState,
} from './store/data-dir-state.js';
import { VERSION } from './version.js';

export interface Platform {
  app: FastifyInstance;
  meta: MetadataStore;
  blobs: BlobStore;
  runtime: Runtime;
  writer: ExecutionLogWriter;
  /** Start-up's restore of the active deployments, which runs in the background (deploy/restore.ts). */
  restoring: Promise<RestoreSummary>;
  /** Listens; when no EUNHA_PUBLIC_URL was given, invocation URLs then use the real port. */
  listen(host: string, port: number): Promise<string>;
  publicUrl(): string;
  /** Stops the HTTP app (in-flight requests finish), flushes logs, stops sandboxes, closes stores. */
  close(): Promise<void>;
}

export interface PlatformOptions {
  logger: Logger | false;
  clock?: Clock;
  ids?: IdSource;
  /** Tests: the configured blob store with a fault of theirs in it (a read that fails for a while). */
  wrapBlobs?: (stored: BlobStore) => BlobStore;
}

/**
 * Tenants' code, environment variables, logs and key-value data are for this server's user only:
 * under the usual umask the database and blobs were readable by every local user (a review), an
 * escaped sandbox's uid included. Sandbox hosts read nothing in it (the snapshot comes as an fd).
 * A directory someone else owns is left as it is. Said when changed: a backup agent running as
 * another user loses its access (an upgrade review).
 */
function keepPrivate(dir: string, logger: Logger | undefined): void {
  try {
    const mode = statSync(dir).mode & 0o777;
    if ((mode & 0o077) === 0) return;
    chmodSync(dir, 0o700);
    logger?.warn(
      { dataDir: dir, was: mode.toString(8), now: '700' },
      `the data directory was open to other users (mode ${mode.toString(8)}): it is now 700, since it holds tenants' code, logs and secrets`,
    );
  } catch {
    // Not ours to change.
  }
}

/**
 * A memory budget (set, or ¾ of a small machine) that cannot hold one function of the default size
 * is accepted, since smaller functions still fit, but said at start: otherwise the first sign was
 * every default deploy refused (an operator's review).
 */
function warnIfDefaultFunctionsDoNotFit(runtime: Runtime, logger: Logger | undefined): void {
  try {
    runtime.checkFits(DEFAULT_MEMORY_MB);
  } catch (err) {
    if (!(err instanceof EunhaError)) throw err;
    logger?.warn(
      { budgetMb: err.details.budgetMb, defaultMemoryMb: DEFAULT_MEMORY_MB },
      `${err.message}: deploys of functions of the default memory will be refused; raise EUNHA_MEMORY_BUDGET_MB ` +
        '(or EUNHA_WORKSPACE_MEMORY_BUDGET_MB), or give functions less memory',
    );
  }
}

export async function createPlatform(config: Config, opts: PlatformOptions): Promise<Platform> {
  const dataDir = resolve(config.dataDir);
  makeDirectory(dataDir, 0o700);
  keepPrivate(dataDir, opts.logger || undefined);
  const unlock = openingPath(join(dataDir, 'eunha.lock'), () => lockDataDir(dataDir));
  try {
    return await compose(config, opts, dataDir, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function compose(
  config: Config,
  opts: PlatformOptions,
  dataDir: string,
  unlock: () => void,
): Promise<Platform> {
  const clock = opts.clock ?? systemClock;
  const ids = opts.ids ?? randomIds;
  const logger = opts.logger || undefined;
  const before = readDataDirState(dataDir);
  const opened = await openBlobs(config, dataDir, before);
  const stored = opts.wrapBlobs ? opts.wrapBlobs(opened) : opened;
  const meta = await openSqliteMetadataStore(join(dataDir, 'eunha.db'), {
    now: clock,
    onCheckpointError: (message) => logger?.warn(message),
    onMigration: (fields, msg) => logger?.info(fields, msg),
    kvMaxBytesPerFunction: config.kvMaxBytesPerFunction,
    logMaxBytesPerFunction: config.logMaxBytesPerFunction,
  });
  // Every write goes through the meter, so each workspace's storage is known without a walk.
  const blobs = new MeteredBlobStore(stored, workspaceBlobOwners);
  const storage = new WorkspaceStorage(blobs, {
    maxBytes: config.workspaceStorageMaxBytes,
    maxFiles: config.workspaceStorageMaxFiles,
  });

  const secretsKey = loadSecretsKey(config.secretsKey, dataDir);
  const secrets = new SecretBox(secretsKey.key, config.secretsKeyPrevious);
  try {
    requireNewKey(secretsKey, config.secretsKeyPrevious);
    await requireKeyForSealed(secretsKey, before.databaseExisted, () => countSealed(meta));
    // Before anything opens a secret (the restore, a request): all of them are under the current
    // key from then on. A store failure half-way fails the start; the next one finishes the job.
    if (config.secretsKeyPrevious) {
      const summary = await resealWithCurrentKey(meta, secrets);
      if (logger) reportReseal(summary, logger, unreadKeyFile(secretsKey, dataDir));
    }
  } catch (err) {
    await meta.close();
    await blobs.close();
    throw err;
  }
  if (secretsKey.source !== 'config' && secretsKey.source.created) {
    logger?.warn(
      { path: secretsKey.source.path },
      'generated a secrets key for secret environment variables; production must set EUNHA_SECRETS_KEY',
    );
  }
  const apiKeys = new ApiKeyService({ meta, clock, ids });
  const auth = new Authenticator(config.adminKey, apiKeys, config.metricsToken);
  if (auth.open) {
    logger?.warn(
      { host: config.host },
      'ACCESS CONTROL IS OFF: no EUNHA_ADMIN_KEY is set, so anyone who can reach this port can do anything. ' +
        'This is allowed on loopback only; set EUNHA_ADMIN_KEY to require keys.',
    );
  }

  let publicUrl = config.publicUrl;
  // Here rather than in the runtime, so that a cache directory that cannot be made is named and explained.
  makeDirectory(resolve(config.cacheDir));
  const outbound = new OutboundHttp(config.outbound);
  const runtime = new Runtime({
    kv: meta.kv,
    cacheDir: resolve(config.cacheDir),
    ownsCache: resolve(config.cacheDir) === resolve(config.dataDir, 'cache'),
    poolSize: config.warmPoolSize,
    maxInstances: config.maxInstances,
    maxInstancesPerFunction: config.maxInstancesPerFunction,
    ...(config.maxInstancesPerWorkspace ? { maxInstancesPerWorkspace: config.maxInstancesPerWorkspace } : {}),
    ...(config.memoryBudgetMb ? { memoryBudgetMb: config.memoryBudgetMb } : {}),
    ...(config.workspaceMemoryBudgetMb ? { workspaceMemoryBudgetMb: config.workspaceMemoryBudgetMb } : {}),
    pipelineDepth: config.pipelineDepth,
    longRequestNice: config.longRequestNice,
    instancesPerProcess: config.instancesPerProcess,
    bootTimeoutMs: config.bootTimeoutMs,
    idleTtlMs: config.idleTtlMs,
    queueLimit: config.queueLimit,
    queueTimeoutMs: config.queueTimeoutMs,
    maxRequestBytes: config.bodyLimitBytes,
    outbound,
    logger: (entry) =>
      logger?.[entry.level === 'warn' ? 'warn' : entry.level === 'error' ? 'error' : 'debug'](
        { runtime: entry },
        String(entry.msg ?? 'runtime'),
      ),
  });
  await runtime.start();
  warnIfDefaultFunctionsDoNotFit(runtime, logger);

  const unread = new UndrainedResponses({
    budgetBytes: config.unreadResponseBytes,
    deadlineMs: config.unreadResponseTimeoutMs,
  });
  const bodies = new BodyBudget(config.fnBodyBudgetBytes, Math.floor(config.fnBodyBudgetBytes / 4));
  // Gauges are read at scrape time, after everything below exists (`target` included).
  const metrics = new Metrics({
    services: () => target.serving(),
    functions: () => target.routed(),
    runtime: () => {
      const s = runtime.stats();
      return {
        instances: s.instances,
        reservedMemoryBytes: s.memory.reservedMb * 1024 * 1024,
        warmPool: s.warmPool.ready,
        hostProcesses: s.warmPool.processes,
        spares: s.warmPool.spares,
        queueDepth: s.queueDepth,
        pipelined: s.pipelined,
      };
    },
    logs: () => writer.stats(),
    unread: () => unread.stats(),
    fnBodyBytes: () => bodies.heldBytes(),
  });
  outbound.observe = (fn, outcome, seconds) => metrics.recordOutbound(fn, outcome, seconds);
  const builds = new BuildService({
    meta,
    blobs,
    clock,
    ids,
    ...(logger ? { logger } : {}),
    checker: runtime,
    quota: storage,
    concurrency: config.buildConcurrency,
    maxSourceBytes: config.maxSourceBytes,
    onBuildFinished: (seconds, outcome) => metrics.builds.observe({ outcome }, seconds),
  });
  await builds.start();
  // After start() has settled the tasks a crash left behind, before anything can write blobs.
  const swept = await sweepOrphanBlobs(meta, blobs);
  if (swept.code + swept.artifacts + swept.sources > 0) {
    logger?.info(swept, 'removed blobs that no record names (left by a crash)');
  }
  if (swept.failed > 0)
    logger?.warn(swept, 'could not remove some blobs that no record names; the next start retries');

  const target = new LocalTarget(
    runtime,
    async (ws, digest) => (await loadArtifact(blobs, ws, digest)).files,
    (d) => secrets.openAll(d.config.secretEnvironmentVariables, d.workspaceId, d.functionId),
  );
  const deps = {
    meta,
    blobs,
    clock,
    ids,
    events: {
      changed: target.functionChanged.bind(target),
      deleted: async (functionId: string) => {
        await target.remove(functionId);
        await metrics.forget(functionId);
      },
    },
    secrets,
    quota: storage,
    artifacts: builds,
    warn: (fields: object, msg: string) => logger?.warn(fields, msg),
  };
  const functions = new FunctionService(deps);
  const workspaces = new WorkspaceService(deps, buildBlobPrefixes);
  const deployments = new DeploymentService({
    meta,
    functions,
    artifacts: builds,
    target,
    clock,
    publicUrl: () => publicUrl,
    maxVersions: config.maxVersionsPerFunction,
    log: (level, obj, msg) => logger?.[level](obj, msg),
  });
  const writer = new ExecutionLogWriter(meta, {
    log: (level, fields, msg) => logger?.[level](fields, msg),
  });
  const invoker = new Invoker({
    runtime,
    writer,
    metrics,
    clock,
    ids,
    logBodyCap: config.logBodyCap,
    currentRoute: (id) => target.route(id),
  });
  const tails = new LiveTails(writer, new TailIdKey(secretsKey.key));
  const retention = new LogRetention(meta, clock, {
    retentionMs: config.logRetentionDays * DAY_MS,
    onError: (err) => logger?.error({ err }, 'execution-log retention sweep failed; the next one retries'),
    onRemoved: (removed) =>
      logger?.info(
        { removed, retentionDays: config.logRetentionDays },
        `deleted ${removed} execution logs older than ${config.logRetentionDays} days (EUNHA_LOG_RETENTION_DAYS)`,
      ),
  });
  retention.start();
  const taskRetention = new TaskRetention(meta, blobs, clock, {
    retentionMs: config.taskRetentionDays * DAY_MS,
    collectArtifacts: (ws, digests) => builds.collectArtifacts(ws, digests),
    underWay: builds.underWay,
    onError: (err) => logger?.error({ err }, 'build-task retention failed; the next sweep retries'),
    onRemoved: (removed) =>
      logger?.info(
        { removed, retentionDays: config.taskRetentionDays },
        `deleted ${removed} finished build tasks older than ${config.taskRetentionDays} days, with their uploads (EUNHA_TASK_RETENTION_DAYS)`,
      ),
  });
  taskRetention.start();

  const restorer = new DeploymentRestorer({
    meta,
    target,
    repairRecord: (fn, d) => deployments.repairRecord(fn, d),
    concurrency: restoreConcurrency(config),
    ...(logger ? { log: logger } : {}),
  });
  const app = await buildApp({
    config,
    version: VERSION,
    clock,
    meta,
    workspaces,
    functions,
    logs: new ExecutionLogService(meta),
    tails,
    builds,
    deployments,
    target,
    invoker,
    metrics,
    auth,
    apiKeys,
    // Wall time, not the injectable clock: a rate is about real seconds even when tests pin the date.
    limiter: new RateLimiter(config.rateLimitPerMinute),
    publicUrl: () => publicUrl,
    logger: opts.logger,
    unread,
    bodies,
  });

  // Only the listing is awaited; the loads run in the background. The server listens while they
  // do (callers of a function not yet loaded wait for it, /ready fails until they are over), so a
  // tenant's slow imports no longer keep the socket, the liveness probe and a SIGTERM's handling
  // waiting for every function to load one by one.
  const startedAt = Date.now();
  const restoring = (await restorer.restore()).done.then((summary) => {
    if (summary.restored + summary.failed + summary.retrying + summary.skipped > 0) {
      logger?.info({ ...summary, ms: Date.now() - startedAt }, 'restored active deployments');
    }
    return summary;
  });

  let closing: Promise<void> | undefined;
  return {
    app,
    meta,
    blobs,
    runtime,
    writer,
    restoring,
    publicUrl: () => publicUrl,
    async listen(host, port) {
      requireProtectedBinding(config, host);
      const address = await app.listen({ host, port }).catch((err: unknown) => {
        throw listenError(err, host, port);
      });
      const bound = app.server.address();
      if (!config.publicUrlExplicit && bound && typeof bound === 'object') {
        const u = new URL(config.publicUrl);
        u.port = String(bound.port);
        publicUrl = u.toString().replace(/\/+$/, '');
      }
      return address;
    },
    close: () =>
      (closing ??= (async () => {
        try {
          await shutDown();
        } finally {
          unlock();
        }
      })()),
  };

  async function shutDown(): Promise<void> {
    // First: restores not yet started are skipped, and callers waiting for one are answered now
    // rather than holding app.close() below until their function loads.
    restorer.close();
    // And no build starts: app.close() below waits for deploys waiting for one.
    builds.stop();
    tails.closeAll();
    // close() stops accepting and waits for open connections; a keep-alive connection whose
    // last request finishes after that moment would hold it forever, so idle ones are closed
    // as they appear.
    const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
    // main.ts exits when the grace period is over, and a request still running then was cut off
    // with no answer and no execution log. Shortly before, such requests are ended (503
    // SHUTTING_DOWN), so they are answered and logged. 3 s leaves room for the answers, the log
    // writer's flush and the runtime's stop (a sandbox that ignores its kill takes its process
    // with it after 2 s, host-process.ts).
    const grace = config.shutdownGraceMs;
    const cutter = setTimeout(
      () => {
        const cut = runtime.cutRunning();
        if (cut > 0)
          logger?.warn(
            { cut },
            `ended ${cut} running requests and build checks: the shutdown grace period is nearly over`,
          );
      },
      grace - Math.min(3_000, grace / 2),
    );
    try {
      await app.close();
      // A call whose caller hung up holds no connection for close() to wait for, yet it runs on
      // and is logged when it ends: the writer closes after it (the cut above still bounds it).
      await invoker.drained();
      // Running builds may finish, until the cut: it ends their checks (their tasks fail as
      // interrupted). Waited for after it was disarmed, a build check outlasted the grace period.
      await builds.close();
    } finally {
      clearInterval(reaper);
      clearTimeout(cutter);
    }
    await retention.close();
    await taskRetention.close();
    const { lost } = await writer.close();
    await runtime.close();
    // The runtime's close ended the loads still under way; none may write to the store after it
    // closes (a repair), nor be left running.
    await restorer.settled();
    await outbound.close();
    await meta.close();
    await blobs.close();
    // Said by the writer already; the process must not report a clean stop (main.ts exits 1).
    if (lost > 0) throw new Error(`${lost} execution logs could not be written before shutdown`);
  }
}

/**
 * The configured blob store, opened before the database is (which creates a missing one): blobs
 * of an earlier run without its database refuse the start (data-dir-state.ts).
 */
async function openBlobs(config: Config, dataDir: string, before: DataDirState): Promise<BlobStore> {
  const where = config.blobStore;
  if (where.kind === 'fs') {
    requireDatabaseForBlobs(before, dataDir);
    makeDirectory(join(dataDir, 'blobs'));
    return openFsBlobStore(join(dataDir, 'blobs'));
  }
  // Loaded only here: the AWS SDK costs a fresh start time and memory it does not need otherwise.
  const { openS3BlobStore } = await import('./store/s3/index.js');
  const opened = await openS3BlobStore({
    bucket: where.bucket,
    keyPrefix: where.keyPrefix,
    region: where.region,
    endpoint: where.endpoint,
    forcePathStyle: where.forcePathStyle,
  });
  const prefix = `s3://${where.bucket}/${where.keyPrefix}`;
  try {
    const id = installationId(dataDir);
    if (opened.owner !== undefined && opened.owner !== id) {
      throw new DataDirStateError(
        `${prefix} belongs to another Eunha installation (${opened.owner}); this one is ${id} ` +
          `(${join(dataDir, 'installation-id')}). Its start-up sweep would delete what that one stores: ` +
          'give each installation its own EUNHA_S3_PREFIX (or, if this is that installation with a ' +
          'restored data directory, restore its installation-id too).',
      );
    }
    requireDatabaseForBlobs(
      { databaseExisted: before.databaseExisted, blobsHeld: opened.blobsHeld },
      dataDir,
      prefix,
    );
    // Again when it is ours: a credential that may read but not write stops the start here,
    // not at the first upload.
    await opened.claim(id);
  } catch (err) {
    await opened.store.close();
    throw err;
  }
  return opened.store;
}

/**
 * How many deployments start-up loads at once. A load is a sandbox's specialisation: for most
 * functions CPU (≈0.5 s of imports, niced like a request), for some a wait (an import that calls
 * out or sleeps). Two per core keeps the cores busy while some loads only wait, without so many
 * CPU-bound imports at once that each takes several times longer (and meets the load timeout)
 * or every function's first instance reserves its memory in the same instant; never more than
 * the runtime may run, and at most 8.
 */
export function restoreConcurrency(
  config: Pick<Config, 'maxInstances'>,
  cores = availableParallelism(),
): number {
  return Math.max(1, Math.min(8, 2 * cores, config.maxInstances));
}

/** Functions and deployments holding sealed secret variables (read once, at start-up). */
async function countSealed(meta: MetadataStore): Promise<number> {
  const holds = (sealed: Record<string, string> | undefined) => Object.keys(sealed ?? {}).length > 0;
  let n = 0;
  for (const ws of await meta.listWorkspaces()) {
    for (const fn of await meta.listFunctions(ws.id)) {
      if (holds(fn.secretEnvironmentVariables)) n++;
      for (const d of await meta.listDeployments(fn.id)) if (holds(d.config.secretEnvironmentVariables)) n++;
    }
  }
  return n;
}
