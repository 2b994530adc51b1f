// The sealed secret variables of one function, wherever they are stored: its record (WS#{ws}/FN#{fn})
// and each of its deployments' config snapshots (FN#{fn}/DEPLOY#…), which hold copies sealed for the
// same context. A key rotation rewrites them together, so the function is never half on one key.
import type { Deployment } from '../../core/types.js';
import type { MetadataStore } from '../ports.js';
import type { Deployments } from './deployments.js';
import type { Functions } from './functions.js';

type Change = Parameters<MetadataStore['rewriteSecrets']>[2];

const held = (sealed: Record<string, string> | undefined): sealed is Record<string, string> =>
  sealed !== undefined && Object.keys(sealed).length > 0;

export class SealedSecrets {
  constructor(
    private readonly functions: Functions,
    private readonly deployments: Deployments,
  ) {}

  /** Call inside a transaction: every record is read and written in it (MetadataStore.rewriteSecrets). */
  rewrite(workspaceId: string, functionId: string, change: Change): number {
    const fn = this.functions.get(workspaceId, functionId);
    if (!fn) return 0;
    let rewritten = 0;
    const fnSealed = fn.secretEnvironmentVariables;
    const fnNext = held(fnSealed) ? change(fnSealed) : undefined;
    if (fnNext) {
      this.functions.update(workspaceId, functionId, { secretEnvironmentVariables: fnNext });
      rewritten++;
    }
    const changed: Deployment[] = [];
    for (const d of this.deployments.list(functionId)) {
      const sealed = d.config.secretEnvironmentVariables;
      const next = held(sealed) ? change(sealed) : undefined;
      if (next) changed.push({ ...d, config: { ...d.config, secretEnvironmentVariables: next } });
    }
    for (const d of changed) this.deployments.replace(d);
    return rewritten + changed.length;
  }
}
