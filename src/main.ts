// The server process: read the config, compose the platform, listen, and shut down gracefully on
// SIGTERM/SIGINT (stop accepting, let in-flight requests finish, close the database).

import { ConfigError, loadConfig, requireProtectedBinding } from './config/config.js';
import { createLogger } from './observability/logger.js';
import { createPlatform } from './platform.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
    // Before anything is opened: an unprotected server on a reachable address never starts.
    requireProtectedBinding(config, config.host);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`eunha: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const platform = await createPlatform(config, { logger });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown grace period over; exiting');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    platform.close().then(
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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const address = await platform.listen(config.host, config.port);
  logger.info(
    { address, dataDir: config.dataDir, publicUrl: platform.publicUrl() },
    `Eunha listening on ${address}`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `eunha: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
