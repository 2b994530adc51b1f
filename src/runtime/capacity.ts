// What one more instance costs against the caps and budgets: instances alive or starting and the
// memory they reserve, in all and per workspace, and which idle instances to end to make room for
// one (least recently used, those above their version's minWarm first). The scheduler decides when
// to start one; this decides whether it fits.

import type { Instance } from './instance.js';
import { reservedMb } from './memory-budget.js';
import type { VersionState } from './version-state.js';

export interface CapacityLimits {
  maxInstances: number;
  maxInstancesPerWorkspace: number;
  memoryBudgetMb: number;
  workspaceMemoryBudgetMb: number;
}

/** Whether an instance more fits once `count` instances holding `mb` MB are evicted. */
type Fits = (count: number, mb: number) => boolean;

export class Capacity {
  /** Instances alive or starting, across all versions (the global cap counts these). */
  live = 0;
  /** Memory reserved by the instances alive or starting (memory-budget.ts), MB. */
  reservedMb = 0;
  /**
   * The same by workspace (the workspace's cap and budget count these). Kept as counts rather than
   * summed over the versions: an unloaded version leaves the scheduler's map while its busy
   * instances run on.
   */
  private readonly byWorkspace = new Map<string, { instances: number; reservedMb: number }>();

  constructor(
    private readonly limits: CapacityLimits,
    private readonly versions: ReadonlyMap<string, VersionState>,
    /** Ends an idle instance to make room (no minWarm refill: that would take the room back). */
    private readonly evict: (vs: VersionState, inst: Instance) => void,
  ) {}

  /** Instances (alive or starting) of the workspace's versions, unloaded ones included. */
  workspaceTotal(workspaceId: string): number {
    return this.byWorkspace.get(workspaceId)?.instances ?? 0;
  }

  private workspaceReservedMb(workspaceId: string): number {
    return this.byWorkspace.get(workspaceId)?.reservedMb ?? 0;
  }

  /** One instance of `vs` more (+1) or less (−1), for both caps and both budgets. */
  count(vs: VersionState, delta: 1 | -1): void {
    const ws = vs.version.workspaceId;
    const mb = delta * reservedMb(vs.version);
    this.live += delta;
    this.reservedMb += mb;
    const instances = this.workspaceTotal(ws) + delta;
    if (instances > 0) this.byWorkspace.set(ws, { instances, reservedMb: this.workspaceReservedMb(ws) + mb });
    else this.byWorkspace.delete(ws);
  }

  /**
   * True if one more instance of `vs` fits under its workspace's cap and memory budget and the
   * global ones, evicting idle instances (last used before `idleBefore`) if needed, and only if
   * that makes it fit: of the same workspace for the first, of any for the second. The workspace
   * cap keeps one tenant from holding every instance (sleeping functions cost no CPU, so nothing
   * else would stop it); the budgets keep tenants whose functions may each use a gigabyte from
   * running the machine out of memory, where the kernel's OOM killer picks a victim that may be
   * any tenant, or the server.
   */
  makeRoom(vs: VersionState, idleBefore = Infinity): boolean {
    const ws = vs.version.workspaceId;
    const sameWorkspace = (o: VersionState): boolean => o.version.workspaceId === ws;
    const any = (): boolean => true;
    const { workspaceFits, globalFits } = this.fitsFor(vs);
    // Both checked before anything is evicted: evicting for the workspace's budget and then
    // failing the global one would only have turned someone's warm instance into a cold start.
    if (
      !this.couldFit(workspaceFits, sameWorkspace, idleBefore) ||
      !this.couldFit(globalFits, any, idleBefore)
    )
      return false;
    return (
      this.evictUntil(workspaceFits, sameWorkspace, idleBefore) &&
      this.evictUntil(globalFits, any, idleBefore)
    );
  }

  /** makeRoom without evicting: for background starts (minWarm), which never displace anything. */
  hasRoom(vs: VersionState): boolean {
    const { workspaceFits, globalFits } = this.fitsFor(vs);
    return workspaceFits(0, 0) && globalFits(0, 0);
  }

  /** The workspace's cap and budget, and the global ones, as tests of one more instance of `vs`. */
  private fitsFor(vs: VersionState): { workspaceFits: Fits; globalFits: Fits } {
    const ws = vs.version.workspaceId;
    const need = reservedMb(vs.version);
    return {
      workspaceFits: (n, mb) =>
        this.workspaceTotal(ws) - n < this.limits.maxInstancesPerWorkspace &&
        this.workspaceReservedMb(ws) - mb + need <= this.limits.workspaceMemoryBudgetMb,
      globalFits: (n, mb) =>
        this.live - n < this.limits.maxInstances && this.reservedMb - mb + need <= this.limits.memoryBudgetMb,
    };
  }

  /** Whether `fits` would hold with every evictable idle instance of `eligible` versions gone. */
  private couldFit(fits: Fits, eligible: (vs: VersionState) => boolean, idleBefore: number): boolean {
    if (fits(0, 0)) return true;
    let count = 0;
    let mb = 0;
    for (const o of this.versions.values()) {
      if (!eligible(o)) continue;
      for (const inst of o.idle) {
        if (inst.lastUsed >= idleBefore) continue;
        count++;
        mb += reservedMb(o.version);
      }
    }
    return fits(count, mb);
  }

  /** Evicts idle instances of `eligible` versions, least recently used first, until `fits(0, 0)`. */
  private evictUntil(fits: Fits, eligible: (vs: VersionState) => boolean, idleBefore: number): boolean {
    while (!fits(0, 0)) if (!this.evictIdle(eligible, idleBefore)) return false;
    return true;
  }

  /**
   * Ends the least recently used idle instance (last used before `idleBefore`) among `eligible`
   * versions, preferring those above their minWarm.
   */
  private evictIdle(eligible: (vs: VersionState) => boolean, idleBefore: number): boolean {
    let victim: { vs: VersionState; inst: Instance; spare: boolean } | null = null;
    for (const other of this.versions.values()) {
      if (!eligible(other)) continue;
      const spare = other.instances.size > (other.version.minWarm ?? 0);
      for (const inst of other.idle) {
        if (inst.lastUsed >= idleBefore) continue;
        const better =
          !victim ||
          (spare && !victim.spare) ||
          (spare === victim.spare && inst.lastUsed < victim.inst.lastUsed);
        if (better) victim = { vs: other, inst, spare };
      }
    }
    if (!victim) return false;
    this.evict(victim.vs, victim.inst);
    return true;
  }
}
