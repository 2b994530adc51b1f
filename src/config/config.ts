// The only reader of the process environment. `loadConfig(env)` returns one typed, validated
// Config or throws a ConfigError naming the variable, so a bad value stops the start-up with a
// message a person can act on. Tests pass their own map instead of process.env.

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** Base of invocation URLs, without a trailing slash. */
  publicUrl: string;
  /** False when publicUrl was derived from host and port (then the real port replaces 0 after listen). */
  publicUrlExplicit: boolean;
  environment: string;
  logLevel: LogLevel;
  corsOrigins: string[];
  /** Cap on a request body, in bytes (JSON routes). */
  bodyLimitBytes: number;
  /** Seed names kept for the production adapters (DynamoDB, S3) of a later issue. */
  awsRegion: string;
  dynamodbTableName: string;
  s3BucketName: string;
  /** Grace period for in-flight requests on SIGTERM/SIGINT, in ms. */
  shutdownGraceMs: number;
  /** Where the Pyodide memory snapshot is cached (default: {dataDir}/cache). */
  cacheDir: string;
  /** Booted, not yet specialised sandboxes kept ready. */
  warmPoolSize: number;
  /** Instances across all functions / of one function. */
  maxInstances: number;
  maxInstancesPerFunction: number;
  /** Idle instances stop after this long (scale to zero), ms. */
  idleTtlMs: number;
  /** Builds running at once; more wait in a queue. */
  buildConcurrency: number;
  /** Cap on an uploaded source (.py or .zip), bytes. */
  maxSourceBytes: number;
  /** Bytes of each request/response body kept in an execution log. */
  logBodyCap: number;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  return v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer, got '${raw}'`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
// The seed used Python's names; accept them so an old .env keeps working.
const LOG_LEVEL_ALIASES: Record<string, LogLevel> = { warning: 'warn', critical: 'fatal' };

function logLevel(env: Env): LogLevel {
  const raw = str(env, 'LOG_LEVEL', 'info').toLowerCase();
  const level = LOG_LEVEL_ALIASES[raw] ?? raw;
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got '${raw}'`);
  }
  return level as LogLevel;
}

function corsOrigins(env: Env): string[] {
  const raw = env.CORS_ORIGINS;
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('CORS_ORIGINS', `must be a JSON list of origins, e.g. ["http://localhost:3000"]`);
  }
  if (!Array.isArray(parsed) || !parsed.every((o): o is string => typeof o === 'string')) {
    throw new ConfigError('CORS_ORIGINS', 'must be a JSON list of strings');
  }
  for (const origin of parsed) {
    if (origin === '*') continue;
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      throw new ConfigError('CORS_ORIGINS', `'${origin}' is not an origin (scheme://host[:port])`);
    }
    if (u.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError('CORS_ORIGINS', `'${origin}' is not an origin (scheme://host[:port])`);
    }
  }
  return parsed.map((o) => o.replace(/\/$/, ''));
}

function publicUrl(env: Env, host: string, port: number): string {
  const raw = env.EUNHA_PUBLIC_URL;
  if (raw === undefined || raw.trim() === '') {
    const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `http://${h}:${port}`;
  }
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new ConfigError('EUNHA_PUBLIC_URL', `must be an absolute http(s) URL, got '${raw}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError('EUNHA_PUBLIC_URL', `must use http or https, got '${u.protocol}'`);
  }
  if (u.search || u.hash) throw new ConfigError('EUNHA_PUBLIC_URL', 'must not have a query or fragment');
  return u.toString().replace(/\/+$/, '');
}

function host(env: Env): string {
  const h = str(env, 'EUNHA_HOST', '127.0.0.1');
  if (!/^[A-Za-z0-9.:-]+$/.test(h))
    throw new ConfigError('EUNHA_HOST', `'${h}' is not a host name or address`);
  return h;
}

export function loadConfig(env: Env): Config {
  const h = host(env);
  const port = int(env, 'EUNHA_PORT', 8000, 0, 65535);
  const region = str(env, 'AWS_REGION', 'ap-northeast-2');
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new ConfigError('AWS_REGION', `'${region}' is not an AWS region name (e.g. ap-northeast-2)`);
  }
  const bucket = str(env, 'S3_BUCKET_NAME', 'eunha-functions');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('S3_BUCKET_NAME', `'${bucket}' is not a valid S3 bucket name`);
  }
  const table = str(env, 'DYNAMODB_TABLE_NAME', 'eunha');
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
    throw new ConfigError('DYNAMODB_TABLE_NAME', `'${table}' is not a valid DynamoDB table name`);
  }
  return {
    host: h,
    port,
    dataDir: str(env, 'EUNHA_DATA_DIR', './.eunha'),
    publicUrl: publicUrl(env, h, port),
    publicUrlExplicit: (env.EUNHA_PUBLIC_URL ?? '').trim() !== '',
    environment: str(env, 'ENVIRONMENT', 'development'),
    logLevel: logLevel(env),
    corsOrigins: corsOrigins(env),
    bodyLimitBytes: int(env, 'EUNHA_BODY_LIMIT_BYTES', 6 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    awsRegion: region,
    dynamodbTableName: table,
    s3BucketName: bucket,
    shutdownGraceMs: int(env, 'EUNHA_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    cacheDir: str(env, 'EUNHA_CACHE_DIR', `${str(env, 'EUNHA_DATA_DIR', './.eunha')}/cache`),
    warmPoolSize: int(env, 'EUNHA_WARM_POOL_SIZE', 2, 0, 64),
    maxInstances: int(env, 'EUNHA_MAX_INSTANCES', 32, 1, 1024),
    maxInstancesPerFunction: int(env, 'EUNHA_MAX_INSTANCES_PER_FUNCTION', 8, 1, 1024),
    idleTtlMs: int(env, 'EUNHA_IDLE_TTL_MS', 300_000, 1_000, 86_400_000),
    buildConcurrency: int(env, 'EUNHA_BUILD_CONCURRENCY', 2, 1, 64),
    maxSourceBytes: int(env, 'EUNHA_MAX_SOURCE_BYTES', 10 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    logBodyCap: int(env, 'EUNHA_LOG_BODY_BYTES', 8 * 1024, 0, 1024 * 1024),
  };
}
