// The server process: read the config, compose the platform, listen, and shut down gracefully on
// SIGTERM/SIGINT/SIGHUP (stop accepting, let in-flight requests finish, close the database); a
// second signal during that stop exits at once.

import { lookup } from 'node:dns/promises';
import { createServer, isIP } from 'node:net';
import { ListenError, listenError } from './api/listen-error.js';
import { ConfigError, loadConfig, requireProtectedBinding } from './config/config.js';
import { unknownVariables } from './config/unknown-variables.js';
import { createLogger } from './observability/logger.js';
import { createPlatform, type Platform } from './platform.js';
import { DataDirInUseError } from './store/data-dir-lock.js';
import { DataDirStateError } from './store/data-dir-state.js';
import { S3OpenError } from './store/s3/open-error.js';
import { SchemaTooNewError } from './store/sqlite/index.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
    // Before anything is opened: an unprotected server on a reachable address never starts.
    requireProtectedBinding(config, config.host);
    // Likewise a host name that does not resolve: it failed only at listen, after the data
    // directory, the database and a secrets key had been made.
    const host = config.host;
    if (isIP(host) === 0)
      await lookup(host).catch((err: unknown) => {
        const code = (err as { code?: unknown }).code;
        throw new ConfigError('EUNHA_HOST', `'${host}' does not resolve (${String(code)})`);
      });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`eunha: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const unknown = unknownVariables(process.env);
  if (unknown.length > 0) {
    const listed = unknown.map((u) => (u.meant ? `${u.name} (did you mean ${u.meant}?)` : u.name));
    logger.warn(
      { unknown: unknown.map((u) => u.name) },
      `ignoring environment variables this server does not read: ${listed.join(', ')}`,
    );
  }
  let platform: Platform | undefined = undefined;
  // A signal during start-up (making the Pyodide snapshot on a first start can take a while)
  // stops it once the platform is composed. The deployments' restore no longer holds that up: it
  // runs after the server listens, and the stop skips what it has not loaded.
  let stopAsked: string | undefined;
  let force: NodeJS.Timeout | undefined;
  const stop = (signal: string) => {
    // A second signal is an operator (a second Ctrl-C) or an orchestrator that will not wait:
    // it was ignored, and the stop went on until the grace period was over.
    if (force !== undefined) {
      logger.error(
        { signal },
        `${signal} again while stopping: exiting now; execution logs still waiting to be written may be lost`,
      );
      process.exit(1);
    }
    // The grace period runs from the signal, whatever the start-up is doing then.
    force = setTimeout(() => {
      logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown grace period over; exiting');
      // The logs of calls already answered are written first (a batch is milliseconds): with a
      // grace of 0, the last batch's were lost. A store that hangs gets a second at most.
      const exit = (): never => process.exit(1);
      setTimeout(exit, 1_000).unref();
      void (platform?.writer.flush() ?? Promise.resolve()).then(exit, exit);
    }, config.shutdownGraceMs).unref();
    if (platform) shutDown(platform, signal);
    else stopAsked = signal;
  };
  const shutDown = (p: Platform, signal: string) => {
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    p.close().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  // SIGHUP too (a closed terminal, `kill -HUP`): by default it ended the process at once, without
  // the graceful stop, and the batched execution logs were lost.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  // Before the data directory, the database, a secrets key and a Pyodide snapshot are made: a
  // port in use was found only after all of that (on a first start, seconds to minutes later).
  // A check, not a reservation: listen() below still reports a port taken in between.
  await checkPortFree(config.host, config.port);
  platform = await createPlatform(config, { logger });
  if (stopAsked) return shutDown(platform, stopAsked);

  const address = await platform.listen(config.host, config.port);
  logger.info(
    { address, dataDir: config.dataDir, publicUrl: platform.publicUrl() },
    `Eunha listening on ${address}`,
  );
}

/** Binds the address for a moment; throws a ListenError (exit 2) when it cannot be had. */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err) => reject(listenError(err, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * What went wrong, for an operator: a failure with a known cause (the data directory taken, the
 * port in use, a database or directory that cannot be opened) in one line; anything else with
 * its stack.
 */
function startupFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  if (
    err instanceof DataDirInUseError ||
    err instanceof DataDirStateError ||
    err instanceof S3OpenError ||
    err instanceof SchemaTooNewError ||
    err instanceof ListenError
  )
    return err.message;
  if (err instanceof ConfigError) return `invalid configuration: ${err.message}`;
  if (typeof code === 'string' && /^(SQLITE_|E[A-Z]+$)/.test(code)) return `${err.message} (${code})`;
  return err.stack ?? err.message;
}

main().catch((err: unknown) => {
  process.stderr.write(`eunha: failed to start: ${startupFailure(err)}\n`);
  const refused =
    err instanceof DataDirInUseError ||
    err instanceof DataDirStateError ||
    err instanceof ConfigError ||
    err instanceof SchemaTooNewError ||
    err instanceof ListenError;
  process.exit(refused ? 2 : 1);
});
