// Configuration: defaults, the fixed names, and a start-up failure that names the variable.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('config', () => {
  test('defaults', () => {
    const c = loadConfig({});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8000);
    assert.equal(c.dataDir, './.eunha');
    assert.equal(c.publicUrl, 'http://127.0.0.1:8000');
    assert.deepEqual(c.corsOrigins, []);
    assert.deepEqual(c.trustedProxies, []);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.environment, 'development');
    assert.equal(c.instancesPerProcess, 8);
    assert.equal(loadConfig({ EUNHA_INSTANCES_PER_PROCESS: '1' }).instancesPerProcess, 1);
    assert.equal(c.bootTimeoutMs, 60_000);
    assert.equal(c.fnBodyBudgetBytes, 256 * 1024 * 1024);
    assert.equal(
      loadConfig({ EUNHA_FN_BODY_BUDGET_BYTES: String(24 * 1024 * 1024) }).fnBodyBudgetBytes,
      24 * 1024 * 1024,
    );
    // Unset, it grows with a larger cap, so that an address's quarter still takes one body.
    assert.equal(
      loadConfig({ EUNHA_BODY_LIMIT_BYTES: String(100 * 1024 * 1024) }).fnBodyBudgetBytes,
      400 * 1024 * 1024,
    );
    // Unset caps and budgets: the runtime derives them (from maxInstances, from the machine's memory).
    assert.equal(c.maxInstancesPerWorkspace, undefined);
    assert.equal(c.memoryBudgetMb, undefined);
    assert.equal(c.workspaceMemoryBudgetMb, undefined);
    const set = loadConfig({
      EUNHA_MAX_INSTANCES_PER_WORKSPACE: '4',
      EUNHA_MEMORY_BUDGET_MB: '8192',
      EUNHA_WORKSPACE_MEMORY_BUDGET_MB: '',
    });
    assert.equal(set.maxInstancesPerWorkspace, 4);
    assert.equal(set.memoryBudgetMb, 8192);
    assert.equal(set.workspaceMemoryBudgetMb, undefined, 'empty is unset');
    assert.equal(loadConfig({ EUNHA_BOOT_TIMEOUT_MS: '5000' }).bootTimeoutMs, 5000);
    assert.equal(c.logRetentionDays, 7);
    assert.equal(loadConfig({ EUNHA_LOG_RETENTION_DAYS: '30' }).logRetentionDays, 30);
    assert.deepEqual(c.outbound, {
      enabled: true,
      allowedNetworks: [],
      timeoutMs: 30_000,
      maxResponseBytes: 4 * 1024 * 1024,
      dnsServers: [],
    });
    assert.deepEqual(loadConfig({ EUNHA_TRUSTED_PROXIES: '["10.0.0.7", " fd00::/8"]' }).trustedProxies, [
      '10.0.0.7',
      'fd00::/8',
    ]);
    assert.deepEqual(
      loadConfig({
        EUNHA_OUTBOUND_HTTP: 'false',
        EUNHA_OUTBOUND_ALLOWED_NETWORKS: '["10.0.5.0/24", " fd00:1::/64"]',
        EUNHA_OUTBOUND_TIMEOUT_MS: '5000',
        EUNHA_OUTBOUND_MAX_RESPONSE_BYTES: '65536',
        EUNHA_OUTBOUND_DNS_SERVERS: '["10.0.0.2", "[fd00::53]:5353"]',
      }).outbound,
      {
        enabled: false,
        allowedNetworks: ['10.0.5.0/24', 'fd00:1::/64'],
        timeoutMs: 5000,
        maxResponseBytes: 65536,
        dnsServers: ['10.0.0.2', '[fd00::53]:5353'],
      },
    );
  });

  test('every documented variable is read', () => {
    const c = loadConfig({
      EUNHA_HOST: '0.0.0.0',
      EUNHA_PORT: '9000',
      EUNHA_DATA_DIR: '/tmp/x',
      EUNHA_PUBLIC_URL: 'https://faas.example.com/',
      EUNHA_BLOB_STORE: 's3',
      AWS_REGION: 'us-east-1',
      DYNAMODB_TABLE_NAME: 'my-table',
      S3_BUCKET_NAME: 'my-bucket',
      ENVIRONMENT: 'production',
      LOG_LEVEL: 'WARNING',
      CORS_ORIGINS: '["https://eunha.icu", "http://eunha.icu"]',
    });
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 9000);
    assert.equal(c.dataDir, '/tmp/x');
    assert.equal(c.publicUrl, 'https://faas.example.com');
    assert.ok(c.blobStore.kind === 's3');
    assert.equal(c.blobStore.region, 'us-east-1');
    assert.equal(c.blobStore.bucket, 'my-bucket');
    assert.equal(c.environment, 'production');
    assert.equal(c.logLevel, 'warn');
    assert.deepEqual(c.corsOrigins, ['https://eunha.icu', 'http://eunha.icu']);
  });

  test('the blob store: files by default; S3 with an endpoint, a key prefix and path-style URLs', () => {
    assert.deepEqual(loadConfig({}).blobStore, { kind: 'fs' });
    assert.deepEqual(
      loadConfig({
        EUNHA_BLOB_STORE: 'S3',
        EUNHA_S3_ENDPOINT: 'http://minio:9000/',
        EUNHA_S3_PREFIX: '/eunha/prod/',
      }).blobStore,
      {
        kind: 's3',
        region: 'ap-northeast-2',
        bucket: 'eunha-functions',
        endpoint: 'http://minio:9000',
        keyPrefix: 'eunha/prod/',
        forcePathStyle: true,
      },
    );
    // S3-compatible services name their regions their own way; AWS's names are checked.
    const compatible = loadConfig({
      EUNHA_BLOB_STORE: 's3',
      AWS_REGION: 'auto',
      EUNHA_S3_ENDPOINT: 'https://x.r2.example',
    }).blobStore;
    assert.equal(compatible.kind === 's3' && compatible.region, 'auto');
    assert.throws(() => loadConfig({ EUNHA_BLOB_STORE: 's3', AWS_REGION: 'auto' }), ConfigError);
    // AWS itself: virtual-hosted URLs, unless asked otherwise.
    assert.deepEqual(loadConfig({ EUNHA_BLOB_STORE: 's3' }).blobStore, {
      kind: 's3',
      region: 'ap-northeast-2',
      bucket: 'eunha-functions',
      endpoint: undefined,
      keyPrefix: '',
      forcePathStyle: false,
    });
  });

  test('public URL defaults from host and port', () => {
    assert.equal(loadConfig({ EUNHA_PORT: '8123' }).publicUrl, 'http://127.0.0.1:8123');
    assert.equal(loadConfig({ EUNHA_HOST: '::1' }).publicUrl, 'http://[::1]:8000');
  });

  test('bad values name the variable', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ EUNHA_PORT: 'eighty' }, 'EUNHA_PORT'],
      [{ EUNHA_PORT: '70000' }, 'EUNHA_PORT'],
      [{ EUNHA_HOST: 'a b' }, 'EUNHA_HOST'],
      // The resolver took these for names, and the start failed only at listen, after the data
      // directory and a secrets key were made.
      [{ EUNHA_HOST: '999.999.999.999' }, 'EUNHA_HOST'],
      [{ EUNHA_HOST: '-' }, 'EUNHA_HOST'],
      [{ EUNHA_HOST: '1.2.3' }, 'EUNHA_HOST'],
      [{ EUNHA_HOST: '12345' }, 'EUNHA_HOST'],
      [{ EUNHA_HOST: 'a..b' }, 'EUNHA_HOST'],
      [{ EUNHA_HOST: 'host-.example' }, 'EUNHA_HOST'],
      [{ EUNHA_HOST: `${'a'.repeat(64)}.example` }, 'EUNHA_HOST'],
      [{ EUNHA_HOST: '::1::2' }, 'EUNHA_HOST'],
      [{ EUNHA_PUBLIC_URL: 'not a url' }, 'EUNHA_PUBLIC_URL'],
      [{ EUNHA_PUBLIC_URL: 'ftp://x' }, 'EUNHA_PUBLIC_URL'],
      // Every invocation URL would carry them.
      [{ EUNHA_PUBLIC_URL: 'http://user:pw@x.com' }, 'EUNHA_PUBLIC_URL'],
      [{ EUNHA_PUBLIC_URL: 'http://user@x.com' }, 'EUNHA_PUBLIC_URL'],
      [{ EUNHA_PUBLIC_URL: 'http://x.com/?a=1' }, 'EUNHA_PUBLIC_URL'],
      [{ EUNHA_PUBLIC_URL: 'http://x.com/?' }, 'EUNHA_PUBLIC_URL'],
      [{ EUNHA_PUBLIC_URL: 'http://x.com/#' }, 'EUNHA_PUBLIC_URL'],
      [{ CORS_ORIGINS: 'https://a.b' }, 'CORS_ORIGINS'],
      [{ CORS_ORIGINS: '[1]' }, 'CORS_ORIGINS'],
      [{ CORS_ORIGINS: '["https://a.b/path"]' }, 'CORS_ORIGINS'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
      [{ EUNHA_BLOB_STORE: 's3', AWS_REGION: 'mars' }, 'AWS_REGION'],
      [{ EUNHA_BLOB_STORE: 's3', S3_BUCKET_NAME: 'Bad_Bucket' }, 'S3_BUCKET_NAME'],
      [{ EUNHA_BODY_LIMIT_BYTES: '-1' }, 'EUNHA_BODY_LIMIT_BYTES'],
      [{ EUNHA_FN_BODY_BUDGET_BYTES: '1000' }, 'EUNHA_FN_BODY_BUDGET_BYTES'],
      // An address's quarter must take one body at the cap.
      [{ EUNHA_FN_BODY_BUDGET_BYTES: String(24 * 1024 * 1024 - 1) }, 'EUNHA_FN_BODY_BUDGET_BYTES'],
      [{ EUNHA_INSTANCES_PER_PROCESS: '0' }, 'EUNHA_INSTANCES_PER_PROCESS'],
      [{ EUNHA_INSTANCES_PER_PROCESS: 'many' }, 'EUNHA_INSTANCES_PER_PROCESS'],
      // A deadline shorter than a boot on a busy machine would kill healthy boots.
      [{ EUNHA_BOOT_TIMEOUT_MS: '10' }, 'EUNHA_BOOT_TIMEOUT_MS'],
      [{ EUNHA_MAX_INSTANCES_PER_WORKSPACE: '0' }, 'EUNHA_MAX_INSTANCES_PER_WORKSPACE'],
      // Below one instance of the smallest function with its sandbox.
      [{ EUNHA_MEMORY_BUDGET_MB: '100' }, 'EUNHA_MEMORY_BUDGET_MB'],
      [{ EUNHA_WORKSPACE_MEMORY_BUDGET_MB: 'lots' }, 'EUNHA_WORKSPACE_MEMORY_BUDGET_MB'],
      // Shorter than the 24-hour statistics window would empty it.
      [{ EUNHA_LOG_RETENTION_DAYS: '0' }, 'EUNHA_LOG_RETENTION_DAYS'],
      [{ EUNHA_OUTBOUND_HTTP: 'maybe' }, 'EUNHA_OUTBOUND_HTTP'],
      [{ EUNHA_OUTBOUND_ALLOWED_NETWORKS: '10.0.0.0/8' }, 'EUNHA_OUTBOUND_ALLOWED_NETWORKS'],
      [{ EUNHA_OUTBOUND_ALLOWED_NETWORKS: '["10.0.0.0"]' }, 'EUNHA_OUTBOUND_ALLOWED_NETWORKS'],
      [{ EUNHA_OUTBOUND_ALLOWED_NETWORKS: '["10.0.0.0/33"]' }, 'EUNHA_OUTBOUND_ALLOWED_NETWORKS'],
      [{ EUNHA_OUTBOUND_ALLOWED_NETWORKS: '["example.com/8"]' }, 'EUNHA_OUTBOUND_ALLOWED_NETWORKS'],
      [{ EUNHA_OUTBOUND_MAX_RESPONSE_BYTES: '99999999' }, 'EUNHA_OUTBOUND_MAX_RESPONSE_BYTES'],
      [{ EUNHA_OUTBOUND_DNS_SERVERS: '["dns.example"]' }, 'EUNHA_OUTBOUND_DNS_SERVERS'],
      [{ EUNHA_TRUSTED_PROXIES: '10.0.0.7' }, 'EUNHA_TRUSTED_PROXIES'],
      [{ EUNHA_TRUSTED_PROXIES: '["proxy.internal"]' }, 'EUNHA_TRUSTED_PROXIES'],
      [{ EUNHA_TRUSTED_PROXIES: '["10.0.0.0/40"]' }, 'EUNHA_TRUSTED_PROXIES'],
      [{ EUNHA_BLOB_STORE: 'ftp' }, 'EUNHA_BLOB_STORE'],
      [{ EUNHA_BLOB_STORE: 's3', EUNHA_S3_ENDPOINT: 'minio:9000' }, 'EUNHA_S3_ENDPOINT'],
      [{ EUNHA_BLOB_STORE: 's3', EUNHA_S3_ENDPOINT: 'http://k:s@minio:9000' }, 'EUNHA_S3_ENDPOINT'],
      [{ EUNHA_BLOB_STORE: 's3', EUNHA_S3_PREFIX: 'a/../b' }, 'EUNHA_S3_PREFIX'],
      [{ EUNHA_BLOB_STORE: 's3', EUNHA_S3_PREFIX: 'a b' }, 'EUNHA_S3_PREFIX'],
      [{ EUNHA_BLOB_STORE: 's3', EUNHA_S3_FORCE_PATH_STYLE: 'sometimes' }, 'EUNHA_S3_FORCE_PATH_STYLE'],
      [{ EUNHA_WORKSPACE_STORAGE_MAX_BYTES: '1000' }, 'EUNHA_WORKSPACE_STORAGE_MAX_BYTES'],
      [{ EUNHA_WORKSPACE_STORAGE_MAX_FILES: 'all' }, 'EUNHA_WORKSPACE_STORAGE_MAX_FILES'],
      // With 0 the exit came before a running request's 503: its caller got no answer at all.
      [{ EUNHA_SHUTDOWN_GRACE_MS: '0' }, 'EUNHA_SHUTDOWN_GRACE_MS'],
      [{ EUNHA_SHUTDOWN_GRACE_MS: '999' }, 'EUNHA_SHUTDOWN_GRACE_MS'],
      [{ EUNHA_METRICS_TOKEN: 'short' }, 'EUNHA_METRICS_TOKEN'],
      [{ EUNHA_METRICS_TOKEN: ` ${'t'.repeat(30)}` }, 'EUNHA_METRICS_TOKEN'],
      // The admin key's value would make every scraper an admin.
      [{ EUNHA_ADMIN_KEY: 'k'.repeat(30), EUNHA_METRICS_TOKEN: 'k'.repeat(30) }, 'EUNHA_METRICS_TOKEN'],
    ];
    for (const [env, name] of bad) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && e.variable === name && e.message.startsWith(name),
        JSON.stringify(env),
      );
    }
  });

  test('the previous secrets key: the same format as the key, and never the same key', () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    const c = loadConfig({
      EUNHA_SECRETS_KEY: b.toString('base64'),
      EUNHA_SECRETS_KEY_PREVIOUS: a.toString('base64'),
    });
    assert.deepEqual([c.secretsKey, c.secretsKeyPrevious], [b, a]);
    assert.equal(loadConfig({}).secretsKeyPrevious, undefined);
    // Alone: the current key is then the generated secrets.key, checked against it at start-up.
    assert.deepEqual(loadConfig({ EUNHA_SECRETS_KEY_PREVIOUS: a.toString('base64') }).secretsKeyPrevious, a);
    const refused = (env: Record<string, string>, message: RegExp) =>
      assert.throws(
        () => loadConfig(env),
        (e: unknown) =>
          e instanceof ConfigError && e.variable === 'EUNHA_SECRETS_KEY_PREVIOUS' && message.test(e.message),
        JSON.stringify(env),
      );
    refused({ EUNHA_SECRETS_KEY_PREVIOUS: 'c2hvcnQ=' }, /must be 32 bytes, base64-encoded/);
    refused({ EUNHA_SECRETS_KEY_PREVIOUS: 'not base64 at all!' }, /must be 32 bytes/);
    // The same bytes written another way are the same key.
    refused(
      { EUNHA_SECRETS_KEY: a.toString('base64'), EUNHA_SECRETS_KEY_PREVIOUS: a.toString('base64url') },
      /is the same key as EUNHA_SECRETS_KEY/,
    );
  });

  test('a host is an IP address or a host name', () => {
    for (const h of ['0.0.0.0', '::', '::1', '10.1.2.3', 'fe80::1', 'localhost', 'eunha-1.internal', 'a.b.'])
      assert.equal(loadConfig({ EUNHA_HOST: h, EUNHA_ADMIN_KEY: 'k'.repeat(24) }).host, h);
  });

  test('a blank value is refused, naming the variable; an empty one is unset', () => {
    // Read as '', a blank path was the current directory (the database, blobs and key written
    // there, and it chmodded 0700), and a blank ENVIRONMENT showed "" in GET /.
    const names = [
      'EUNHA_DATA_DIR',
      'EUNHA_CACHE_DIR',
      'ENVIRONMENT',
      'EUNHA_HOST',
      'EUNHA_PUBLIC_URL',
      'LOG_LEVEL',
      'CORS_ORIGINS',
      'EUNHA_ADMIN_KEY',
      'EUNHA_SECRETS_KEY',
      'EUNHA_METRICS_TOKEN',
      'EUNHA_SECRETS_KEY_PREVIOUS',
      'EUNHA_OUTBOUND_HTTP',
      'EUNHA_PORT',
      'EUNHA_MEMORY_BUDGET_MB',
      'EUNHA_BLOB_STORE',
    ];
    for (const name of names) {
      for (const blank of ['   ', '\t', ' \n '])
        assert.throws(
          () => loadConfig({ [name]: blank }),
          (e: unknown) => e instanceof ConfigError && e.variable === name && /blank/.test(e.message),
          `${name}=${JSON.stringify(blank)}`,
        );
      assert.deepEqual(loadConfig({ [name]: '' }), loadConfig({}), `${name}= is the default`);
    }
    for (const name of ['AWS_REGION', 'S3_BUCKET_NAME', 'EUNHA_S3_ENDPOINT', 'EUNHA_S3_PREFIX'])
      assert.throws(() => loadConfig({ EUNHA_BLOB_STORE: 's3', [name]: '  ' }), /blank/, name);
    assert.equal(loadConfig({ EUNHA_DATA_DIR: ' /srv/eunha ' }).dataDir, '/srv/eunha');
    assert.equal(loadConfig({ EUNHA_DATA_DIR: '/srv/eunha' }).cacheDir, '/srv/eunha/cache');
  });

  test('the S3 and DynamoDB names do not stop a server that uses neither', () => {
    // They are seed names, often left in an .env: only the S3 blob store reads the first two, and
    // no adapter reads DYNAMODB_TABLE_NAME yet.
    const c = loadConfig({ AWS_REGION: 'mars', S3_BUCKET_NAME: 'My_Bucket', DYNAMODB_TABLE_NAME: 'a' });
    assert.deepEqual(c.blobStore, { kind: 'fs' });
    assert.doesNotThrow(() => loadConfig({ EUNHA_BLOB_STORE: 's3', DYNAMODB_TABLE_NAME: 'a' }));
  });
});
