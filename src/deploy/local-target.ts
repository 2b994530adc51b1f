// The embedded deploy target: keeps the route table (function id → active deployment, loaded in
// the runtime) that the gateway reads on every request. Activation loads the new version first
// and only then swaps the route, so a bad version never replaces a good one; the old version is
// unloaded afterwards (the runtime drains its in-flight requests). Activations and removals of one
// function run one at a time (`exclusive`): two concurrent deploys used to unload the same old
// version, leave the loser loaded forever and let the route disagree with the stored active
// version, and a deploy finishing after a delete brought the function back. Secret variables are
// opened here, and only here: the runtime gets them as environment, the route keeps them for
// redaction.

import { randomUUID } from 'node:crypto';
import { parseOutboundHosts } from '../core/outbound-hosts.js';
import { Redactor } from '../auth/redact.js';
import { EunhaError } from '../core/errors.js';
import { KeyedLock } from '../core/keyed-lock.js';
import type { Deployment, FunctionRecord } from '../core/types.js';
import type { FunctionVersion, Runtime } from '../runtime/index.js';

export interface ActiveRoute {
  /** The function as last seen (status and httpMethods are checked live on every request). */
  fn: FunctionRecord;
  deployment: Deployment;
  versionKey: string;
  /** Masks this version's secret values in its execution logs. */
  redactor: Redactor;
}

/** A function whose active deployment start-up could not load, nor anything since (deploy/restore.ts). */
export interface UnrestoredState {
  /** The restore is tried again in the background. */
  retrying: boolean;
  /** Its secrets were sealed with another secrets key: the operator's to mend, not the owner's. */
  wrongKey: boolean;
}

interface Restoring {
  done: Promise<void>;
  settle: () => void;
  waitMs: number;
  expedite: () => void;
}

/** What a caller told to come back during start-up's restore waits: a few loads' time. */
const RESTORE_RETRY_AFTER_S = 5;

/** What a version is loaded from: a deployment, or one about to be recorded (`prepare`). */
export type VersionSource = Pick<Deployment, 'workspaceId' | 'functionId' | 'digest' | 'config'>;

/** Opens a deployment's sealed secret variables (auth/secrets.ts). */
export type OpenSecrets = (d: VersionSource) => Record<string, string>;

/**
 * A version loaded for a deployment not recorded yet (`prepare`): `activate` routes to it instead
 * of loading again, and `discard` unloads it if it never went live.
 */
export interface PreparedVersion {
  readonly key: string;
  readonly secrets: Record<string, string>;
}

export type ArtifactFiles = (workspaceId: string, digest: string) => Promise<Record<string, Uint8Array>>;

export const versionKey = (d: Pick<Deployment, 'functionId' | 'version' | 'digest'>): string =>
  `${d.functionId}@v${d.version}-${d.digest.slice(0, 12)}`;

export class LocalTarget {
  private readonly routes = new Map<string, ActiveRoute>();
  /** Per function: work that must run alone on it (deploys, activations, deletes). */
  private readonly lines = new KeyedLock();
  /** Functions whose active deployment could not be restored at start-up (the log says why),
   * and whether the restore is being tried again (deploy/restore.ts). */
  private readonly unrestored = new Map<string, UnrestoredState>();
  /** Functions whose active deployment start-up has yet to load (deploy/restore.ts): their
   * callers wait for it, up to the deployment's own timeout, rather than hear "never deployed". */
  private readonly restoring = new Map<string, Restoring>();
  /** Set by a shutdown that abandoned the restores still pending. */
  private restoresAbandoned = false;
  /**
   * Per function in exclusive work: the record its latest change carried (null: none yet). An
   * activation routes with it rather than with the record its caller read before the load: a
   * change committed meanwhile found no route to update (start-up's restore) or was overwritten,
   * and a function set to KEY or disabled while it loaded answered everyone until its next change.
   */
  private readonly changedDuring = new Map<string, FunctionRecord | null>();

  constructor(
    private readonly runtime: Pick<Runtime, 'load' | 'unload' | 'checkFits'>,
    private readonly artifactFiles: ArtifactFiles,
    private readonly openSecrets: OpenSecrets = () => ({}),
  ) {}

  route(functionId: string): ActiveRoute | undefined {
    return this.routes.get(functionId);
  }

  /**
   * Start-up could not load the function's active deployment: callers are told that, not "never
   * deployed", until a retry (when `retrying`), a deploy or an activation loads one.
   */
  markUnrestored(functionId: string, retrying: boolean, wrongKey = false): void {
    this.unrestored.set(functionId, { retrying, wrongKey });
  }

  /** Whether a function is unrestored, and if so why and whether it is retried; undefined if not. */
  unrestoredState(functionId: string): UnrestoredState | undefined {
    return this.unrestored.get(functionId);
  }

  /**
   * Start-up will load the function's active deployment; `expedite` moves it ahead of the others
   * still waiting their turn, called when a caller wants it.
   */
  markRestoring(functionId: string, waitMs: number, expedite: () => void): void {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.restoring.set(functionId, { done, settle, waitMs, expedite });
  }

  /** Whether start-up has yet to load the function's active deployment (it may be loading now). */
  isRestoring(functionId: string): boolean {
    return this.restoring.has(functionId);
  }

  /** Start-up's restore of the function is over, loaded or not, or a deploy, an activation or a
   * delete made it moot: callers waiting for it go on. */
  restoreSettled(functionId: string): void {
    const r = this.restoring.get(functionId);
    if (!r) return;
    this.restoring.delete(functionId);
    r.settle();
  }

  /** A shutdown skips the restores not yet done: their waiting callers are told so at once. */
  abandonRestores(): void {
    this.restoresAbandoned = true;
    for (const id of [...this.restoring.keys()]) this.restoreSettled(id);
  }

  /**
   * Waits, if start-up has yet to load the function, until it has (or has given up). Past the
   * deployment's timeout, the time its callers must be ready to wait for an answer anyway, the
   * caller is told to come back (503 NOT_READY with Retry-After); a shutdown meanwhile is a 503
   * SHUTTING_DOWN. Either way no caller of an active deployment hears NOT_DEPLOYED.
   */
  async awaitRestore(functionId: string): Promise<void> {
    const r = this.restoring.get(functionId);
    if (!r) return;
    r.expedite();
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      r.done.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), r.waitMs))),
    ]).finally(() => clearTimeout(timer));
    if (this.restoresAbandoned && !this.routes.has(functionId)) {
      throw new EunhaError('SHUTTING_DOWN', 'the server is shutting down', { functionId });
    }
    if (late) {
      throw new EunhaError(
        'NOT_READY',
        `function '${functionId}' is still being loaded after the server started; try again shortly`,
        { functionId },
        { 'retry-after': String(RESTORE_RETRY_AFTER_S) },
      );
    }
  }

  /** How many functions are unrestored, and how many of those are being retried (the readiness
   * probe: observability/probes.ts). */
  unrestoredCounts(): { unrestored: number; retrying: number; restoring: number } {
    let retrying = 0;
    for (const s of this.unrestored.values()) if (s.retrying) retrying++;
    return { unrestored: this.unrestored.size, retrying, restoring: this.restoring.size };
  }

  /**
   * Functions that serve calls: routed to a loaded version and not disabled. A disabled function
   * keeps its route (enabling it must not need a reload), but every call to it is a 403.
   */
  /** The functions that have a route (deployed and loaded), as last seen: for the info metric. */
  routed(): Array<Pick<FunctionRecord, 'id' | 'name' | 'workspaceId'>> {
    return [...this.routes.values()].map((r) => r.fn);
  }

  serving(): number {
    let n = 0;
    for (const r of this.routes.values()) if (r.fn.status !== 'disabled') n++;
    return n;
  }

  /**
   * Runs `work` when no other exclusive work on this function is running; `activate` must be
   * called inside it, together with whatever records the activation (deployments.ts).
   */
  exclusive<T>(functionId: string, work: () => Promise<T>): Promise<T> {
    return this.lines.run(functionId, async () => {
      this.changedDuring.set(functionId, null);
      try {
        return await work();
      } finally {
        this.changedDuring.delete(functionId);
      }
    });
  }

  /** Load a deployment and route the function to it. Call inside `exclusive`. */
  async activate(fn: FunctionRecord, deployment: Deployment, prepared?: PreparedVersion): Promise<void> {
    const key = prepared?.key ?? versionKey(deployment);
    const previous = this.routes.get(fn.id);
    // The active version again (its key may be a prepared one): nothing to load.
    if (
      previous !== undefined &&
      previous.deployment.version === deployment.version &&
      previous.deployment.digest === deployment.digest
    ) {
      this.routes.set(fn.id, { ...previous, fn: this.changedDuring.get(fn.id) ?? fn });
      return;
    }
    const secrets = prepared?.secrets ?? (await this.load(fn, deployment, key));
    this.routes.set(fn.id, {
      fn: this.changedDuring.get(fn.id) ?? fn,
      deployment,
      versionKey: key,
      redactor: new Redactor(Object.values(secrets)),
    });
    this.unrestored.delete(fn.id);
    this.restoreSettled(fn.id);
    if (previous) await this.runtime.unload(previous.versionKey);
  }

  /**
   * Loads a version for a deployment about to be recorded, under a key of its own: the one-call
   * deploy's load is its code's check, and what fails here leaves no record behind.
   */
  async prepare(fn: FunctionRecord, source: VersionSource): Promise<PreparedVersion> {
    const key = `${fn.id}@new-${randomUUID()}-${source.digest.slice(0, 12)}`;
    return { key, secrets: await this.load(fn, source, key) };
  }

  /** Unloads a prepared version that no route took (its deploy failed after the load). */
  async discard(prepared: PreparedVersion): Promise<void> {
    for (const r of this.routes.values()) if (r.versionKey === prepared.key) return;
    await this.runtime.unload(prepared.key);
  }

  /** Loads `source` in the runtime as `key`; returns its opened secret variables. */
  private async load(
    fn: FunctionRecord,
    source: VersionSource,
    key: string,
  ): Promise<Record<string, string>> {
    const files = await this.artifactFiles(source.workspaceId, source.digest);
    const secrets = this.openSecrets(source);
    const env = { ...source.config.environmentVariables, ...secrets };
    const version: FunctionVersion = {
      key,
      functionId: fn.id,
      workspaceId: fn.workspaceId,
      engine: 'python',
      files,
      env,
      variables: spinVariables(env),
      secrets: Object.values(secrets),
      memoryMb: source.config.memory,
      timeoutMs: source.config.timeout * 1000,
      minWarm: source.config.minWarm ?? 0,
      ...(source.config.maxInstances ? { maxInstances: source.config.maxInstances } : {}),
      outboundHosts: parseOutboundHosts(source.config.allowedOutboundHosts ?? []),
    };
    await this.runtime.load(version);
    return secrets;
  }

  /** Refuses (VALIDATION_ERROR) a function whose instance could never fit the runtime's memory budgets. */
  checkFits(fn: Pick<FunctionRecord, 'memory'>): void {
    this.runtime.checkFits(fn.memory);
  }

  /** The function record changed (status, methods, name): routing sees it at once. */
  functionChanged(fn: FunctionRecord): void {
    if (this.changedDuring.has(fn.id)) this.changedDuring.set(fn.id, fn);
    const r = this.routes.get(fn.id);
    if (r) this.routes.set(fn.id, { ...r, fn });
  }

  /** The function was deleted: stop routing to it, after any activation of it in progress. */
  async remove(functionId: string): Promise<void> {
    await this.exclusive(functionId, () => this.unroute(functionId));
  }

  /** Stop routing to the function and unload its version. Call inside `exclusive`. */
  async unroute(functionId: string): Promise<void> {
    this.unrestored.delete(functionId);
    this.restoreSettled(functionId);
    const r = this.routes.get(functionId);
    if (!r) return;
    this.routes.delete(functionId);
    await this.runtime.unload(r.versionKey);
  }
}

/**
 * What `spin_sdk.variables.get(name)` answers. Spin names variables in lower case and its
 * environment provider reads `SPIN_VARIABLE_{NAME}`; a Blue FaaS function has only environment
 * variables, so each one whose lower-cased name is a valid variable name is one too (`API_URL` →
 * `api_url`), and a `SPIN_VARIABLE_` one wins over a plain one of the same name.
 */
export function spinVariables(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const prefixed: [string, string][] = [];
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith(SPIN_PREFIX)) prefixed.push([k.slice(SPIN_PREFIX.length), v]);
    else if (VARIABLE_NAME.test(k.toLowerCase())) out[k.toLowerCase()] = v;
  }
  for (const [k, v] of prefixed) if (VARIABLE_NAME.test(k.toLowerCase())) out[k.toLowerCase()] = v;
  return out;
}
const SPIN_PREFIX = 'SPIN_VARIABLE_';
/** Spin's rule for variable names. */
const VARIABLE_NAME = /^[a-z][a-z0-9_]*$/;
