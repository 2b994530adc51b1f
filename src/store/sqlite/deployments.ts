// Deployments, the numbered versions of a function: FN#{fn}/DEPLOY#{version}. They sit in the
// function's partition so they go when the function (or its workspace) goes, with no extra delete.
// Only the active one carries gsi1 ACTIVE_DEPLOYMENTS/{fn}: start-up finds every active deployment
// with one index range, and switching versions rewrites two rows instead of searching for a flag.
import { EunhaError, notFound } from '../../core/errors.js';
import type { Deployment } from '../../core/types.js';
import {
  ACTIVE_DEPLOYMENTS_GSI_PK,
  DEPLOY_FLOOR_SK,
  DEPLOY_SK_PREFIX,
  activeDeploymentGsiSk,
  deploySk,
  fnPk,
  prefixEnd,
  versionOfDeploySk,
} from '../keys.js';
import type { Functions } from './functions.js';
import { type Items, parseRecord } from './items.js';

const DEPLOYS_END = prefixEnd(DEPLOY_SK_PREFIX);

/** Exported so the adapter test can check each one's query plan by name. */
export const DEPLOYMENT_SQL = {
  latest: 'SELECT sk FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk DESC LIMIT 1',
  list: 'SELECT data FROM items WHERE pk = ? AND sk >= ? AND sk < ? ORDER BY sk DESC',
  activeOf: 'SELECT sk, data FROM items WHERE gsi1pk = ? AND gsi1sk = ?',
  allActive: 'SELECT data FROM items WHERE gsi1pk = ? ORDER BY gsi1sk',
} as const;

export type NewDeployment = Omit<Deployment, 'version' | 'active'>;

export class Deployments {
  private readonly latestStmt;
  private readonly listStmt;
  private readonly activeOfStmt;
  private readonly allActiveStmt;

  constructor(
    private readonly items: Items,
    private readonly functions: Functions,
  ) {
    const db = items.db;
    this.latestStmt = db.prepare<[string, string, string], { sk: string }>(DEPLOYMENT_SQL.latest);
    this.listStmt = db.prepare<[string, string, string], { data: string }>(DEPLOYMENT_SQL.list);
    this.activeOfStmt = db.prepare<[string, string], { sk: string; data: string }>(DEPLOYMENT_SQL.activeOf);
    this.allActiveStmt = db.prepare<[string], { data: string }>(DEPLOYMENT_SQL.allActive);
  }

  private write(d: Deployment, mode: 'insert' | 'upsert'): void {
    this.items[mode]({
      pk: fnPk(d.functionId),
      sk: deploySk(d.version),
      kind: 'deployment',
      data: JSON.stringify(d),
      gsi1pk: d.active ? ACTIVE_DEPLOYMENTS_GSI_PK : null,
      gsi1sk: d.active ? activeDeploymentGsiSk(d.functionId) : null,
    });
  }

  /**
   * Call inside an IMMEDIATE transaction: the function check, reading the highest version and the
   * insert then happen under the write lock, so concurrent creates (from any connection) never see
   * the same highest version. Numbering goes on past the highest version deleted (the floor row),
   * so a version number is never given twice.
   */
  create(input: NewDeployment): Deployment {
    if (!this.functions.get(input.workspaceId, input.functionId))
      throw notFound('Function', input.functionId);
    const latest = this.latestStmt.get(fnPk(input.functionId), DEPLOY_SK_PREFIX, DEPLOYS_END);
    const highest = Math.max(latest ? versionOfDeploySk(latest.sk) : 0, this.floor(input.functionId));
    // Pinned after the spread: an untyped caller cannot choose its version or activate on create.
    const d: Deployment = { ...input, version: highest + 1, active: false };
    // insert, not upsert: were the lock ever bypassed, a duplicate version fails instead of overwriting.
    this.write(d, 'insert');
    return d;
  }

  list(functionId: string): Deployment[] {
    return this.listStmt
      .all(fnPk(functionId), DEPLOY_SK_PREFIX, DEPLOYS_END)
      .map((r) => JSON.parse(r.data) as Deployment);
  }

  get(functionId: string, version: number): Deployment | undefined {
    return parseRecord<Deployment>(this.items.getData(fnPk(functionId), deploySk(version)));
  }

  /** Call inside a transaction: clearing the old active row and setting the new one is one step. */
  activate(functionId: string, version: number): Deployment | undefined {
    const target = this.get(functionId, version);
    if (!target) return undefined;
    const targetSk = deploySk(version);
    // Normally at most one row; all of them are cleared so a damaged file heals on the next switch.
    for (const row of this.activeOfStmt.all(ACTIVE_DEPLOYMENTS_GSI_PK, activeDeploymentGsiSk(functionId))) {
      if (row.sk === targetSk) continue;
      this.write({ ...(JSON.parse(row.data) as Deployment), active: false }, 'upsert');
    }
    const next: Deployment = { ...target, active: true };
    this.write(next, 'upsert');
    return next;
  }

  /** Call inside a transaction: stores `d` over its version as it is, active flag and all. */
  replace(d: Deployment): void {
    this.write(d, 'upsert');
  }

  /**
   * Call inside a transaction: removes an inactive version; CONFLICT for the active one (checked in
   * the same step as the delete, so an activation cannot slip between them).
   */
  remove(functionId: string, version: number): Deployment | undefined {
    const d = this.get(functionId, version);
    if (!d) return undefined;
    if (d.active) {
      throw new EunhaError(
        'CONFLICT',
        `deployment v${version} is the active version; activate another one before deleting it`,
        { version },
      );
    }
    const pk = fnPk(functionId);
    this.items.delete(pk, deploySk(version));
    if (version > this.floor(functionId)) {
      this.items.upsert({ pk, sk: DEPLOY_FLOOR_SK, kind: 'deployfloor', data: JSON.stringify({ version }) });
    }
    return d;
  }

  private floor(functionId: string): number {
    const data = parseRecord<{ version: number }>(this.items.getData(fnPk(functionId), DEPLOY_FLOOR_SK));
    return data?.version ?? 0;
  }

  listActive(): Deployment[] {
    return this.allActiveStmt.all(ACTIVE_DEPLOYMENTS_GSI_PK).map((r) => JSON.parse(r.data) as Deployment);
  }
}
