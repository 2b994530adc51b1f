// Domain records as the platform stores them. API shapes (camelCase for workspaces, functions and
// logs; snake_case for build objects) are made from these in api/; nothing here does I/O.

import type { PageKey } from './page-cursor.js';

export type FunctionAuthType = 'NONE' | 'KEY';

export type FunctionStatus = 'active' | 'disabled' | 'building' | 'deploying' | 'failed';

export interface Workspace {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}

export interface FunctionRecord {
  id: string;
  workspaceId: string;
  name: string;
  description: string | null;
  /** Canonical engine name, e.g. "python"; `runtimeLabel` keeps what the user wrote ("Python 3.12"). */
  runtime: string;
  runtimeLabel: string;
  memory: number;
  timeout: number;
  httpMethods: string[];
  environmentVariables: Record<string, string>;
  /**
   * Secret environment variables, each sealed (AES-256-GCM, see auth/secrets.ts): name → sealed
   * value. Absent in records written before secrets existed.
   */
  secretEnvironmentVariables?: Record<string, string>;
  /** Who may call the invocation URL: anyone (NONE, the default) or a key of its workspace (KEY). */
  authType?: FunctionAuthType;
  /** Instances kept warm even when idle (absent = 0: scale to zero). */
  minWarm?: number;
  /** Per-function instance cap (absent or null = the platform's default). */
  maxInstances?: number | null;
  /** Where the function may send HTTP requests (core/outbound-hosts.ts); absent = nowhere. */
  allowedOutboundHosts?: string[];
  /** Blob key of the current source (the seed kept code in S3 too). */
  codeKey: string;
  /** sha256 of the current source, hex. */
  codeSha256: string;
  invocationUrl: string | null;
  status: FunctionStatus;
  createdAt: string;
  lastModified: string;
  lastDeployed: string | null;
}

export type TaskStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface BuildTaskResult {
  wasm_path: string | null;
  image_url: string | null;
  file_path: string | null;
}

export interface BuildTask {
  taskId: string;
  workspaceId: string;
  appName: string | null;
  kind: 'build' | 'build-and-push' | 'push';
  status: TaskStatus;
  sourcePath: string | null;
  result: BuildTaskResult | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export type LogLevel = 'info' | 'warn' | 'error';

/** One invocation of a function: the seed's ExecutionLog plus what Eunha measures. */
export interface ExecutionLog {
  id: string;
  functionId: string;
  workspaceId: string;
  timestamp: string;
  status: 'success' | 'error';
  duration: number;
  statusCode: number;
  requestBody: unknown;
  responseBody: unknown;
  logs: string[];
  level: LogLevel;
  coldStart: boolean;
  deploymentVersion: number | null;
  /** CPU time the invocation used, in milliseconds (measured, not estimated). */
  cpuMs: number;
  /**
   * How long the handler ran, in milliseconds, timed in its sandbox: `duration` less the wait for
   * an instance and a cold start. Null when its sandbox did not say (it was killed: a crash, or a
   * timeout it did not stop at) or it did not run; absent from logs written before it was recorded.
   */
  runMs?: number | null;
  /**
   * How long the call waited for the instance that answered it, in milliseconds (in line, and a
   * cold start); all of `duration` for a call that never got one. Absent from older logs.
   */
  waitMs?: number | null;
  /**
   * The X-Request-Id the call was answered with (the caller's own, when it sent a sane one): what
   * ties a call a caller reports to its log and to the server's log lines. Absent from older logs.
   */
  requestId?: string | null;
}

/**
 * A stored execution log and its write sequence number: numbers grow in the order logs are
 * stored, across the whole store, and are never given twice (a log that replaces another gets a
 * new one). A live tail sends them as SSE ids and resumes after one.
 */
export interface SequencedLog {
  seq: number;
  log: ExecutionLog;
}

/**
 * What a listing of logs selects besides its limit. Timestamps are instants in any ISO 8601 form
 * (compared in their canonical form, as stored).
 */
export interface LogFilter {
  /** Logs at or after this instant. */
  since?: string | undefined;
  /** Logs before this instant. */
  until?: string | undefined;
  /** Logs older than this one in the listing's order (timestamp, then id). */
  before?: PageKey | undefined;
  /** Only failed invocations ('error') or only the others ('success'). */
  status?: ExecutionLog['status'] | undefined;
  /** The page ends once its entries' stored size passes this (the first always comes back). */
  maxBytes?: number | undefined;
}

/**
 * A live tail's backlog: up to `limit` logs, oldest first; `more` when older ones were left out;
 * `last`, the store's last sequence number when the page was read.
 */
export interface LogTailPage {
  logs: SequencedLog[];
  more: boolean;
  last: number;
}

/** Aggregate over execution logs in a time window. */
export interface InvocationStats {
  invocations: number;
  errors: number;
  /** Mean duration in ms over the window; 0 when there were no invocations. */
  avgDuration: number;
}

/** One minute of a function's invocations (only minutes that had any). */
export interface MinuteStats {
  /** The minute, as the first 16 characters of an ISO timestamp: `2026-11-26T19:44`. */
  minute: string;
  invocations: number;
  errors: number;
  /** Sums over the minute's invocations, ms. */
  durationMs: number;
  cpuMs: number;
}

/** What a deployment runs with: a snapshot of the function's config at deploy time. */
export interface DeploymentConfig {
  runtime: string;
  memory: number;
  timeout: number;
  environmentVariables: Record<string, string>;
  /** Sealed secret variables as they were at deploy time (opened only when loaded into the runtime). */
  secretEnvironmentVariables?: Record<string, string>;
  minWarm?: number;
  maxInstances?: number | null;
  allowedOutboundHosts?: string[];
}

/** One version of a function put into service: an artifact digest plus the config it ran with. */
export interface Deployment {
  workspaceId: string;
  functionId: string;
  /** 1, 2, 3 … per function. */
  version: number;
  /** sha256 hex of the artifact manifest. */
  digest: string;
  imageRef: string;
  config: DeploymentConfig;
  createdAt: string;
  active: boolean;
}

/** A workspace API key as stored: never the key itself, only its sha256. */
export interface ApiKey {
  id: string;
  workspaceId: string;
  name: string | null;
  /** The first characters of the key, shown in listings so a person can tell keys apart. */
  prefix: string;
  /** sha256 of the whole key, hex; the lookup index. */
  hash: string;
  createdAt: string;
  lastUsedAt: string | null;
}
