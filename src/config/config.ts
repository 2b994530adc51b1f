// The only reader of the process environment. `loadConfig(env)` returns one typed, validated
// Config or throws a ConfigError naming the variable, so a bad value stops the start-up with a
// message a person can act on. Tests pass their own map instead of process.env.

import { DEFAULT_KV_MAX_BYTES } from '../core/kv.js';
import { DEFAULT_LOG_MAX_BYTES } from '../core/log-quota.js';
import { DEFAULT_STORAGE_LIMITS } from '../core/storage-quota.js';
import { BlockList, isIP } from 'node:net';
import { Resolver } from 'node:dns';
import { MAX_OUTBOUND_REQUEST_BYTES, addNetwork, type OutboundOptions } from '../core/outbound-hosts.js';

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
  /**
   * Proxies (addresses or networks) whose X-Forwarded-For is believed (EUNHA_TRUSTED_PROXIES).
   * Empty: the socket's peer is the client, so behind a proxy every anonymous caller shares the
   * proxy's rate-limit bucket.
   */
  trustedProxies: string[];
  /** Cap on a request body, in bytes (JSON routes). */
  bodyLimitBytes: number;
  /** /fn request-body bytes held in memory at once, all clients together (gateway/body-budget.ts). */
  fnBodyBudgetBytes: number;
  /** Deployment versions kept per function, the active one included; older ones are deleted. */
  maxVersionsPerFunction: number;
  /** Where blobs live: files under {dataDir}/blobs, or the S3 bucket (EUNHA_BLOB_STORE=s3). */
  blobStore: BlobStoreConfig;
  /** Grace period for in-flight requests on SIGTERM/SIGINT, in ms. */
  shutdownGraceMs: number;
  /** Where the Pyodide memory snapshot is cached (default: {dataDir}/cache). */
  cacheDir: string;
  /** Booted, not yet specialised sandboxes kept ready. */
  warmPoolSize: number;
  /** Instances across all functions / of one function. */
  maxInstances: number;
  maxInstancesPerFunction: number;
  maxInstancesPerWorkspace: number | undefined;
  /** Memory the instances may reserve, in all and per workspace, MB (unset: the runtime's defaults). */
  memoryBudgetMb: number | undefined;
  workspaceMemoryBudgetMb: number | undefined;
  /** Requests that may wait in a busy instance's channel behind a short one (0 = no pipelining). */
  pipelineDepth: number;
  /** EUNHA_LONG_REQUEST_NICE: the nice value requests past 5 ms of CPU yield to (runtime option longRequestNice; 0 = off). */
  longRequestNice: number;
  /** Instances of one workspace that may share a host process (worker threads; 1 = a process each). */
  instancesPerProcess: number;
  /** A sandbox boot that takes longer is given up on (its process gets no more boots), ms. */
  bootTimeoutMs: number;
  /** Idle instances stop after this long (scale to zero), ms. */
  idleTtlMs: number;
  /** Requests of one version that may wait for an instance; past it, 429 at once. */
  queueLimit: number;
  /** How long a request may wait for an instance before it gets 429, ms. */
  queueTimeoutMs: number;
  /** Builds running at once; more wait in a queue. */
  buildConcurrency: number;
  /** Cap on an uploaded source (.py or .zip), bytes. */
  maxSourceBytes: number;
  /** Bytes of each request/response body kept in an execution log. */
  logBodyCap: number;
  /** Unsent response bytes held for clients that do not read (api/undrained.ts), and for how long. */
  unreadResponseBytes: number;
  unreadResponseTimeoutMs: number;
  /** Bytes a function's key-value entries may count together (core/kv.ts, kvEntryBytes). */
  kvMaxBytesPerFunction: number;
  /** Execution logs older than this many days are deleted (hourly; at least the 1-day stats window). */
  logRetentionDays: number;
  /** Bytes a function's stored execution logs may count (core/log-quota.ts); the oldest go first. */
  logMaxBytesPerFunction: number;
  /** What a workspace's blobs (code, build uploads, artifacts) may count together (services/storage-quota.ts). */
  workspaceStorageMaxBytes: number;
  workspaceStorageMaxFiles: number;
  /** Finished build tasks (and their uploaded sources) older than this many days are deleted (hourly). */
  taskRetentionDays: number;
  /** Functions' outbound HTTP (runtime/outbound-http.ts): on, exempt networks, time and size caps. */
  outbound: OutboundOptions;
  /**
   * The admin key (EUNHA_ADMIN_KEY). When set, every non-public route needs a key, even on
   * loopback; when absent, the server runs open, which requireProtectedBinding allows on loopback only.
   */
  adminKey: string | undefined;
  /**
   * A token that reads `GET /metrics` and nothing else (EUNHA_METRICS_TOKEN), for a scraper that
   * should not hold the admin key. Meaningless in open mode, where everything is open.
   */
  metricsToken: string | undefined;
  /** 32-byte key for secret environment variables (EUNHA_SECRETS_KEY); absent → {dataDir}/secrets.key. */
  secretsKey: Buffer | undefined;
  /**
   * The key being rotated away from (EUNHA_SECRETS_KEY_PREVIOUS): still opens what it sealed, and
   * start-up re-seals that with secretsKey (auth/secrets-rotation.ts). Never equal to secretsKey.
   */
  secretsKeyPrevious: Buffer | undefined;
  /** Control-plane requests per minute per workspace (its keys share it; per client address when anonymous); 0 = no limit. */
  rateLimitPerMinute: number;
  /** Slow clients: the whole header block must arrive within this many ms (slowloris). */
  headersTimeoutMs: number;
  /** The whole request (headers + body) must arrive within this many ms. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this many ms. */
  keepAliveTimeoutMs: number;
  /** A socket with no traffic either way for this long is closed (above the 900 s function timeout). */
  connectionTimeoutMs: number;
}

export type BlobStoreConfig =
  | { kind: 'fs' }
  | {
      kind: 's3';
      /** Seed names (AWS_REGION, S3_BUCKET_NAME): read only for this store, so the default one never fails on them. */
      region: string;
      bucket: string;
      /** An S3-compatible server's URL (MinIO, Ceph); unset: AWS for the region. */
      endpoint: string | undefined;
      /** Prepended to every object key: '' or segments ending in '/'. */
      keyPrefix: string;
      forcePathStyle: boolean;
    };

type Env = Record<string, string | undefined>;

/**
 * The value, trimmed; undefined when unset or empty (`NAME=` in a .env file means the default).
 * Only spaces is refused: it is a mistake (a quoted blank), and read as '' it made a path the
 * current directory and `GET /` show an empty environment.
 */
function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = raw.trim();
  if (v === '')
    throw new ConfigError(name, 'is blank (only spaces); leave it empty or unset for the default');
  return v;
}

function str(env: Env, name: string, fallback: string): string {
  return value(env, name) ?? fallback;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = value(env, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v))
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got '${env[name]}'`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false, got '${env[name]}'`);
}

/** A JSON list of strings (empty when unset), each trimmed; `example` goes in the message. */
function stringList(env: Env, name: string, example: string): string[] {
  const raw = value(env, name);
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(name, `must be a JSON list, e.g. ${example}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((n): n is string => typeof n === 'string'))
    throw new ConfigError(name, `must be a JSON list of strings, e.g. ${example}`);
  return parsed.map((n) => n.trim());
}

/**
 * A JSON list of networks (address/prefix), each checked the way the runtime will use it; with
 * `addresses`, a bare address is taken too (a reverse proxy's).
 */
function networks(env: Env, name: string, addresses = false): string[] {
  const list = stringList(env, name, addresses ? '["10.0.0.7", "10.0.8.0/24"]' : '["10.0.5.0/24"]');
  const check = new BlockList();
  for (const n of list) {
    if (addresses && isIP(n) !== 0) continue;
    try {
      addNetwork(check, n);
    } catch (e) {
      throw new ConfigError(
        name,
        addresses
          ? `'${n}' is not an address or a network (address/prefix, e.g. 10.0.8.0/24)`
          : (e as Error).message,
      );
    }
  }
  return list;
}

/** A JSON list of DNS servers (`ip` or `ip:port`, `[v6]:port`), checked by the resolver itself. */
function dnsServers(env: Env, name: string): string[] {
  const list = stringList(env, name, '["10.0.0.2", "[fd00::53]:5353"]');
  try {
    new Resolver().setServers(list);
  } catch (e) {
    throw new ConfigError(name, (e as Error).message);
  }
  return list;
}

/** Unset (or empty): undefined, so the runtime's own default (derived from other settings) applies. */
function optionalInt(env: Env, name: string, min: number, max: number): number | undefined {
  return value(env, name) === undefined ? undefined : int(env, name, 0, min, max);
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
  const parsed = stringList(env, 'CORS_ORIGINS', '["http://localhost:3000"]');
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
  const raw = value(env, 'EUNHA_PUBLIC_URL');
  if (raw === undefined) {
    const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `http://${h}:${port}`;
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError('EUNHA_PUBLIC_URL', `must be an absolute http(s) URL, got '${raw}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError('EUNHA_PUBLIC_URL', `must use http or https, got '${u.protocol}'`);
  }
  // Every invocation URL starts with it: credentials in it would be handed to every caller, and a
  // query or fragment would end up in the middle of those URLs. The href percent-encodes a literal
  // ? or # in the path, so one left in it starts a query or fragment, an empty one (`x.com/?`) too.
  if (u.username !== '' || u.password !== '')
    throw new ConfigError('EUNHA_PUBLIC_URL', 'must not hold a user name or password');
  if (/[?#]/.test(u.href)) throw new ConfigError('EUNHA_PUBLIC_URL', 'must not have a query or fragment');
  return u.toString().replace(/\/+$/, '');
}

/**
 * An IP address, or a host name by RFC 1123 (labels of letters, digits and inner hyphens). A name
 * whose last label is all digits is an IPv4 address or nothing: the resolver reads `999.999.999.999`
 * or `12345` as a number, and such a host failed only at listen, after the data directory was made.
 */
function host(env: Env): string {
  const h = str(env, 'EUNHA_HOST', '127.0.0.1');
  if (isIP(h) !== 0) return h;
  const labels = h.replace(/\.$/, '').split('.');
  const name =
    h.length <= 253 && labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
  if (!name || /^\d+$/.test(labels[labels.length - 1]!))
    throw new ConfigError('EUNHA_HOST', `'${h}' is not an IP address or a host name`);
  return h;
}

const ADMIN_KEY = /^[\x21-\x7e]{24,256}$/;

/** A bearer credential set in the environment: the admin key, the metrics token. */
function bearerSecret(env: Env, name: string): string | undefined {
  if (value(env, name) === undefined) return undefined;
  // Untrimmed: a key with spaces around it is refused, not quietly changed.
  const raw = env[name]!;
  if (!ADMIN_KEY.test(raw)) {
    throw new ConfigError(
      name,
      'must be 24 to 256 printable ASCII characters without spaces (e.g. `openssl rand -base64 32`)',
    );
  }
  return raw;
}

function metricsToken(env: Env, admin: string | undefined): string | undefined {
  const raw = bearerSecret(env, 'EUNHA_METRICS_TOKEN');
  // The same value would make every scraper an admin.
  if (raw !== undefined && raw === admin)
    throw new ConfigError('EUNHA_METRICS_TOKEN', 'must differ from EUNHA_ADMIN_KEY');
  return raw;
}

function secretsKey(env: Env, name: string): Buffer | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) ? Buffer.from(raw, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) {
    throw new ConfigError(name, 'must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)');
  }
  return bytes;
}

/**
 * The current key and the previous one. Equal, the "rotation" would re-seal nothing while the
 * operator believes the leaked key retired: refused. Compared as bytes, so the same key written in
 * base64url or without padding is caught too. A previous key equal to a generated secrets.key
 * (no EUNHA_SECRETS_KEY) is caught at start-up, where that file is read (auth/secrets-key.ts).
 */
function secretsKeys(env: Env): Pick<Config, 'secretsKey' | 'secretsKeyPrevious'> {
  const current = secretsKey(env, 'EUNHA_SECRETS_KEY');
  const previous = secretsKey(env, 'EUNHA_SECRETS_KEY_PREVIOUS');
  if (current && previous?.equals(current)) {
    throw new ConfigError(
      'EUNHA_SECRETS_KEY_PREVIOUS',
      'is the same key as EUNHA_SECRETS_KEY; set EUNHA_SECRETS_KEY to the new key and this one to the old key',
    );
  }
  return { secretsKey: current, secretsKeyPrevious: previous };
}

/** Addresses only this machine can reach; the open (no admin key) mode is allowed on these alone. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Refuses to serve without an admin key anywhere but loopback: an open control plane on a
 * reachable address would let anyone run code and read secrets. main.ts and Platform.listen call it.
 */
export function requireProtectedBinding(config: Pick<Config, 'adminKey'>, host: string): void {
  if (config.adminKey === undefined && !isLoopback(host)) {
    throw new ConfigError(
      'EUNHA_ADMIN_KEY',
      `is required to listen on ${host} (not a loopback address); set it, or listen on 127.0.0.1`,
    );
  }
}

function blobStore(env: Env): BlobStoreConfig {
  const kind = str(env, 'EUNHA_BLOB_STORE', 'fs').toLowerCase();
  if (kind === 'fs') return { kind };
  if (kind !== 's3') throw new ConfigError('EUNHA_BLOB_STORE', `must be fs or s3, got '${kind}'`);
  const raw = str(env, 'EUNHA_S3_ENDPOINT', '');
  const region = str(env, 'AWS_REGION', 'ap-northeast-2');
  // S3-compatible services name regions their own way (auto, fr-par, nyc3, garage).
  if (raw !== '' ? !/^[a-z0-9-]{1,64}$/.test(region) : !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new ConfigError('AWS_REGION', `'${region}' is not an AWS region name (e.g. ap-northeast-2)`);
  }
  const bucket = str(env, 'S3_BUCKET_NAME', 'eunha-functions');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('S3_BUCKET_NAME', `'${bucket}' is not a valid S3 bucket name`);
  }
  let endpoint: string | undefined;
  if (raw !== '') {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ConfigError('EUNHA_S3_ENDPOINT', `'${raw}' is not a URL (e.g. http://minio:9000)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new ConfigError('EUNHA_S3_ENDPOINT', `must be an http:// or https:// URL, got '${raw}'`);
    if (u.username || u.password)
      throw new ConfigError('EUNHA_S3_ENDPOINT', 'must not hold credentials: use AWS_ACCESS_KEY_ID');
    endpoint = raw.replace(/\/+$/, '');
  }
  const prefix = str(env, 'EUNHA_S3_PREFIX', '').replace(/^\/+|\/+$/g, '');
  if (
    prefix !== '' &&
    (!/^[A-Za-z0-9._=+-]+(\/[A-Za-z0-9._=+-]+)*$/.test(prefix) ||
      prefix.split('/').some((seg) => seg === '.' || seg === '..'))
  ) {
    throw new ConfigError(
      'EUNHA_S3_PREFIX',
      `'${prefix}' must be '/'-separated segments of A-Z a-z 0-9 . _ = + -`,
    );
  }
  return {
    kind,
    region,
    bucket,
    endpoint,
    keyPrefix: prefix === '' ? '' : `${prefix}/`,
    // Most S3-compatible servers want path-style URLs; AWS itself wants virtual-hosted ones.
    forcePathStyle: bool(env, 'EUNHA_S3_FORCE_PATH_STYLE', endpoint !== undefined),
  };
}

export function loadConfig(env: Env): Config {
  const h = host(env);
  const port = int(env, 'EUNHA_PORT', 8000, 0, 65535);
  const dataDir = str(env, 'EUNHA_DATA_DIR', './.eunha');
  const adminKey = bearerSecret(env, 'EUNHA_ADMIN_KEY');
  // DYNAMODB_TABLE_NAME, a seed name, is not read: no adapter uses it yet, and a value it would
  // refuse must not stop a server that never touches DynamoDB.
  return {
    host: h,
    port,
    dataDir,
    publicUrl: publicUrl(env, h, port),
    publicUrlExplicit: value(env, 'EUNHA_PUBLIC_URL') !== undefined,
    environment: str(env, 'ENVIRONMENT', 'development'),
    logLevel: logLevel(env),
    corsOrigins: corsOrigins(env),
    trustedProxies: networks(env, 'EUNHA_TRUSTED_PROXIES', true),
    bodyLimitBytes: int(env, 'EUNHA_BODY_LIMIT_BYTES', 6 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    fnBodyBudgetBytes: fnBodyBudget(env),
    maxVersionsPerFunction: int(env, 'EUNHA_MAX_VERSIONS_PER_FUNCTION', 50, 1, 10_000),
    blobStore: blobStore(env),
    // At least 1 s: running requests are cut half-way through a grace under 6 s (platform.ts), and
    // their 503 needs the time after the cut (~0.1 s measured). With 0 the exit came first, and a
    // running request got no answer at all.
    shutdownGraceMs: int(env, 'EUNHA_SHUTDOWN_GRACE_MS', 10_000, 1_000, 600_000),
    cacheDir: str(env, 'EUNHA_CACHE_DIR', `${dataDir}/cache`),
    warmPoolSize: int(env, 'EUNHA_WARM_POOL_SIZE', 2, 0, 64),
    maxInstances: int(env, 'EUNHA_MAX_INSTANCES', 32, 1, 1024),
    maxInstancesPerFunction: int(env, 'EUNHA_MAX_INSTANCES_PER_FUNCTION', 8, 1, 1024),
    // Unset: the runtime's default (half of maxInstances), so that one tenant cannot hold them all.
    maxInstancesPerWorkspace: optionalInt(env, 'EUNHA_MAX_INSTANCES_PER_WORKSPACE', 1, 1024),
    // Unset: three quarters of the machine's memory, and half of that per workspace.
    memoryBudgetMb: optionalInt(env, 'EUNHA_MEMORY_BUDGET_MB', 256, 16 * 1024 * 1024),
    workspaceMemoryBudgetMb: optionalInt(env, 'EUNHA_WORKSPACE_MEMORY_BUDGET_MB', 256, 16 * 1024 * 1024),
    pipelineDepth: int(env, 'EUNHA_PIPELINE_DEPTH', 1, 0, 8),
    longRequestNice: int(env, 'EUNHA_LONG_REQUEST_NICE', 5, 0, 19),
    instancesPerProcess: int(env, 'EUNHA_INSTANCES_PER_PROCESS', 8, 1, 64),
    bootTimeoutMs: int(env, 'EUNHA_BOOT_TIMEOUT_MS', 60_000, 1_000, 600_000),
    idleTtlMs: int(env, 'EUNHA_IDLE_TTL_MS', 300_000, 1_000, 86_400_000),
    queueLimit: int(env, 'EUNHA_QUEUE_LIMIT', 64, 0, 100_000),
    queueTimeoutMs: int(env, 'EUNHA_QUEUE_TIMEOUT_MS', 5_000, 100, 600_000),
    buildConcurrency: int(env, 'EUNHA_BUILD_CONCURRENCY', 2, 1, 64),
    maxSourceBytes: int(env, 'EUNHA_MAX_SOURCE_BYTES', 10 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    logBodyCap: int(env, 'EUNHA_LOG_BODY_BYTES', 8 * 1024, 0, 1024 * 1024),
    kvMaxBytesPerFunction: int(env, 'EUNHA_KV_MAX_BYTES', DEFAULT_KV_MAX_BYTES, 64 * 1024, 1024 ** 4),
    unreadResponseBytes: int(env, 'EUNHA_UNREAD_RESPONSE_BYTES', 256 * 1024 * 1024, 1024 * 1024, 1024 ** 4),
    unreadResponseTimeoutMs: int(env, 'EUNHA_UNREAD_RESPONSE_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
    logRetentionDays: int(env, 'EUNHA_LOG_RETENTION_DAYS', 7, 1, 3650),
    taskRetentionDays: int(env, 'EUNHA_TASK_RETENTION_DAYS', 30, 1, 3650),
    workspaceStorageMaxBytes: int(
      env,
      'EUNHA_WORKSPACE_STORAGE_MAX_BYTES',
      DEFAULT_STORAGE_LIMITS.maxBytes,
      64 * 1024,
      1024 ** 4,
    ),
    workspaceStorageMaxFiles: int(
      env,
      'EUNHA_WORKSPACE_STORAGE_MAX_FILES',
      DEFAULT_STORAGE_LIMITS.maxFiles,
      10,
      100_000_000,
    ),
    // At least 16 MiB: a single log can count ~2 MiB (64 KiB of lines and two 1-MiB bodies).
    logMaxBytesPerFunction: int(
      env,
      'EUNHA_LOG_MAX_BYTES',
      DEFAULT_LOG_MAX_BYTES,
      16 * 1024 * 1024,
      1024 ** 4,
    ),
    adminKey,
    metricsToken: metricsToken(env, adminKey),
    ...secretsKeys(env),
    rateLimitPerMinute: int(env, 'EUNHA_RATE_LIMIT_PER_MINUTE', 600, 0, 1_000_000),
    outbound: {
      enabled: bool(env, 'EUNHA_OUTBOUND_HTTP', true),
      allowedNetworks: networks(env, 'EUNHA_OUTBOUND_ALLOWED_NETWORKS'),
      timeoutMs: int(env, 'EUNHA_OUTBOUND_TIMEOUT_MS', 30_000, 100, 900_000),
      maxResponseBytes: int(
        env,
        'EUNHA_OUTBOUND_MAX_RESPONSE_BYTES',
        4 * 1024 * 1024,
        1024,
        MAX_OUTBOUND_REQUEST_BYTES,
      ),
      dnsServers: dnsServers(env, 'EUNHA_OUTBOUND_DNS_SERVERS'),
    },
    ...timeouts(env),
  };
}

function timeouts(
  env: Env,
): Pick<Config, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'connectionTimeoutMs'> {
  const headersTimeoutMs = int(env, 'EUNHA_HEADERS_TIMEOUT_MS', 15_000, 500, 600_000);
  const requestTimeoutMs = int(env, 'EUNHA_REQUEST_TIMEOUT_MS', 120_000, 1_000, 3_600_000);
  // Node refuses a header deadline beyond the whole-request one.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'EUNHA_HEADERS_TIMEOUT_MS',
      `must not exceed EUNHA_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: int(env, 'EUNHA_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1_000, 600_000),
    connectionTimeoutMs: int(env, 'EUNHA_CONNECTION_TIMEOUT_MS', 960_000, 1_000, 3_600_000),
  };
}

/**
 * Each client address may hold a quarter of it (gateway/body-budget.ts), which must take one body
 * at the cap: a smaller budget would refuse such a body from an idle server. Unset, it grows with
 * a larger cap for the same reason.
 */
function fnBodyBudget(env: Env): number {
  const cap = int(env, 'EUNHA_BODY_LIMIT_BYTES', 6 * 1024 * 1024, 1024, 512 * 1024 * 1024);
  const budget = int(
    env,
    'EUNHA_FN_BODY_BUDGET_BYTES',
    Math.max(256 * 1024 * 1024, 4 * cap),
    1024 * 1024,
    1024 ** 4,
  );
  if (budget < 4 * cap) {
    throw new ConfigError(
      'EUNHA_FN_BODY_BUDGET_BYTES',
      `must be at least 4 × EUNHA_BODY_LIMIT_BYTES (${4 * cap}): one client address may hold a quarter of it, which must take one body at the cap`,
    );
  }
  return budget;
}
