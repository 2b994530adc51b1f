// What the rest of Eunha may ask of storage. Adapters: sqlite/ + fs/ (embedded default);
// dynamodb/ + s3/ (production, a later issue). Every adapter runs test/store/*-contract.ts.
//
// Keys follow the seed's single-table design (PK/SK): workspace `WS#{ws}`/`METADATA`, function
// `WS#{ws}`/`FN#{fn}`, build task `WS#{ws}`/`BUILD#{task}`, execution log `FN#{fn}`/`LOG#{ts}#{id}`,
// deployment `FN#{fn}`/`DEPLOY#{version}`; plus secondary keys the seed lacked so that listing
// workspaces or active deployments and finding a task or a function by id never scan the table.

import type { KeyValuePort } from '../core/kv.js';
import type {
  ApiKey,
  BuildTask,
  Deployment,
  ExecutionLog,
  LogFilter,
  FunctionRecord,
  InvocationStats,
  LogTailPage,
  MinuteStats,
  SequencedLog,
  Workspace,
} from '../core/types.js';

export type WorkspacePatch = Partial<Pick<Workspace, 'name' | 'description'>>;
export type FunctionPatch = Partial<Omit<FunctionRecord, 'id' | 'workspaceId' | 'createdAt'>>;
export type TaskPatch = Partial<Pick<BuildTask, 'status' | 'result' | 'error' | 'updatedAt' | 'sourcePath'>>;

/** Where a listing of tasks starts and ends (MetadataStore.listTasks). */
export interface FunctionDataUsage {
  logBytes: number;
  keyValueBytes: number;
}

export interface TaskPage {
  limit?: number | undefined;
  /** Start after this task: its createdAt and id (the last one of the page before). */
  before?: { createdAt: string; taskId: string } | undefined;
  maxBytes?: number | undefined;
}

export interface MetadataStore {
  // Workspaces
  /** Fails with CONFLICT when the id exists. */
  createWorkspace(ws: Workspace): Promise<void>;
  getWorkspace(id: string): Promise<Workspace | undefined>;
  /** All workspaces, oldest first, without a table scan. */
  listWorkspaces(): Promise<Workspace[]>;
  /** Returns the updated record, or undefined when the workspace does not exist. */
  updateWorkspace(id: string, patch: WorkspacePatch): Promise<Workspace | undefined>;
  /**
   * Deletes the workspace and everything under it: functions, build tasks, execution logs of its
   * functions and their key-value data. Returns the deleted functions (so the caller can remove
   * their blobs), or undefined when the workspace did not exist.
   */
  deleteWorkspace(id: string): Promise<FunctionRecord[] | undefined>;

  // Functions
  /**
   * Fails with NOT_FOUND when the workspace does not exist (checked atomically with the insert), and
   * with CONFLICT when the function id exists in any workspace (ids are global: see findFunction).
   */
  createFunction(fn: FunctionRecord): Promise<void>;
  getFunction(workspaceId: string, functionId: string): Promise<FunctionRecord | undefined>;
  /** Finds a function by id alone (the invocation path knows no workspace). */
  findFunction(functionId: string): Promise<FunctionRecord | undefined>;
  /** Functions of a workspace, oldest first. */
  listFunctions(workspaceId: string): Promise<FunctionRecord[]>;
  countFunctions(workspaceId: string): Promise<number>;
  /**
   * A patch, or a patch computed from the record as it is at the write (in the same transaction):
   * what depends on the current value, such as "active unless disabled", cannot lose a concurrent
   * change.
   */
  updateFunction(
    workspaceId: string,
    functionId: string,
    patch: FunctionPatch | ((current: FunctionRecord) => FunctionPatch),
  ): Promise<FunctionRecord | undefined>;
  /**
   * Deletes the function, its execution logs and its key-value data; returns the deleted record.
   * `check` sees the record in the same transaction, and what it throws leaves everything as it was.
   */
  deleteFunction(
    workspaceId: string,
    functionId: string,
    check?: (current: FunctionRecord) => void,
  ): Promise<FunctionRecord | undefined>;

  // Build tasks
  /** Insert or replace; NOT_FOUND when the task's workspace does not exist (any more). */
  putTask(task: BuildTask): Promise<void>;
  /** By id alone, without a scan. */
  getTask(taskId: string): Promise<BuildTask | undefined>;
  /**
   * Tasks of a workspace, newest first (by createdAt, then task id); all of them without a page.
   * A page ends at `limit`, or once its tasks' stored size passes `maxBytes` (the first always
   * comes back), and starts after the task `before` names.
   */
  listTasks(workspaceId: string, page?: TaskPage): Promise<BuildTask[]>;
  updateTask(taskId: string, patch: TaskPatch): Promise<BuildTask | undefined>;
  /** Removes the task's record (not its blobs); resolves to it, or undefined when there was none. */
  deleteTask(taskId: string): Promise<BuildTask | undefined>;

  // Execution logs (one per invocation; also the source of every statistic). Timestamps are
  // instants in any ISO 8601 form; keys and comparisons use the canonical toISOString() form
  // (keys.ts canonicalTimestamp). An unparseable timestamp or `since` is a VALIDATION_ERROR.
  /**
   * All or nothing. Logs of a function that does not exist (any more) are dropped, so a log flushed
   * after its function was deleted leaves nothing behind. When a function's stored logs would count
   * more than the adapter's per-function quota (core/log-quota.ts, logEntryBytes), its oldest logs
   * are deleted in the same step until they fit; statistics still count them. Answers the logs it
   * stored, in the order given, each numbered after every log stored before (SequencedLog).
   */
  appendLogs(logs: ExecutionLog[]): Promise<SequencedLog[]>;
  /**
   * Newest first (by timestamp, then id), those the filter selects. With `maxBytes`, the page ends
   * once its entries' stored size passes it (the first entry always comes back): one invocation's
   * log can hold 75 KB, and a page of 1,000 of them was 75 MB of JSON, seconds of the event loop
   * for everyone. An unparseable `since`/`until`/cursor timestamp is a VALIDATION_ERROR. Selecting
   * errors must not read the function's other logs (they are the few worth finding among many).
   */
  listFunctionLogs(functionId: string, limit: number, filter?: LogFilter): Promise<ExecutionLog[]>;
  /** How many logs the function has stored (what listFunctionLogs could page through). */
  countFunctionLogs(functionId: string): Promise<number>;
  /**
   * What the function keeps in this store besides its records: its logs' and its key-value
   * entries' bytes, as their quotas count them (core/log-quota.ts, core/kv.ts).
   */
  functionDataUsage(functionId: string): Promise<FunctionDataUsage>;
  /** Newest first, across every function of the workspace; the filter as for listFunctionLogs. */
  listWorkspaceLogs(workspaceId: string, limit: number, filter?: LogFilter): Promise<ExecutionLog[]>;
  /**
   * For live tails: the newest `limit` logs of the function whose sequence number is above
   * `afterSeq` (0: all), oldest first, ending early past `maxBytes` as listFunctionLogs does;
   * `more` when some above `afterSeq` are not in the page: left out, or deleted by the quota or
   * retention (the adapter keeps the highest number it deleted per function).
   */
  tailFunctionLogs(
    functionId: string,
    afterSeq: number,
    limit: number,
    maxBytes?: number,
  ): Promise<LogTailPage>;
  /**
   * Deletes up to `limit` of the function's logs with timestamp < `before`, oldest first, and
   * returns how many it deleted (retention: fewer than `limit` means none older is left).
   */
  deleteFunctionLogsBefore(functionId: string, before: string, limit: number): Promise<number>;
  /** Invocations, errors and mean duration of one function with timestamp >= since (ISO). */
  functionStats(functionId: string, since: string): Promise<InvocationStats>;
  /** Same, over every function of a workspace. */
  workspaceStats(workspaceId: string, since: string): Promise<InvocationStats>;
  /** Per-minute sums of one function's logs with since <= timestamp < until, oldest minute first. */
  functionMinutes(functionId: string, since: string, until: string): Promise<MinuteStats[]>;

  // Deployments (numbered versions of a function: artifact digest + config snapshot). They live in
  // the function's partition, so deleting the function or its workspace deletes them too.
  /**
   * Allocates the next version number of the function (1, 2, …) atomically and stores the
   * deployment, inactive. Fails NOT_FOUND if the function does not exist.
   */
  createDeployment(d: Omit<Deployment, 'version' | 'active'>): Promise<Deployment>;
  /** Newest (highest version) first. */
  listDeployments(functionId: string): Promise<Deployment[]>;
  getDeployment(functionId: string, version: number): Promise<Deployment | undefined>;
  /**
   * Makes this version the function's only active one (atomically clears the flag on the others);
   * undefined if no such version.
   */
  activateDeployment(functionId: string, version: number): Promise<Deployment | undefined>;
  /**
   * Removes an inactive version and resolves to it (undefined if there is none); CONFLICT when it
   * is the active one. Its number is never given to another deployment of the function.
   */
  deleteDeployment(functionId: string, version: number): Promise<Deployment | undefined>;
  /** Every active deployment across all functions (for restoring them at start-up), without a table scan. */
  listActiveDeployments(): Promise<Deployment[]>;

  /**
   * Rewrites the sealed secret variables of a function and of each of its deployments as one
   * atomic step, all or nothing (a key rotation, auth/secrets-rotation.ts: a crash leaves each
   * function wholly as it was or wholly rewritten). `change` gets each record's non-empty sealed
   * map, once, and answers the map to store, or undefined to leave that record as it is; it runs
   * inside the step, so it must be synchronous, and an exception from it writes nothing. Resolves to how
   * many records were rewritten (0 for a function that does not exist). Nothing else changes: not
   * lastModified, nor which version is active.
   */
  rewriteSecrets(
    workspaceId: string,
    functionId: string,
    change: (sealed: Record<string, string>) => Record<string, string> | undefined,
  ): Promise<number>;

  // API keys of a workspace (WS#{ws}/KEY#{id}), found by the sha256 of the key through a secondary
  // key; they live in the workspace's partition, so deleting the workspace deletes them.
  /** Fails NOT_FOUND when the workspace does not exist, CONFLICT when the id or the hash exists. */
  createApiKey(key: ApiKey): Promise<void>;
  /** Keys of a workspace, oldest first. */
  listApiKeys(workspaceId: string): Promise<ApiKey[]>;
  /** By the sha256 (hex) of the key, without a scan. */
  findApiKeyByHash(hash: string): Promise<ApiKey | undefined>;
  /** Records a use; undefined when the key is gone. */
  touchApiKey(workspaceId: string, id: string, lastUsedAt: string): Promise<ApiKey | undefined>;
  /** Returns whether a key was deleted. */
  deleteApiKey(workspaceId: string, id: string): Promise<boolean>;

  /** Key-value data of functions (spin_sdk.key_value). */
  readonly kv: KeyValuePort;

  /** Every (PK, SK) pair in the store, for tests that prove deletes leave nothing behind. */
  dumpKeys(): Promise<Array<{ pk: string; sk: string }>>;
  close(): Promise<void>;
}

export interface BlobStore {
  /**
   * Atomic: a reader sees the old bytes or the new ones, never a torn write. `known`: what the
   * caller knows is at the key (a store ignores it; the metering wrapper then need not ask).
   */
  put(key: string, data: Uint8Array, known?: KnownBlob): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * The bytes of the blob at exactly `key`; undefined when there is none (a prefix of other blobs
   * is none). One request on S3 (a HEAD), where usage(key) is two: it lists below the key too.
   */
  size(key: string): Promise<number | undefined>;
  delete(key: string): Promise<void>;
  /** Deletes every blob whose key starts with prefix + '/' (or equals prefix). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Keys equal to prefix or starting with prefix + '/' ('' for all; one trailing '/' is ignored),
   * sorted. Keys are validated by blob-keys.ts in every adapter (VALIDATION_ERROR, field 'key').
   */
  list(prefix: string): Promise<string[]>;
  /** How many blobs `list(prefix)` would give, and their bytes together (0 and 0 for none). */
  usage(prefix: string): Promise<BlobUsage>;
  close(): Promise<void>;
}

export interface BlobUsage {
  bytes: number;
  blobs: number;
}

/**
 * What size(key) would answer just before a put, given by a caller that knows it without asking:
 * undefined for a key under an id it has just made, or one its own listing (under a lock no other
 * writer of those keys passes) did not name; the length of a blob it has just read. Wrong, it
 * makes a workspace's total drift until the total is read again.
 */
export interface KnownBlob {
  sizeBefore: number | undefined;
}
