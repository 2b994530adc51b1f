// What the server says about itself to probes. Liveness (GET /health): the process answers and its
// metadata store can still be read; a server that cannot read its store answers nothing else
// right either. Readiness (GET /ready): that, and no function's active deployment is still being
// retried after it failed to load at start-up (deploy/restore.ts): this server lacks what
// another may have, so traffic is better sent elsewhere meanwhile. One that failed for good (its
// artifact gone, say) is counted but does not fail it: no other server can do better, and one
// broken function took the whole server out of rotation, every tenant with it. Both stay cheap, since load balancers
// call them every few seconds: one point read of the store and a count kept in memory, no scan.
// The runtime needs no check of its own: the server listens only once its snapshot exists
// (platform.ts), so until then a probe finds no socket. It listens before the active deployments
// are loaded again, though: readiness fails until they all have been (`restoring`), while
// liveness answers from the start, so a slow restore is not taken for a hung process.

import { EunhaError } from '../core/errors.js';
import type { MetadataStore } from '../store/ports.js';

/** A workspace id that is read, never written: finding it or not, the store answered. */
const PROBE_WORKSPACE = 'ws-probe000';

export interface StoreCheck {
  ok: boolean;
  /** Why the store could not answer (as any request that reads it would be told). */
  error?: string;
}

export interface DeploymentsCheck {
  ok: boolean;
  /**
   * Functions whose active deployment could not be loaded at start-up and has not been loaded,
   * deployed or activated since. Counts, not ids: the probe is public, and an id is what calls a
   * function.
   */
  unrestored: number;
  /** Those of them the server is trying again (the others failed for good). */
  retrying: number;
  /** Functions whose active deployment start-up has yet to load (it loads them after it listens). */
  restoring: number;
}

export interface Checks {
  store: StoreCheck;
  deployments: DeploymentsCheck;
}

export class Probes {
  constructor(
    private readonly deps: {
      meta: Pick<MetadataStore, 'getWorkspace'>;
      /** How many functions start-up could not restore, and how many it retries (deploy/local-target.ts). */
      unrestored: () => { unrestored: number; retrying: number; restoring: number };
      /** Hears a store failure that is not one the store names (a bug, not a disk): with its stack. */
      onUnexpected?: (err: unknown) => void;
    },
  ) {}

  /** Liveness: DEPENDENCY_UNAVAILABLE when the store cannot answer. */
  async live(): Promise<void> {
    const store = await this.store();
    if (!store.ok) {
      throw new EunhaError('DEPENDENCY_UNAVAILABLE', `the metadata store cannot answer: ${store.error}`, {
        checks: { store },
      });
    }
  }

  /** Readiness: the checks, or NOT_READY naming those that fail (and holding them all). */
  async ready(): Promise<Checks> {
    const store = await this.store();
    const { unrestored, retrying, restoring } = this.deps.unrestored();
    const checks: Checks = {
      store,
      deployments: { ok: retrying === 0 && restoring === 0, unrestored, retrying, restoring },
    };
    const failing: string[] = [];
    if (!store.ok) failing.push(`the metadata store cannot answer (${store.error})`);
    if (restoring > 0) {
      failing.push(
        `${restoring} function${restoring === 1 ? ' is' : 's are'} still being loaded after the server started`,
      );
    }
    if (retrying > 0) {
      failing.push(
        `${retrying} function${retrying === 1 ? '' : 's'} could not be loaded at start-up and ${retrying === 1 ? 'is' : 'are'} being tried again (the start-up log and each function's 'unavailable' say which)`,
      );
    }
    if (failing.length > 0) throw new EunhaError('NOT_READY', `not ready: ${failing.join('; ')}`, { checks });
    return checks;
  }

  private async store(): Promise<StoreCheck> {
    try {
      await this.deps.meta.getWorkspace(PROBE_WORKSPACE);
      return { ok: true };
    } catch (err) {
      // The store's own failures (a closed store, a disk error) are named in the catalogue and
      // their messages are what any request is told; anything else stays in the server's log.
      if (err instanceof EunhaError) return { ok: false, error: err.message };
      this.deps.onUnexpected?.(err);
      return { ok: false, error: 'an unexpected error (see the server log)' };
    }
  }
}
