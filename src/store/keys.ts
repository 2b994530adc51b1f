// Key builders of the single-table design shared by every metadata adapter (SQLite now, DynamoDB
// later), so that both lay records out identically and the contract suite can reason about keys.
//
// Main key (pk / sk), as in the seed:
//   workspace        WS#{ws}          METADATA
//   function         WS#{ws}          FN#{fn}
//   build task       WS#{ws}          BUILD#{task}
//   execution log    FN#{fn}          LOG#{timestamp}#{id}
//   key-value entry  FN#{fn}          KV#{store}#{key}      (store name escaped, see kvSk)
//   key-value usage  FN#{fn}          KVUSAGE               bytes the function's entries count
//   deployment       FN#{fn}          DEPLOY#{version}      (zero-padded, see deploySk)
//   version floor    FN#{fn}          DEPLOYFLOOR           highest deleted version
//   API key          WS#{ws}          KEY#{id}
// Secondary key (gsi1pk / gsi1sk), what the seed lacked:
//   workspace        WORKSPACES       {createdAt}#{ws}      list all workspaces, oldest first
//   function         FN#{fn}          METADATA              find a function by id alone
//   build task       BUILD#{task}     METADATA              find a task by id alone
//   execution log    WS#{ws}#LOGS     {timestamp}#{id}      workspace logs and stats by time range
//   deployment       ACTIVE_DEPLOYMENTS  {fn}               active ones only: restore at start-up
//   API key          APIKEY#{sha256}  METADATA             authenticate a request by the key's hash
//
// Everything a function owns outside its own row (logs, kv, deployments) lives under pk FN#{fn},
// so deleting a function's data is one partition delete.

export const METADATA_SK = 'METADATA';
export const WORKSPACES_GSI_PK = 'WORKSPACES';
/** Only the active deployment of a function carries this secondary key; the others carry none. */
export const ACTIVE_DEPLOYMENTS_GSI_PK = 'ACTIVE_DEPLOYMENTS';

export const FN_SK_PREFIX = 'FN#';
export const TASK_SK_PREFIX = 'BUILD#';
export const LOG_SK_PREFIX = 'LOG#';
export const KV_SK_PREFIX = 'KV#';
export const DEPLOY_SK_PREFIX = 'DEPLOY#';
export const API_KEY_SK_PREFIX = 'KEY#';
export const MINUTE_SK_PREFIX = 'MIN#';

export const wsPk = (ws: string): string => `WS#${ws}`;
export const fnSk = (fn: string): string => `${FN_SK_PREFIX}${fn}`;
export const taskSk = (task: string): string => `${TASK_SK_PREFIX}${task}`;
/** Partition of everything a function owns besides its record: execution logs, kv data, deployments. */
export const fnPk = (fn: string): string => `FN#${fn}`;
export const logSk = (timestamp: string, id: string): string => `${LOG_SK_PREFIX}${timestamp}#${id}`;
/** A minute is the first 16 characters of a canonical timestamp: `2026-11-26T19:44`. */
export const minuteOf = (timestamp: string): string => timestamp.slice(0, 16);
/** The per-minute sums of a function's logs (one row per minute that had any). */
export const minuteSk = (minute: string): string => `${MINUTE_SK_PREFIX}${minute}`;

/** Digits of a version in its sort key: string order must equal numeric order (v9 < v10). */
const VERSION_DIGITS = 10;
export const deploySk = (version: number): string =>
  `${DEPLOY_SK_PREFIX}${String(version).padStart(VERSION_DIGITS, '0')}`;
export const versionOfDeploySk = (sk: string): number => Number(sk.slice(DEPLOY_SK_PREFIX.length));

/**
 * The store name is percent-encoded so it never contains '#': otherwise store "a#b" key "c" and
 * store "a" key "b#c" would share a sort key. The key itself may contain anything.
 */
export const kvStorePrefix = (store: string): string => `${KV_SK_PREFIX}${encodeURIComponent(store)}#`;
export const kvSk = (store: string, key: string): string => `${kvStorePrefix(store)}${key}`;
/**
 * FN#{fn}/DEPLOYFLOOR: the highest version deleted so far (deleteDeployment). New versions count on
 * from it, so a number once given never names another deployment.
 */
export const DEPLOY_FLOOR_SK = 'DEPLOYFLOOR';
/** The one row holding how many bytes a function's key-value entries count against its quota. */
export const KV_USAGE_SK = 'KVUSAGE';
/** The one row holding how many logs a function has stored and how many bytes they count. */
export const LOG_USAGE_SK = 'LOGUSAGE';
/**
 * The last write sequence number given to an execution log, one row for the whole store. Each
 * append numbers its logs after it, so a live tail can resume exactly after the last it sent.
 */
export const LOG_SEQ_PK = 'LOGSEQ';
export const LOG_SEQ_SK = 'LOGSEQ';
/**
 * FN#{fn}/LOGDELETED: the highest sequence number among the function's logs deleted so far (by
 * its quota or retention). A tail resumed after a lower number missed those: it says so.
 */
export const LOG_DELETED_SK = 'LOGDELETED';

export const workspaceGsiSk = (createdAt: string, ws: string): string => `${createdAt}#${ws}`;
export const fnGsiPk = (fn: string): string => `FN#${fn}`;
export const taskGsiPk = (task: string): string => `BUILD#${task}`;
export const wsLogsGsiPk = (ws: string): string => `WS#${ws}#LOGS`;
export const logGsiSk = (timestamp: string, id: string): string => `${timestamp}#${id}`;
export const apiKeySk = (id: string): string => `${API_KEY_SK_PREFIX}${id}`;
export const apiKeyGsiPk = (hash: string): string => `APIKEY#${hash}`;
export const activeDeploymentGsiSk = (fn: string): string => fn;

/**
 * The smallest string greater than every string starting with `prefix` (for range queries:
 * `sk >= prefix AND sk < prefixEnd(prefix)`). Bumps the last code unit; every prefix used here ends
 * in an ASCII separator, so the bump never overflows.
 */
export function prefixEnd(prefix: string): string {
  if (prefix.length === 0) throw new Error('prefixEnd: empty prefix');
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

// Timestamps in keys and ranges have one shape (core/validate.ts).
export { canonicalTimestamp } from '../core/validate.js';
