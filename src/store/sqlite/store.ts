// The SQLite MetadataStore: composes the per-record files over one connection and turns their
// synchronous calls into the port's promises. Every multi-row change runs in one transaction here,
// so the record files stay free of transaction plumbing.
import { EunhaError } from '../../core/errors.js';
import { DEFAULT_KV_MAX_BYTES, type KeyValuePort } from '../../core/kv.js';
import { DEFAULT_LOG_MAX_BYTES } from '../../core/log-quota.js';
import type {
  ApiKey,
  BuildTask,
  Deployment,
  ExecutionLog,
  FunctionRecord,
  InvocationStats,
  LogFilter,
  LogTailPage,
  MinuteStats,
  SequencedLog,
  Workspace,
} from '../../core/types.js';
import type {
  FunctionDataUsage,
  FunctionPatch,
  MetadataStore,
  TaskPage,
  TaskPatch,
  WorkspacePatch,
} from '../ports.js';
import { ApiKeys } from './api-keys.js';
import type { Checkpointer } from './checkpointer.js';
import { LOG_APPEND_BUSY_TIMEOUT_MS, type Db } from './connection.js';
import { Deployments, type NewDeployment } from './deployments.js';
import { Functions } from './functions.js';
import { Items } from './items.js';
import { SqliteKeyValue } from './kv.js';
import { Logs } from './logs.js';
import { Minutes } from './minutes.js';
import { SealedSecrets } from './sealed-secrets.js';
import { Stats } from './stats.js';
import { Tasks } from './tasks.js';
import { Workspaces } from './workspaces.js';

/** SQLite error codes that mean "the database is unavailable", not "your request is wrong". */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB)/;

function sqliteCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

export class SqliteMetadataStore implements MetadataStore {
  readonly kv: KeyValuePort;
  private readonly kvStore: SqliteKeyValue;
  private readonly items: Items;
  private readonly workspaces: Workspaces;
  private readonly functions: Functions;
  private readonly tasks: Tasks;
  private readonly deployments: Deployments;
  private readonly logs: Logs;
  private readonly stats: Stats;
  private readonly apiKeys: ApiKeys;
  private readonly sealedSecrets: SealedSecrets;
  private closed = false;

  /**
   * `now` is accepted for parity with adapters that stamp rows themselves (e.g. a DynamoDB TTL);
   * SQLite stores only the timestamps it is given, so it does not read the clock.
   */
  constructor(
    private readonly db: Db,
    readonly now: () => Date = () => new Date(),
    private readonly checkpointer: Checkpointer | null = null,
    kvMaxBytesPerFunction = DEFAULT_KV_MAX_BYTES,
    logMaxBytesPerFunction = DEFAULT_LOG_MAX_BYTES,
  ) {
    this.items = new Items(db);
    this.workspaces = new Workspaces(this.items);
    this.functions = new Functions(this.items, this.workspaces);
    this.tasks = new Tasks(this.items, this.workspaces);
    this.deployments = new Deployments(this.items, this.functions);
    this.sealedSecrets = new SealedSecrets(this.functions, this.deployments);
    const minutes = new Minutes(this.items);
    this.logs = new Logs(this.items, minutes, logMaxBytesPerFunction);
    this.stats = new Stats(this.items, minutes);
    this.apiKeys = new ApiKeys(this.items, this.workspaces);
    this.kvStore = new SqliteKeyValue(
      this.items,
      (fn) => this.run(fn),
      (fn) => this.tx(fn),
      kvMaxBytesPerFunction,
    );
    this.kv = this.kvStore;
  }

  /** Runs a synchronous step as a promise, mapping driver failures onto the error catalogue. */
  private async run<T>(fn: () => T): Promise<T> {
    if (this.closed) throw new EunhaError('DEPENDENCY_UNAVAILABLE', 'the metadata store is closed');
    try {
      return fn();
    } catch (err) {
      if (err instanceof EunhaError) throw err;
      const code = sqliteCode(err);
      if (code && UNAVAILABLE.test(code)) {
        throw new EunhaError('DEPENDENCY_UNAVAILABLE', `metadata store: ${(err as Error).message}`, { code });
      }
      throw err;
    }
  }

  /** Like run, inside an IMMEDIATE transaction: it takes the write lock up front, so two writers
   * never both read and then collide on upgrade (which SQLite reports as SQLITE_BUSY at once). */
  private tx<T>(fn: () => T): Promise<T> {
    return this.run(() => this.db.transaction(fn).immediate());
  }

  /**
   * Like tx, waiting at most `busyMs` for another connection's lock instead of the connection's
   * busy timeout (5 s), which is restored after: a wait holds the event loop.
   */
  private txWaitingAtMost<T>(busyMs: number, fn: () => T): Promise<T> {
    return this.run(() => {
      const busy = this.db.pragma('busy_timeout', { simple: true }) as number;
      this.db.pragma(`busy_timeout = ${busyMs}`);
      try {
        return this.db.transaction(fn).immediate();
      } finally {
        this.db.pragma(`busy_timeout = ${busy}`);
      }
    });
  }

  createWorkspace(ws: Workspace): Promise<void> {
    return this.run(() => this.workspaces.create(ws));
  }
  getWorkspace(id: string): Promise<Workspace | undefined> {
    return this.run(() => this.workspaces.get(id));
  }
  listWorkspaces(): Promise<Workspace[]> {
    return this.run(() => this.workspaces.list());
  }
  updateWorkspace(id: string, patch: WorkspacePatch): Promise<Workspace | undefined> {
    return this.tx(() => this.workspaces.update(id, patch));
  }
  deleteWorkspace(id: string): Promise<FunctionRecord[] | undefined> {
    return this.tx(() => this.workspaces.delete(id));
  }

  createFunction(fn: FunctionRecord): Promise<void> {
    return this.tx(() => this.functions.create(fn));
  }
  getFunction(workspaceId: string, functionId: string): Promise<FunctionRecord | undefined> {
    return this.run(() => this.functions.get(workspaceId, functionId));
  }
  findFunction(functionId: string): Promise<FunctionRecord | undefined> {
    return this.run(() => this.functions.find(functionId));
  }
  listFunctions(workspaceId: string): Promise<FunctionRecord[]> {
    return this.run(() => this.functions.list(workspaceId));
  }
  countFunctions(workspaceId: string): Promise<number> {
    return this.run(() => this.functions.count(workspaceId));
  }
  updateFunction(
    workspaceId: string,
    functionId: string,
    patch: FunctionPatch | ((current: FunctionRecord) => FunctionPatch),
  ): Promise<FunctionRecord | undefined> {
    return this.tx(() => this.functions.update(workspaceId, functionId, patch));
  }
  deleteFunction(
    workspaceId: string,
    functionId: string,
    check?: (current: FunctionRecord) => void,
  ): Promise<FunctionRecord | undefined> {
    return this.tx(() => this.functions.delete(workspaceId, functionId, check));
  }

  putTask(task: BuildTask): Promise<void> {
    return this.tx(() => this.tasks.put(task));
  }
  getTask(taskId: string): Promise<BuildTask | undefined> {
    return this.run(() => this.tasks.get(taskId));
  }
  listTasks(workspaceId: string, page?: TaskPage): Promise<BuildTask[]> {
    return this.run(() => this.tasks.list(workspaceId, page));
  }
  deleteTask(taskId: string): Promise<BuildTask | undefined> {
    return this.tx(() => this.tasks.delete(taskId));
  }
  updateTask(taskId: string, patch: TaskPatch): Promise<BuildTask | undefined> {
    return this.tx(() => this.tasks.update(taskId, patch));
  }

  createDeployment(d: NewDeployment): Promise<Deployment> {
    return this.tx(() => this.deployments.create(d));
  }
  listDeployments(functionId: string): Promise<Deployment[]> {
    return this.run(() => this.deployments.list(functionId));
  }
  getDeployment(functionId: string, version: number): Promise<Deployment | undefined> {
    return this.run(() => this.deployments.get(functionId, version));
  }
  activateDeployment(functionId: string, version: number): Promise<Deployment | undefined> {
    return this.tx(() => this.deployments.activate(functionId, version));
  }
  deleteDeployment(functionId: string, version: number): Promise<Deployment | undefined> {
    return this.tx(() => this.deployments.remove(functionId, version));
  }
  listActiveDeployments(): Promise<Deployment[]> {
    return this.run(() => this.deployments.listActive());
  }

  rewriteSecrets(
    workspaceId: string,
    functionId: string,
    change: Parameters<MetadataStore['rewriteSecrets']>[2],
  ): Promise<number> {
    return this.tx(() => this.sealedSecrets.rewrite(workspaceId, functionId, change));
  }

  /**
   * With another process holding the write lock (an operator's `sqlite3` session, a backup), fails
   * with DEPENDENCY_UNAVAILABLE after LOG_APPEND_BUSY_TIMEOUT_MS (50 ms), not the 5 s other writes
   * wait: its caller, the log writer, keeps the logs and retries later, and meanwhile the event
   * loop serves requests.
   */
  appendLogs(logs: ExecutionLog[]): Promise<SequencedLog[]> {
    return this.txWaitingAtMost(LOG_APPEND_BUSY_TIMEOUT_MS, () => this.logs.append(logs));
  }
  listFunctionLogs(functionId: string, limit: number, filter?: LogFilter): Promise<ExecutionLog[]> {
    return this.run(() => this.logs.listForFunction(functionId, limit, filter));
  }
  functionDataUsage(functionId: string): Promise<FunctionDataUsage> {
    return this.run(() => ({
      logBytes: this.logs.bytesForFunction(functionId),
      keyValueBytes: this.kvStore.bytesOf(functionId),
    }));
  }
  countFunctionLogs(functionId: string): Promise<number> {
    return this.run(() => this.logs.countForFunction(functionId));
  }
  deleteFunctionLogsBefore(functionId: string, before: string, limit: number): Promise<number> {
    return this.tx(() => this.logs.deleteForFunctionBefore(functionId, before, limit));
  }
  listWorkspaceLogs(workspaceId: string, limit: number, filter?: LogFilter): Promise<ExecutionLog[]> {
    return this.run(() => this.logs.listForWorkspace(workspaceId, limit, filter));
  }
  tailFunctionLogs(
    functionId: string,
    afterSeq: number,
    limit: number,
    maxBytes?: number,
  ): Promise<LogTailPage> {
    return this.run(() => this.logs.tailForFunction(functionId, afterSeq, limit, maxBytes));
  }
  functionMinutes(functionId: string, since: string, until: string): Promise<MinuteStats[]> {
    return this.run(() => this.stats.minutesOfFunction(functionId, since, until));
  }
  functionStats(functionId: string, since: string): Promise<InvocationStats> {
    return this.run(() => this.stats.forFunction(functionId, since));
  }
  workspaceStats(workspaceId: string, since: string): Promise<InvocationStats> {
    return this.run(() => this.stats.forWorkspace(workspaceId, since));
  }

  createApiKey(key: ApiKey): Promise<void> {
    return this.tx(() => this.apiKeys.create(key));
  }
  listApiKeys(workspaceId: string): Promise<ApiKey[]> {
    return this.run(() => this.apiKeys.list(workspaceId));
  }
  findApiKeyByHash(hash: string): Promise<ApiKey | undefined> {
    return this.run(() => this.apiKeys.findByHash(hash));
  }
  touchApiKey(workspaceId: string, id: string, lastUsedAt: string): Promise<ApiKey | undefined> {
    return this.tx(() => this.apiKeys.touch(workspaceId, id, lastUsedAt));
  }
  deleteApiKey(workspaceId: string, id: string): Promise<boolean> {
    return this.tx(() => this.apiKeys.delete(workspaceId, id));
  }

  dumpKeys(): Promise<Array<{ pk: string; sk: string }>> {
    return this.run(() => this.items.dumpKeys());
  }

  /**
   * Idempotent. Checkpoints the WAL into the main file so a closed store is one self-contained file
   * (or, when that fails, leaves the WAL for the next open to replay).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.checkpointer?.stop();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A full disk, say. Nothing is lost: the WAL stays beside the file and the next open
      // replays it. Thrown, it made a clean stop look failed (exit 1) and skipped what closes next.
    } finally {
      this.db.close();
    }
  }
}
