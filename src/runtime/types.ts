// The runtime's public shapes: what the pipeline hands in (a function version, a request) and
// what it gets back (a result with output lines, timings and the cold-start flag; stats).

import type { KeyValuePort } from '../core/kv.js';
import type { OutboundRule } from '../core/outbound-hosts.js';
import type { OutboundHttp } from './outbound-http.js';
import type { PoolStats } from './warm-pool.js';

export interface FunctionVersion {
  /** Unique id of this loaded version, e.g. `${functionId}@${digest}`. */
  key: string;
  functionId: string;
  workspaceId: string;
  engine: 'python';
  /** The function's files; the entry module is `app.py`. */
  files: Record<string, Uint8Array>;
  /** Becomes os.environ exactly. */
  env: Record<string, string>;
  /** Read by spin_sdk.variables.get. */
  variables?: Record<string, string>;
  /**
   * The values of its secret variables (in `env` too). A load error names them as the mask: its
   * message, traceback and printed lines are logged, and answered to whoever deployed.
   */
  secrets?: readonly string[];
  memoryMb: number;
  timeoutMs: number;
  /** Where `spin_sdk.http.send` may go (parsed allowedOutboundHosts); absent or empty: nowhere. */
  outboundHosts?: OutboundRule[];
  minWarm?: number;
  maxInstances?: number;
}

export interface InvokeRequest {
  method: string;
  /** Path and query as the function should see it. */
  uri: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /**
   * Aborted when the caller has gone away: a request still waiting for an instance then leaves
   * the queue without running (CLIENT_CLOSED). One that has started runs to its end.
   */
  signal?: AbortSignal;
  /** The request id the caller is answered with: named in the runtime's own log lines about it. */
  requestId?: string;
}

export type InvokeErrorCode =
  'FUNCTION_ERROR' | 'TIMEOUT' | 'FUNCTION_CRASHED' | 'TOO_MANY_REQUESTS' | 'CLIENT_CLOSED' | 'SHUTTING_DOWN';

export interface InvokeResult {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** print()/logging output of this invocation, capped; a marker line ends a truncated list. */
  lines: string[];
  linesTruncated: boolean;
  durationMs: number;
  /**
   * How long the handler ran in its sandbox (timed there), when it answered: durationMs less the
   * wait for an instance, a cold start and the channel.
   */
  runMs?: number;
  /**
   * How long the call waited for the instance that answered it: in line behind busy instances,
   * and for a cold start. All of durationMs for a call that never got one (429, 499, 502).
   */
  waitMs?: number;
  /** CPU time the sandbox thread used for this invocation (its own thread clock). */
  cpuMs: number;
  coldStart: boolean;
  error?: { code: InvokeErrorCode; message: string; traceback?: string };
}

export type Logger = (entry: Record<string, unknown>) => void;

export interface RuntimeOptions {
  kv: KeyValuePort;
  /** Makes functions' outbound HTTP calls; absent: every call fails (no outbound network). */
  outbound?: OutboundHttp;
  /** Where the Pyodide memory snapshot is cached. */
  cacheDir: string;
  /** Booted, not yet specialised sandboxes kept ready (default 2). */
  poolSize?: number;
  /** Sandboxes booted at the same time (default 2: one per core here). */
  bootConcurrency?: number;
  /** Instances across all functions (default 32). */
  maxInstances?: number;
  /** Instances of one function version unless its own maxInstances is lower (default 8). */
  maxInstancesPerFunction?: number;
  /** Instances of one workspace's functions together (default: half of maxInstances, at least 1). */
  maxInstancesPerWorkspace?: number;
  /**
   * Memory the instances may reserve together, MB: each reserves its function's memory limit plus
   * 96 MB for its sandbox (memory-budget.ts). Past it, a new instance evicts idle ones or waits in
   * the queue. Default: three quarters of the machine's memory.
   */
  memoryBudgetMb?: number;
  /** The same for one workspace's instances (default: half of memoryBudgetMb). */
  workspaceMemoryBudgetMb?: number;
  /** Requests waiting for an instance, per version (default 64). */
  queueLimit?: number;
  /** How long a request may wait for an instance before it gets 429 (default 5000 ms). */
  queueTimeoutMs?: number;
  /** Idle instances above minWarm stop after this long (default 300000 ms). */
  idleTtlMs?: number;
  /**
   * An idle instance whose wasm memory grew past largeHeapBytes (default 256 MiB) stops after
   * largeIdleTtlMs instead (default 10000 ms): wasm memory never shrinks, so one request that used
   * 1 GB kept it resident for the whole idle TTL.
   */
  largeHeapBytes?: number;
  largeIdleTtlMs?: number;
  /**
   * At the instance cap, requests that may wait in a busy instance's channel behind the one it
   * runs, so it starts the next without a round trip through the parent (default 1; 0 = off).
   * Only for versions whose requests are short (see pipelineMaxServiceMs).
   */
  pipelineDepth?: number;
  /** Pipeline only while a version's average service time is at most this (default 5 ms). */
  pipelineMaxServiceMs?: number;
  /**
   * A request that has used 5 ms of CPU yields: its thread runs at this nice value or more, so
   * that busy loops yield the cores to short requests, and one workspace's instances together
   * weigh about one such thread (cpu-share.ts, design note 008). Default 5; 0 = off.
   */
  longRequestNice?: number;
  /**
   * Instances of one workspace that may share a host process, each a worker thread with its own
   * interpreter (default 8; 1 = a process per instance). Workspaces never share a process.
   */
  instancesPerProcess?: number;
  /**
   * A sandbox that has not booted by then (a stopped or wedged host process) is killed, and its
   * process starts no more sandboxes; whoever waited for it goes on elsewhere (default 60000 ms:
   * a boot takes ~0.5 s, and a background boot at nice 10 on a saturated machine many times that).
   */
  bootTimeoutMs?: number;
  /** After the timeout interrupt, how long before the process is killed (default 500 ms). */
  killGraceMs?: number;
  /**
   * Module code (imports, globals) runs under a deadline of its own when an instance loads: the
   * function's timeout, but at least this (default 10 s: a cold import on a busy machine) and at
   * most 60 s.
   */
  minLoadTimeoutMs?: number;
  /** Request body cap (default 6 MiB). */
  maxRequestBytes?: number;
  /** Boot sandboxes from the cached memory snapshot (default true; false is the bench's baseline). */
  useSnapshot?: boolean;
  /**
   * The cache directory is this installation's alone (the data directory's own): other builds'
   * snapshots over a week old in it are removed at start (snapshot.ts sweepSnapshotCache).
   */
  ownsCache?: boolean;
  logger?: Logger;
}

export interface VersionStats {
  functionId: string;
  workspaceId: string;
  instances: number;
  busy: number;
  idle: number;
  starting: number;
  queued: number;
  coldStarts: number;
  invocations: number;
  /** Requests written into a busy instance's channel behind the one it was running. */
  pipelined: number;
  /** Moving average of how long a request holds an instance (host-timed), ms; null until known. */
  serviceMs: number | null;
  /** OS process ids of this version's sandboxes (instances of one workspace may share one). */
  pids: number[];
  /** This version's sandboxes, `<pid>.<slot>`: one per instance. */
  ids: string[];
}

export interface RuntimeStats {
  warmPool: PoolStats;
  instances: number;
  /** Memory those instances reserve, and the budgets (MB). */
  memory: { reservedMb: number; budgetMb: number; workspaceBudgetMb: number };
  queueDepth: number;
  coldStarts: number;
  /** Requests written into a busy instance's channel behind another, since start (monotonic). */
  pipelined: number;
  invocations: number;
  versions: Record<string, VersionStats>;
  isolation: {
    netIsolated: boolean;
    privilegesDropped: boolean;
    filesJailed: boolean;
    /** Hosts run under SCHED_BATCH (a scheduling hint, not a boundary). */
    batchScheduled: boolean;
    /** Background boots run at nice 10 and taken sandboxes at nice 0 (needs the right to renice). */
    bootsNiced: boolean;
    /** Sandboxes (worker threads) one host process may hold over its life, all of one workspace. */
    instancesPerProcess: number;
    warnings: string[];
  };
}
