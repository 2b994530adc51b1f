// Start-up re-sealing after a change of the secrets key (EUNHA_SECRETS_KEY_PREVIOUS set): every
// stored secret value the previous key sealed is opened and sealed again with the current key,
// before the deployments are restored and before the server answers. One function at a time, its
// record and its deployments in one store step (MetadataStore.rewriteSecrets): a crash half-way
// leaves each function wholly on one key or the other, both of which the next start with the same
// two keys opens, and that start finishes the job. A value under the current key is left alone;
// one neither key opens (a third key's, or damaged) is left as it is and counted, never deleted:
// the right previous key may still come.

import { EunhaError } from '../core/errors.js';
import type { MetadataStore } from '../store/ports.js';
import { secretContext, type SecretBox } from './secrets.js';

export interface ResealSummary {
  /** Stored values (in function records and deployments) sealed again with the current key now. */
  resealed: number;
  /** Functions those values belong to. */
  functions: number;
  /** Stored values neither key opens, left as they are. */
  unopenable: number;
  /** The functions holding them: they fail to load until their secrets are set again. */
  unopenableIn: string[];
}

/** `box` opens with both keys and seals with the current one (SecretBox built with the previous key). */
export async function resealWithCurrentKey(meta: MetadataStore, box: SecretBox): Promise<ResealSummary> {
  const summary: ResealSummary = { resealed: 0, functions: 0, unopenable: 0, unopenableIn: [] };
  for (const ws of await meta.listWorkspaces()) {
    for (const fn of await meta.listFunctions(ws.id)) {
      let resealed = 0;
      let unopenable = 0;
      await meta.rewriteSecrets(ws.id, fn.id, (sealed) => {
        let changed = false;
        const next = { ...sealed };
        for (const [name, value] of Object.entries(sealed)) {
          if (box.sealedWithCurrentKey(value)) continue;
          const context = secretContext(ws.id, fn.id, name);
          try {
            next[name] = box.seal(box.open(value, context), context);
          } catch (err) {
            if (!(err instanceof EunhaError)) throw err;
            unopenable++;
            continue;
          }
          changed = true;
          resealed++;
        }
        return changed ? next : undefined;
      });
      // Counted once the step is stored: a store failure ends the start, and the summary with it.
      summary.resealed += resealed;
      if (resealed > 0) summary.functions++;
      summary.unopenable += unopenable;
      if (unopenable > 0) summary.unopenableIn.push(fn.id);
    }
  }
  return summary;
}

export interface ResealLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** Functions named in the warning at most; the count says how many there are. */
const NAMED = 50;

/**
 * One info line with the count, and one warning: remove EUNHA_SECRETS_KEY_PREVIOUS when nothing is
 * left under an old key (while it is set, a leaked key still opens secrets), or what is left and
 * what mends it. `keyFile`: a secrets.key that EUNHA_SECRETS_KEY makes unread (secrets-key.ts).
 */
export function reportReseal(summary: ResealSummary, log: ResealLog, keyFile?: string): void {
  log.info(
    { resealed: summary.resealed, functions: summary.functions, unopenable: summary.unopenable },
    `re-sealed ${count(summary.resealed, 'stored secret value')} of ${count(summary.functions, 'function')} with the current ` +
      'secrets key (EUNHA_SECRETS_KEY_PREVIOUS is set)',
  );
  if (summary.unopenable === 0) {
    log.warn(
      keyFile ? { keyFile } : {},
      'every stored secret is sealed with the current key: remove EUNHA_SECRETS_KEY_PREVIOUS and restart, ' +
        'since while it is set the old key still opens secrets' +
        (keyFile
          ? `; delete ${keyFile} too: it is not read while EUNHA_SECRETS_KEY is set, and keeps a key beside the database`
          : ''),
    );
    return;
  }
  const named = summary.unopenableIn.slice(0, NAMED);
  log.warn(
    { unopenable: summary.unopenable, functions: named, more: summary.unopenableIn.length - named.length },
    `${count(summary.unopenable, 'stored secret value')} of ${count(summary.unopenableIn.length, 'function')} open with neither ` +
      'EUNHA_SECRETS_KEY nor EUNHA_SECRETS_KEY_PREVIOUS and were left as they are: a version holding them ' +
      'fails to load (details.reason secrets_key). If another old key sealed them, restart with that key as ' +
      'EUNHA_SECRETS_KEY_PREVIOUS; ' +
      'otherwise their owners must set those secrets again',
  );
}
