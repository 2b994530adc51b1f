// Function use cases: create with validated config and code (code goes to the blob store,
// content-addressed, as the seed kept it in S3), read with rolling-24h statistics, patch, delete.

import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { MASK, masked, secretContext, type SecretBox } from '../auth/secrets.js';
import { EunhaError, invalid, notFound } from '../core/errors.js';
import { KeyedLock } from '../core/keyed-lock.js';
import { parseOutboundHosts } from '../core/outbound-hosts.js';
import { DEFAULT_RUNTIME, resolveRuntime } from '../core/runtimes.js';
import { FUNCTION_PATCH_STATUSES, type FunctionCreate, type FunctionUpdate } from '../core/schemas.js';
import type { FunctionAuthType, FunctionRecord, FunctionStatus } from '../core/types.js';
import {
  checkEnvVars,
  decodeCode,
  normalizeMethods,
  normalizeTimestamp,
  normalizeUrl,
  quote,
} from '../core/validate.js';
import type { FunctionPatch } from '../store/ports.js';
import { codeKeyPrefix, windowStart, type ServiceDeps } from './deps.js';
import { checkEnvironment } from './function-environment.js';
import { purgeLogs } from './log-purge.js';
import { checkIfMatch, functionEtag } from './function-etag.js';
import { requireFunction, requireWorkspace } from '../store/lookups.js';

/** A function's memory limit when its creator gives none (MB): the seed's default. */
export const DEFAULT_MEMORY_MB = 256;

export interface FunctionView extends Omit<
  FunctionRecord,
  | 'codeKey'
  | 'codeSha256'
  | 'runtimeLabel'
  | 'createdAt'
  | 'secretEnvironmentVariables'
  | 'authType'
  | 'minWarm'
  | 'maxInstances'
  | 'allowedOutboundHosts'
> {
  minWarm: number;
  maxInstances: number | null;
  allowedOutboundHosts: string[];
  /** Names only: every value is the mask. */
  secretEnvironmentVariables: Record<string, string>;
  authType: FunctionAuthType;
  code: string;
  /** The record's entity tag (function-etag.ts): sent as the ETag header, not in the body. */
  etag: string;
  invocations24h: number;
  errors24h: number;
  avgDuration: number;
}

/**
 * Functions one workspace may hold. Each has its own key-value quota, instances and artifacts: an
 * unbounded number made those per-function limits per-tenant ones in name only.
 */
export const MAX_FUNCTIONS_PER_WORKSPACE = 100;

export class FunctionService {
  /**
   * Updates and deletes of one function run one at a time: two PATCHes that each read the record
   * and wrote it back lost one's changes (environment merges), and the loser's new code blob was
   * left behind; a delete could remove the code prefix before a PATCH stored its blob there.
   */
  private readonly writes = new KeyedLock();
  private readonly creates = new KeyedLock();

  constructor(private readonly deps: ServiceDeps) {}

  /** Creates in one workspace run one at a time, so the cap's count cannot go stale. */
  create(workspaceId: string, input: FunctionCreate): Promise<FunctionView> {
    return this.creates.run(workspaceId, () => this.createAlone(workspaceId, input));
  }

  private async createAlone(workspaceId: string, input: FunctionCreate): Promise<FunctionView> {
    const runtime = resolveRuntime(input.runtime ?? DEFAULT_RUNTIME);
    const source = decodeCode(input.code);
    const now = this.deps.clock().toISOString();
    const id = this.deps.ids.function();
    const environmentVariables = checkEnvVars(input.environmentVariables ?? {});
    const secretEnvironmentVariables = this.sealNew(
      workspaceId,
      id,
      {},
      input.secretEnvironmentVariables ?? {},
    );
    checkEnvironment(environmentVariables, secretEnvironmentVariables, input);
    const count = await this.deps.meta.countFunctions(workspaceId);
    if (count >= MAX_FUNCTIONS_PER_WORKSPACE) {
      throw new EunhaError(
        'CONFLICT',
        `this workspace has ${count} functions, the most allowed; delete one first`,
        { limit: MAX_FUNCTIONS_PER_WORKSPACE },
      );
    }
    const { key, sha } = await this.storeCode(workspaceId, id, source);
    const fn: FunctionRecord = {
      id,
      workspaceId,
      name: input.name.trim(),
      description: input.description ?? null,
      runtime: runtime.engine,
      runtimeLabel: runtime.label,
      memory: input.memory ?? DEFAULT_MEMORY_MB,
      timeout: input.timeout ?? 30,
      minWarm: input.minWarm ?? 0,
      maxInstances: input.maxInstances ?? null,
      allowedOutboundHosts: checkOutboundHosts(input.allowedOutboundHosts ?? []),
      httpMethods: normalizeMethods(input.httpMethods ?? ['GET']),
      environmentVariables,
      secretEnvironmentVariables,
      authType: input.authType ?? 'NONE',
      codeKey: key,
      codeSha256: sha,
      invocationUrl: null,
      status: 'active',
      createdAt: now,
      lastModified: now,
      lastDeployed: null,
    };
    try {
      await this.deps.meta.createFunction(fn);
    } catch (err) {
      await this.deps.blobs.delete(key);
      throw err;
    }
    return this.view(fn, source);
  }

  async list(workspaceId: string): Promise<FunctionView[]> {
    await requireWorkspace(this.deps.meta, workspaceId);
    const fns = await this.deps.meta.listFunctions(workspaceId);
    return Promise.all(fns.map((fn) => this.view(fn)));
  }

  require(workspaceId: string, functionId: string): Promise<FunctionRecord> {
    return requireFunction(this.deps.meta, workspaceId, functionId);
  }

  async get(workspaceId: string, functionId: string): Promise<FunctionView> {
    return this.view(await this.require(workspaceId, functionId));
  }

  /** The current source of a function, as bytes. */
  /**
   * The function and its current code, read together: a PATCH with new code deletes the old blob,
   * so a deploy that read the record and then the blob could find it gone.
   */
  current(workspaceId: string, functionId: string): Promise<{ fn: FunctionRecord; source: Buffer }> {
    return this.writes.run(functionId, async () => {
      const fn = await this.require(workspaceId, functionId);
      return { fn, source: await this.source(fn) };
    });
  }

  async source(fn: FunctionRecord): Promise<Buffer> {
    const bytes = await this.storedCode(fn);
    if (!bytes) {
      throw new EunhaError(
        'INTERNAL_ERROR',
        `the code of function '${fn.id}' is missing from the blob store; PATCH its code to store it again`,
        { key: fn.codeKey },
      );
    }
    return bytes;
  }

  private async storedCode(fn: FunctionRecord): Promise<Buffer | undefined> {
    const bytes = await this.deps.blobs.get(fn.codeKey);
    return bytes && Buffer.from(bytes);
  }

  /**
   * The code for a view, or empty when its blob is missing (a restore from a backup that copied
   * the blobs after a PATCH had replaced it, a lost disk). It used to fail the view: the whole
   * workspace's listing answered 500 for one function, and a PATCH of its memory was a 500 that
   * had been applied. Deploys still refuse it (source()); a PATCH of its code mends it.
   */
  private async viewedSource(fn: FunctionRecord): Promise<Buffer> {
    const bytes = await this.storedCode(fn);
    if (bytes) return bytes;
    this.deps.warn?.(
      { functionId: fn.id, key: fn.codeKey },
      "a function's code is missing from the blob store",
    );
    return Buffer.alloc(0);
  }

  /** `ifMatch`: the request's If-Match, checked against the record as the write finds it. */
  update(
    workspaceId: string,
    functionId: string,
    input: FunctionUpdate,
    ifMatch?: string,
  ): Promise<FunctionView> {
    return this.writes.run(functionId, () => this.updateAlone(workspaceId, functionId, input, ifMatch));
  }

  delete(workspaceId: string, functionId: string, ifMatch?: string): Promise<void> {
    return this.writes.run(functionId, () => this.deleteAlone(workspaceId, functionId, ifMatch));
  }

  private async updateAlone(
    workspaceId: string,
    functionId: string,
    input: FunctionUpdate,
    ifMatch: string | undefined,
  ): Promise<FunctionView> {
    const current = await this.require(workspaceId, functionId);
    // Before new code is stored; checked again in the write, which a deploy may have preceded.
    checkIfMatch(ifMatch, current);
    const patch: FunctionPatch = {};
    if (input.name != null) patch.name = input.name.trim();
    if (input.description !== undefined) patch.description = input.description;
    if (input.runtime != null) {
      const rt = resolveRuntime(input.runtime);
      patch.runtime = rt.engine;
      patch.runtimeLabel = rt.label;
    }
    if (input.memory != null) patch.memory = input.memory;
    if (input.timeout != null) patch.timeout = input.timeout;
    if (input.minWarm != null) patch.minWarm = input.minWarm;
    // null is "the platform default" here, a value of its own: only an absent field leaves it be.
    if (input.maxInstances !== undefined) patch.maxInstances = input.maxInstances;
    if (input.allowedOutboundHosts != null)
      patch.allowedOutboundHosts = checkOutboundHosts(input.allowedOutboundHosts);
    if (input.httpMethods != null) patch.httpMethods = normalizeMethods(input.httpMethods);
    if (input.environmentVariables != null)
      patch.environmentVariables = checkEnvVars(input.environmentVariables);
    if (input.secretEnvironmentVariables != null) {
      patch.secretEnvironmentVariables = this.sealNew(
        workspaceId,
        functionId,
        current.secretEnvironmentVariables ?? {},
        input.secretEnvironmentVariables,
      );
    }
    if (patch.environmentVariables || patch.secretEnvironmentVariables) {
      const env = patch.environmentVariables ?? current.environmentVariables;
      const sealed = patch.secretEnvironmentVariables ?? current.secretEnvironmentVariables ?? {};
      checkEnvironment(env, sealed, input);
    }
    if (input.authType != null) patch.authType = input.authType;
    if (input.status != null) {
      if (!(FUNCTION_PATCH_STATUSES as readonly string[]).includes(input.status)) {
        throw invalid('status', `status must be one of ${FUNCTION_PATCH_STATUSES.join(', ')}`);
      }
      patch.status = input.status as FunctionStatus;
    }
    if (input.invocationUrl != null) patch.invocationUrl = normalizeUrl(input.invocationUrl, 'invocationUrl');
    if (input.lastDeployed != null)
      patch.lastDeployed = normalizeTimestamp(input.lastDeployed, 'lastDeployed');
    let source: Buffer | undefined;
    if (input.code != null) {
      source = decodeCode(input.code);
      // The same code is stored again when its blob has gone missing: the PATCH that mends it.
      const same = this.codeLocation(workspaceId, functionId, source).key === current.codeKey;
      if (!same || (await this.deps.blobs.size(current.codeKey)) === undefined) {
        const stored = await this.storeCode(workspaceId, functionId, source, current.codeKey);
        patch.codeKey = stored.key;
        patch.codeSha256 = stored.sha;
      }
    }
    // A client that echoes a whole config back (or sends {}) changes nothing: lastModified says
    // when the function last changed, not when it was last written to.
    if (!changesAnything(current, patch)) return this.view(current, source);
    patch.lastModified = this.deps.clock().toISOString();
    const newCode = patch.codeKey !== current.codeKey ? patch.codeKey : undefined;
    let updated: FunctionRecord | undefined;
    try {
      updated = await this.deps.meta.updateFunction(workspaceId, functionId, (atWrite) => {
        checkIfMatch(ifMatch, atWrite);
        return patch;
      });
    } catch (err) {
      // The record still names the old code: the new blob is named by nothing (it stayed, counted
      // against the quota, until a restart's sweep).
      if (newCode) await this.deps.blobs.delete(newCode).catch(() => {});
      throw err;
    }
    if (!updated) {
      if (newCode) await this.deps.blobs.delete(newCode);
      throw notFound('Function', functionId);
    }
    if (newCode) await this.deps.blobs.delete(current.codeKey);
    this.deps.events?.changed(updated);
    return this.view(updated, source);
  }

  private async deleteAlone(
    workspaceId: string,
    functionId: string,
    ifMatch: string | undefined,
  ): Promise<void> {
    checkIfMatch(ifMatch, await this.require(workspaceId, functionId));
    // With If-Match the logs go with the function, in its transaction: deleted first, they would
    // be lost with a function that a concurrent edit then keeps.
    if (ifMatch === undefined) await purgeLogs(this.deps.meta, functionId);
    // Read before they go with the function: their artifacts go too, unless something else names them.
    const digests = (await this.deps.meta.listDeployments(functionId)).map((d) => d.digest);
    const removed = await this.deps.meta.deleteFunction(workspaceId, functionId, (atWrite) =>
      checkIfMatch(ifMatch, atWrite),
    );
    if (!removed) throw notFound('Function', functionId);
    await this.deps.events?.deleted(functionId);
    await this.deps.blobs.deletePrefix(codeKeyPrefix(workspaceId, functionId));
    await this.deps.artifacts?.collectArtifacts(workspaceId, digests);
  }

  /**
   * Applies a write-only secrets patch onto the sealed map: a value is sealed, null removes the
   * name, and the mask (what a client that echoes a FunctionConfig back sends) keeps the old value.
   */
  private sealNew(
    workspaceId: string,
    functionId: string,
    current: Record<string, string>,
    input: Record<string, string | null>,
  ): Record<string, string> {
    const field = 'secretEnvironmentVariables';
    const next = { ...current };
    const given: Record<string, string> = {};
    for (const [name, value] of Object.entries(input)) {
      if (value === null) delete next[name];
      else if (value === MASK && Object.hasOwn(current, name)) continue;
      else if (value === MASK) {
        // Stored as is, the mask would become the secret's value: a client echoing a config it
        // has edited would silently deploy "********" for a name the function never had.
        throw invalid(
          field,
          `${quote(name)} is not a secret of this function, so "${MASK}" has no value to keep; send the real value`,
          { key: name.slice(0, 64) },
        );
      } else given[name] = value;
    }
    if (Object.keys(given).length === 0) return next;
    const secrets = this.deps.secrets;
    if (!secrets)
      throw new EunhaError('INTERNAL_ERROR', 'secret variables are not configured on this server');
    checkEnvVars(given, field);
    for (const [name, value] of Object.entries(given)) {
      const context = secretContext(workspaceId, functionId, name);
      // Own names only: `constructor` read from a plain record is Object's, not a sealed value.
      const old = Object.hasOwn(current, name) ? current[name] : undefined;
      // Sealing takes a fresh nonce, so re-sealing an unchanged value would look like a change.
      next[name] =
        old !== undefined && opensTo(secrets, old, context, value) ? old : secrets.seal(value, context);
    }
    checkEnvVars(masked(next), field);
    return next;
  }

  private codeLocation(
    workspaceId: string,
    functionId: string,
    source: Buffer,
  ): { key: string; sha: string } {
    const sha = createHash('sha256').update(source).digest('hex');
    return { key: `${codeKeyPrefix(workspaceId, functionId)}/${sha}.py`, sha };
  }

  /** `replacing`: the code it takes the place of, deleted once the record names the new one. */
  private async storeCode(
    workspaceId: string,
    functionId: string,
    source: Buffer,
    replacing?: string,
  ): Promise<{ key: string; sha: string }> {
    const location = this.codeLocation(workspaceId, functionId, source);
    // One size() each (a HEAD on S3); a function's writes run one at a time, so what they say
    // still holds at the put, which is told it and need not ask again.
    const old = replacing === undefined ? undefined : await this.deps.blobs.size(replacing);
    // The same code again is the same key (content-addressed): stored already, it costs nothing.
    // Replacing code costs what it grows: a workspace at its quota can still make code smaller.
    const present = await this.deps.blobs.size(location.key);
    const need = { bytes: source.byteLength - (old ?? 0), blobs: old === undefined ? 1 : 0 };
    const release =
      present !== undefined || (need.bytes <= 0 && need.blobs <= 0)
        ? () => {}
        : await this.deps.quota?.reserve(workspaceId, need);
    try {
      await this.deps.blobs.put(location.key, source, { sizeBefore: present });
    } finally {
      release?.();
    }
    return location;
  }

  private async view(fn: FunctionRecord, source?: Buffer): Promise<FunctionView> {
    const [code, stats] = await Promise.all([
      source ? Promise.resolve(source) : this.viewedSource(fn),
      this.deps.meta.functionStats(fn.id, windowStart(this.deps.clock)),
    ]);
    return {
      id: fn.id,
      workspaceId: fn.workspaceId,
      name: fn.name,
      description: fn.description,
      runtime: fn.runtimeLabel,
      memory: fn.memory,
      timeout: fn.timeout,
      httpMethods: fn.httpMethods,
      environmentVariables: fn.environmentVariables,
      secretEnvironmentVariables: masked(fn.secretEnvironmentVariables),
      authType: fn.authType ?? 'NONE',
      minWarm: fn.minWarm ?? 0,
      maxInstances: fn.maxInstances ?? null,
      allowedOutboundHosts: fn.allowedOutboundHosts ?? [],
      code: code.toString('base64'),
      etag: functionEtag(fn),
      invocationUrl: fn.invocationUrl,
      status: fn.status,
      lastModified: fn.lastModified,
      lastDeployed: fn.lastDeployed,
      invocations24h: stats.invocations,
      errors24h: stats.errors,
      avgDuration: Math.round(stats.avgDuration * 1000) / 1000,
    };
  }
}

/** The entries trimmed, each checked (VALIDATION_ERROR on `allowedOutboundHosts` naming the bad one). */
function checkOutboundHosts(entries: string[]): string[] {
  try {
    parseOutboundHosts(entries);
  } catch (e) {
    throw invalid('allowedOutboundHosts', (e as Error).message);
  }
  return entries.map((e) => e.trim());
}

function opensTo(secrets: SecretBox, sealed: string, context: string, value: string): boolean {
  // Kept only under the current key: one the previous key sealed is sealed again, so a write
  // never stores a value under the key a rotation retires.
  if (!secrets.sealedWithCurrentKey(sealed)) return false;
  try {
    return secrets.open(sealed, context) === value;
  } catch {
    // Sealed under another key, or damaged: sealing the value afresh is the repair.
    return false;
  }
}

/**
 * Whether applying the patch would change what is stored. Records written before a field existed
 * lack it; they are compared with the value the API shows for them.
 */
function changesAnything(current: FunctionRecord, patch: FunctionPatch): boolean {
  const shown: Partial<FunctionRecord> = {
    ...current,
    secretEnvironmentVariables: current.secretEnvironmentVariables ?? {},
    authType: current.authType ?? 'NONE',
    minWarm: current.minWarm ?? 0,
    maxInstances: current.maxInstances ?? null,
    allowedOutboundHosts: current.allowedOutboundHosts ?? [],
  };
  return Object.entries(patch).some(
    ([key, value]) => value !== undefined && !isDeepStrictEqual(value, shown[key as keyof FunctionRecord]),
  );
}
