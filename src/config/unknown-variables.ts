// EUNHA_* variables in the environment that the server does not read. A misspelt name
// (EUNHA_MAX_INSTANCE) was ignored without a word, so the operator believed a limit was set that
// was not; main.ts logs them at start-up, with the name that was probably meant. A warning, not
// a refusal: an environment shared with other tools or a newer release may hold names of theirs.

/** Every variable loadConfig reads (the README's configuration table; a test keeps them equal). */
export const SERVER_VARIABLES: readonly string[] = [
  'EUNHA_HOST',
  'EUNHA_PORT',
  'EUNHA_DATA_DIR',
  'EUNHA_PUBLIC_URL',
  'EUNHA_BODY_LIMIT_BYTES',
  'EUNHA_FN_BODY_BUDGET_BYTES',
  'EUNHA_MAX_VERSIONS_PER_FUNCTION',
  'EUNHA_SHUTDOWN_GRACE_MS',
  'ENVIRONMENT',
  'LOG_LEVEL',
  'CORS_ORIGINS',
  'EUNHA_ADMIN_KEY',
  'EUNHA_METRICS_TOKEN',
  'EUNHA_SECRETS_KEY',
  'EUNHA_SECRETS_KEY_PREVIOUS',
  'EUNHA_RATE_LIMIT_PER_MINUTE',
  'EUNHA_TRUSTED_PROXIES',
  'EUNHA_HEADERS_TIMEOUT_MS',
  'EUNHA_REQUEST_TIMEOUT_MS',
  'EUNHA_KEEP_ALIVE_TIMEOUT_MS',
  'EUNHA_CONNECTION_TIMEOUT_MS',
  'EUNHA_CACHE_DIR',
  'EUNHA_WARM_POOL_SIZE',
  'EUNHA_INSTANCES_PER_PROCESS',
  'EUNHA_BOOT_TIMEOUT_MS',
  'EUNHA_MAX_INSTANCES',
  'EUNHA_MAX_INSTANCES_PER_FUNCTION',
  'EUNHA_MAX_INSTANCES_PER_WORKSPACE',
  'EUNHA_MEMORY_BUDGET_MB',
  'EUNHA_WORKSPACE_MEMORY_BUDGET_MB',
  'EUNHA_PIPELINE_DEPTH',
  'EUNHA_LONG_REQUEST_NICE',
  'EUNHA_IDLE_TTL_MS',
  'EUNHA_QUEUE_LIMIT',
  'EUNHA_QUEUE_TIMEOUT_MS',
  'EUNHA_BUILD_CONCURRENCY',
  'EUNHA_MAX_SOURCE_BYTES',
  'EUNHA_LOG_BODY_BYTES',
  'EUNHA_KV_MAX_BYTES',
  'EUNHA_UNREAD_RESPONSE_BYTES',
  'EUNHA_UNREAD_RESPONSE_TIMEOUT_MS',
  'EUNHA_LOG_RETENTION_DAYS',
  'EUNHA_LOG_MAX_BYTES',
  'EUNHA_TASK_RETENTION_DAYS',
  'EUNHA_WORKSPACE_STORAGE_MAX_BYTES',
  'EUNHA_WORKSPACE_STORAGE_MAX_FILES',
  'EUNHA_OUTBOUND_HTTP',
  'EUNHA_OUTBOUND_ALLOWED_NETWORKS',
  'EUNHA_OUTBOUND_TIMEOUT_MS',
  'EUNHA_OUTBOUND_MAX_RESPONSE_BYTES',
  'EUNHA_OUTBOUND_DNS_SERVERS',
  'EUNHA_BLOB_STORE',
  'AWS_REGION',
  'DYNAMODB_TABLE_NAME',
  'S3_BUCKET_NAME',
  'EUNHA_S3_ENDPOINT',
  'EUNHA_S3_PREFIX',
  'EUNHA_S3_FORCE_PATH_STYLE',
];

/** The CLI's (`eunha`): often exported in the same shell as the server's, and no mistake there. */
const CLI_VARIABLES: readonly string[] = ['EUNHA_URL', 'EUNHA_API_KEY'];

export interface UnknownVariable {
  name: string;
  /** The known name it is most likely a misspelling of, when one is close enough to be obvious. */
  meant: string | undefined;
}

export function unknownVariables(env: Record<string, string | undefined>): UnknownVariable[] {
  return Object.keys(env)
    .filter((n) => n.startsWith('EUNHA_') && !SERVER_VARIABLES.includes(n) && !CLI_VARIABLES.includes(n))
    .sort()
    .map((name) => ({ name, meant: closest(name) }));
}

/**
 * EUNHA_LOG_LEVEL means LOG_LEVEL; otherwise the nearest name by edit distance, if it is within a
 * quarter of the part after EUNHA_ (at most 3 edits): EUNHA_MAX_INSTANCE, EUNHA_SHUTDOWN_GRACE and
 * EUNHA_PROT find theirs, EUNHA_FOO is not taken for EUNHA_HOST.
 */
function closest(name: string): string | undefined {
  const bare = name.slice('EUNHA_'.length);
  if (SERVER_VARIABLES.includes(bare)) return bare;
  const allowed = Math.min(3, Math.max(1, Math.floor(bare.length / 4)));
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const known of SERVER_VARIABLES) {
    const d = editDistance(name, known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return best;
}

/** Levenshtein distance where swapping two neighbours counts as one edit (the commonest typo). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]![j]!;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, at(i - 2, j - 2) + 1);
      rows[i]![j] = d;
    }
  }
  return at(a.length, b.length);
}
