// Deployments: a numbered version of a function = an immutable artifact digest + a snapshot of
// the config it runs with. Deploying builds the function's current code (or takes a built image),
// loads it in the embedded runtime, records it and makes it active; activating an older or newer
// version swaps at once without a rebuild; at start-up every active deployment is restored
// (restore.ts).

import { parseImageRef } from '../build/image-ref.js';
import { masked } from '../auth/secrets.js';
import { EunhaError, invalid, notFound } from '../core/errors.js';
import type { Clock } from '../core/ids.js';
import { KeyedLock } from '../core/keyed-lock.js';
import type { Deployment, FunctionRecord } from '../core/types.js';
import { checkIfMatch } from '../services/function-etag.js';
import type { FunctionService } from '../services/functions.js';
import type { MetadataStore } from '../store/ports.js';
import type { LocalTarget, PreparedVersion } from './local-target.js';

/** An artifact kept from removal until `release` (once a deployment names it). */
export interface PinnedArtifact {
  digest: string;
  release: () => void;
}

/** What deploying needs from the build module. */
export interface ArtifactSource {
  /**
   * Stores the files as an artifact, unchecked, then runs `load` (the deploy's own load, which
   * checks them) in the same build slot; `load` releases the artifact if it throws.
   */
  buildNow(
    workspaceId: string,
    appName: string,
    files: Record<string, Uint8Array>,
    load: (built: PinnedArtifact) => Promise<void>,
  ): Promise<PinnedArtifact & { imageUrl: string }>;
  /** A place among the workspace's waiting builds (or a 429), held until the returned release. */
  waitingPlace(workspaceId: string): () => void;
  resolveImage(ref: string): Promise<PinnedArtifact & { workspaceId: string }>;
  /** Removes those of the artifacts that nothing names any more. */
  collectArtifacts(workspaceId: string, digests: Iterable<string>): Promise<number>;
}

export interface DeploymentView extends Omit<Deployment, 'config'> {
  /** The config snapshot with secret values masked. */
  config: Deployment['config'] & { secretEnvironmentVariables: Record<string, string> };
  invocationUrl: string;
}

export const appNameOf = (fn: Pick<FunctionRecord, 'name' | 'id'>): string =>
  fn.name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || fn.id;

export class DeploymentService {
  private readonly oneCallDeploys = new KeyedLock();

  constructor(
    private readonly deps: {
      meta: MetadataStore;
      functions: FunctionService;
      artifacts: ArtifactSource;
      target: LocalTarget;
      clock: Clock;
      /** Base of invocation URLs; a function because a port-0 server learns its port at listen. */
      publicUrl: () => string;
      /** Versions kept per function, the active one included (EUNHA_MAX_VERSIONS_PER_FUNCTION). */
      maxVersions?: number;
      log?: (level: 'info' | 'error', obj: object, msg: string) => void;
    },
  ) {}

  invocationUrl(functionId: string): string {
    return `${this.deps.publicUrl()}/fn/${functionId}`;
  }

  /**
   * Builds the function's current code and deploys it: the one-call path. Its version's first
   * load is the code's check (a separate sandbox check before it cost a second boot per deploy):
   * code that does not load is a VALIDATION_ERROR on 'code' with the Python traceback, as a
   * build's check answers, and leaves neither a deployment nor an artifact. `ifMatch`: the
   * request's If-Match, checked against the record whose code is built.
   */
  async deployCurrent(workspaceId: string, functionId: string, ifMatch?: string): Promise<DeploymentView> {
    // Not found before waiting: another workspace's function must not make a caller wait.
    checkIfMatch(ifMatch, await this.deps.functions.require(workspaceId, functionId));
    // One at a time per function: a deploy's loaded version waits for its turn to go live (behind
    // an activation that may load for a minute), so deploys sent meanwhile each held one more.
    // Waiting here, a deploy counts among its workspace's waiting builds.
    const release = this.deps.artifacts.waitingPlace(workspaceId);
    try {
      return await this.oneCallDeploys.run(functionId, () => {
        release();
        return this.buildAndDeploy(workspaceId, functionId, ifMatch);
      });
    } finally {
      release();
    }
  }

  private async buildAndDeploy(
    workspaceId: string,
    functionId: string,
    ifMatch: string | undefined,
  ): Promise<DeploymentView> {
    const { fn, source } = await this.deps.functions.current(workspaceId, functionId);
    // What is built is this record's code: one edited while the deploy waited its turn is refused.
    checkIfMatch(ifMatch, fn);
    // Before the build and the record: a deployment that could never load leaves neither.
    this.deps.target.checkFits(fn);
    let prepared!: PreparedVersion;
    const built = await this.deps.artifacts.buildNow(
      workspaceId,
      appNameOf(fn),
      { 'app.py': new Uint8Array(source) },
      async (artifact) => {
        try {
          prepared = await this.deps.target.prepare(fn, {
            workspaceId,
            functionId: fn.id,
            digest: artifact.digest,
            config: configOf(fn),
          });
        } catch (err) {
          artifact.release();
          await this.forget(workspaceId, artifact.digest);
          throw this.loadFailure(fn, err, 'code');
        }
      },
    );
    try {
      return await this.deploy(fn, built, built.imageUrl, prepared);
    } finally {
      await this.deps.target.discard(prepared);
    }
  }

  /**
   * A load's failure, as the caller's: the code's traceback, a VALIDATION_ERROR on the field that
   * named the code (`code`, `image_ref`, `version`). Module code that raises is the function's
   * fault, not the platform's: /api/v1/deploy and activations answered it 500, so clients retried
   * it and dashboards blamed the platform. The runtime has already masked the secret values
   * module code saw in os.environ (Instance.specialise).
   */
  private loadFailure(fn: FunctionRecord, err: unknown, field: string): unknown {
    if (!(err instanceof EunhaError)) {
      return new EunhaError('INTERNAL_ERROR', `the function's code could not be loaded: ${String(err)}`);
    }
    // Its artifact went between the build and the load: a delete of the function or workspace.
    if (isNotFound(err, 'artifact')) return notFound('Function', fn.id);
    if (err.code !== 'FUNCTION_LOAD_ERROR') return err;
    const traceback = err.details.traceback;
    return invalid(field, typeof traceback === 'string' ? traceback : err.message, { reason: 'load_error' });
  }

  /** POST /api/v1/deploy: an image built earlier, bound to a function. */
  async deployImage(imageRef: string, functionId: string): Promise<DeploymentView> {
    const fn = await this.deps.meta.findFunction(functionId);
    if (!fn) throw notFound('Function', functionId);
    // Artifacts belong to the workspace they were built in, which the reference names. Said before
    // anything is read, so it tells nothing about the other workspace: a build sent without
    // workspace_id (the seed's default, ws-default) used to fail here as a missing image.
    const named = parseImageRef(imageRef).workspaceId;
    if (named !== fn.workspaceId) {
      throw invalid(
        'image_ref',
        `image_ref names an image of workspace '${named}', but function '${fn.id}' is in workspace ` +
          `'${fn.workspaceId}': build it there (workspace_id=${fn.workspaceId}) to deploy it`,
      );
    }
    // Before the artifact is read: a function that could never fit needs none of it.
    this.deps.target.checkFits(fn);
    const image = await this.deps.artifacts.resolveImage(imageRef);
    // Loaded with the function's settings before a version is recorded, as the one-call path
    // does: the build's check ran without them, and code they break left a version that could
    // never load.
    let prepared: PreparedVersion;
    try {
      prepared = await this.deps.target.prepare(fn, {
        workspaceId: fn.workspaceId,
        functionId: fn.id,
        digest: image.digest,
        config: configOf(fn),
      });
    } catch (err) {
      image.release();
      throw this.loadFailure(fn, err, 'image_ref');
    }
    try {
      return await this.deploy(fn, image, imageRef, prepared);
    } finally {
      await this.deps.target.discard(prepared);
    }
  }

  async list(workspaceId: string, functionId: string): Promise<DeploymentView[]> {
    await this.deps.functions.require(workspaceId, functionId);
    return (await this.deps.meta.listDeployments(functionId)).map((d) => this.view(d));
  }

  async activate(workspaceId: string, functionId: string, version: number): Promise<DeploymentView> {
    const fn = await this.deps.functions.require(workspaceId, functionId);
    const d = await this.deps.meta.getDeployment(functionId, version);
    if (!d) throw notFound('Deployment', `${functionId} v${version}`);
    try {
      return this.view(await this.goLive(fn, d));
    } catch (err) {
      throw this.loadFailure(fn, err, 'version');
    }
  }

  /**
   * Deletes an inactive version (CONFLICT for the active one) and its artifact, unless another
   * deployment or a build task still names it: what makes room in a workspace at its storage quota.
   */
  async remove(workspaceId: string, functionId: string, version: number): Promise<void> {
    const fn = await this.deps.functions.require(workspaceId, functionId);
    // In turn with activations: a version being activated is not deleted under it.
    const removed = await this.deps.target.exclusive(fn.id, () =>
      this.deps.meta.deleteDeployment(fn.id, version),
    );
    if (!removed) throw notFound('Deployment', `${functionId} v${version}`);
    await this.deps.artifacts.collectArtifacts(workspaceId, [removed.digest]);
  }

  /**
   * Route the function to `d` and record it as the active version, alone on this function: the
   * route and the record agree whatever else deploys or deletes it at the same time.
   */
  private goLive(fn: FunctionRecord, d: Deployment, prepared?: PreparedVersion): Promise<Deployment> {
    const { target, meta } = this.deps;
    return target.exclusive(fn.id, async () => {
      // Deleted while this waited its turn (its removal ran first): nothing to bring back.
      const current = await meta.getFunction(fn.workspaceId, fn.id);
      if (!current) throw notFound('Function', fn.id);
      // Deleted while this waited (remove() runs in this same line): loading it would route the
      // function to a version no record names, and the activation below would then unroute it.
      if (!(await meta.getDeployment(fn.id, d.version))) {
        throw notFound('Deployment', `${fn.id} v${d.version}`);
      }
      try {
        await target.activate(current, d, prepared);
      } catch (err) {
        if (isNotFound(err, 'artifact')) {
          // A version's artifact is kept while its record is: gone means the store lost it, or a
          // backup copied the record before and the blobs after the version's delete (README,
          // Backups). Nothing a retry mends; the caller can deploy again or delete the version.
          throw new EunhaError(
            'CONFLICT',
            `deployment v${d.version}'s artifact sha256:${d.digest} is missing from the blob store; deploy again, or delete this version`,
            { version: d.version, digest: d.digest },
          );
        }
        if (err instanceof EunhaError) throw err;
        throw new EunhaError(
          'FUNCTION_LOAD_ERROR',
          `deployment v${d.version} could not be loaded: ${String(err)}`,
          {
            version: d.version,
          },
        );
      }
      const active = await meta.activateDeployment(fn.id, d.version);
      if (!active) {
        // Deleted while it loaded: the removal is waiting behind us, but leave nothing routed.
        await target.unroute(fn.id);
        throw notFound('Function', fn.id);
      }
      await this.markDeployed(current);
      return active;
    });
  }

  /**
   * Activation and the function's own record are two writes: a crash between them on a first
   * deploy left an active version whose function had no invocation URL. The version runs: the
   * record gets what markDeployed would have written.
   */
  async repairRecord(fn: FunctionRecord, d: Deployment): Promise<void> {
    if (fn.invocationUrl !== null && fn.lastDeployed !== null) return;
    const updated = await this.deps.meta.updateFunction(fn.workspaceId, fn.id, (current) => ({
      ...(current.invocationUrl === null ? { invocationUrl: this.invocationUrl(fn.id) } : {}),
      ...(current.lastDeployed === null ? { lastDeployed: d.createdAt } : {}),
    }));
    if (updated) this.deps.target.functionChanged(updated);
  }

  /** `prepared`: the version already loaded for it (deployCurrent). */
  private async deploy(
    fn: FunctionRecord,
    artifact: PinnedArtifact,
    imageRef: string,
    prepared?: PreparedVersion,
  ): Promise<DeploymentView> {
    let created: Deployment;
    try {
      created = await this.deps.meta.createDeployment({
        workspaceId: fn.workspaceId,
        functionId: fn.id,
        digest: artifact.digest,
        imageRef,
        config: configOf(fn),
        createdAt: this.deps.clock().toISOString(),
      });
    } catch (err) {
      artifact.release();
      // The function was deleted while this built: nothing will name what was built for it.
      await this.forget(fn.workspaceId, artifact.digest);
      throw err;
    }
    artifact.release(); // named by the record now
    let live: Deployment;
    try {
      live = await this.goLive(fn, created, prepared);
    } catch (err) {
      // Its function was deleted meanwhile, or the version: the artifact may be named by nothing
      // now, and would count against the workspace's quota until a restart.
      if (isNotFound(err)) await this.forget(fn.workspaceId, artifact.digest);
      throw err;
    }
    await this.prune(fn);
    return this.view(live);
  }

  /**
   * Deletes the oldest versions past the newest `maxVersions` (never the active one), and their
   * artifacts unless something else names them. Every version kept a record (with a copy of the
   * function's environment) and an artifact for good: a review's 140 deploys of one function kept
   * 140, and one with large variables grew the database by 3.3 MB/s, outside the storage quota.
   * Best effort: the deploy has happened, so a failure here is only logged.
   */
  private async prune(fn: FunctionRecord): Promise<void> {
    const keep = this.deps.maxVersions;
    if (keep === undefined) return;
    try {
      const all = await this.deps.meta.listDeployments(fn.id);
      if (all.length <= keep) return;
      const old = all
        .filter((d) => !d.active)
        .sort((a, b) => a.version - b.version)
        .slice(0, all.length - keep);
      const digests: string[] = [];
      const versions: number[] = [];
      for (const d of old) {
        // In turn with activations, as a delete by the API is.
        const removed = await this.deps.target.exclusive(fn.id, () =>
          this.deps.meta.deleteDeployment(fn.id, d.version).catch((err: unknown) => {
            // Activated meanwhile: it stays.
            if (err instanceof EunhaError && err.code === 'CONFLICT') return undefined;
            throw err;
          }),
        );
        if (removed) {
          digests.push(removed.digest);
          versions.push(removed.version);
        }
      }
      // Said, since nobody asked for it: after an upgrade, the first deploy of a function with
      // many versions removes all but the newest, with their artifacts.
      if (versions.length > 0) {
        this.deps.log?.(
          'info',
          { functionId: fn.id, workspaceId: fn.workspaceId, versions, kept: keep },
          `deleted ${versions.length} old deployment versions of function ${fn.id}: it keeps its newest ${keep} (EUNHA_MAX_VERSIONS_PER_FUNCTION)`,
        );
      }
      if (digests.length > 0) await this.deps.artifacts.collectArtifacts(fn.workspaceId, digests);
    } catch (err) {
      this.deps.log?.('error', { err, functionId: fn.id }, 'could not delete old deployment versions');
    }
  }

  /** Removes the artifact if nothing names it (a failed deploy's); a failure is only logged. */
  private async forget(workspaceId: string, digest: string): Promise<void> {
    await this.deps.artifacts
      .collectArtifacts(workspaceId, [digest])
      .catch((err: unknown) =>
        this.deps.log?.('error', { err, digest }, 'could not remove the artifact of a failed deploy'),
      );
  }

  private async markDeployed(fn: FunctionRecord): Promise<void> {
    // Not through FunctionService.update: a deploy is not a config change (lastModified stays).
    // The status is decided in the write itself: a disable sent while the version loaded, or at
    // the same moment, must not be overwritten with 'active'.
    const updated = await this.deps.meta.updateFunction(fn.workspaceId, fn.id, (current) => ({
      invocationUrl: this.invocationUrl(fn.id),
      lastDeployed: this.deps.clock().toISOString(),
      ...(current.status === 'disabled' ? {} : { status: 'active' as const }),
    }));
    if (updated) this.deps.target.functionChanged(updated);
  }

  private view(d: Deployment): DeploymentView {
    return {
      ...d,
      config: { ...d.config, secretEnvironmentVariables: masked(d.config.secretEnvironmentVariables) },
      invocationUrl: this.invocationUrl(d.functionId),
    };
  }
}

function isNotFound(err: unknown, resource?: string): boolean {
  return (
    err instanceof EunhaError &&
    err.code === 'NOT_FOUND' &&
    (resource === undefined || err.details.resource === resource)
  );
}

export function parseVersion(raw: string): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1)
    throw invalid('version', `'${raw}' is not a deployment version (1, 2, …)`);
  return Number(raw);
}

/** The config a deployment of `fn` runs with, as recorded: secrets still sealed (opened at load). */
function configOf(fn: FunctionRecord): Deployment['config'] {
  return {
    runtime: fn.runtime,
    memory: fn.memory,
    timeout: fn.timeout,
    minWarm: fn.minWarm ?? 0,
    maxInstances: fn.maxInstances ?? null,
    allowedOutboundHosts: [...(fn.allowedOutboundHosts ?? [])],
    environmentVariables: { ...fn.environmentVariables },
    secretEnvironmentVariables: { ...fn.secretEnvironmentVariables },
  };
}
