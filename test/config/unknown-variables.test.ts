// Unknown EUNHA_* variables: the list of known ones is the README's table and what loadConfig
// reads, and a misspelt name is reported with the one that was meant.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { SERVER_VARIABLES, unknownVariables } from '../../src/config/unknown-variables.js';

const README = new URL('../../../README.md', import.meta.url);

describe('unknown variables', () => {
  test("the known names are the README's configuration table", () => {
    const section = readFileSync(README, 'utf8').split('\n## Configuration')[1]!.split('\n## ')[0]!;
    const documented = [...section.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]);
    assert.deepEqual([...SERVER_VARIABLES].sort(), documented.sort());
  });

  test('loadConfig reads no variable outside them', () => {
    const read = new Set<string>();
    const env = new Proxy<Record<string, string | undefined>>(
      { EUNHA_BLOB_STORE: 's3', EUNHA_S3_ENDPOINT: 'http://minio:9000' },
      {
        get(target, name) {
          if (typeof name === 'string') read.add(name);
          return target[name as string];
        },
      },
    );
    loadConfig(env);
    assert.ok(read.size > 40, `${read.size} read`);
    for (const name of read) assert.ok(SERVER_VARIABLES.includes(name), name);
  });

  test('each EUNHA_* name the server does not read, with the name most likely meant', () => {
    assert.deepEqual(
      unknownVariables({
        EUNHA_MAX_INSTANCE: '4',
        EUNHA_SHUTDOWN_GRACE: '5000',
        EUNHA_PROT: '80',
        EUNHA_LOG_LEVEL: 'debug',
        EUNHA_FOO: '1',
        EUNHA_PORT: '80',
        EUNHA_URL: 'http://x',
        EUNHA_API_KEY: 'k',
        HOME: '/root',
        LOG_LEVEL: 'info',
      }),
      [
        { name: 'EUNHA_FOO', meant: undefined },
        { name: 'EUNHA_LOG_LEVEL', meant: 'LOG_LEVEL' },
        { name: 'EUNHA_MAX_INSTANCE', meant: 'EUNHA_MAX_INSTANCES' },
        { name: 'EUNHA_PROT', meant: 'EUNHA_PORT' },
        { name: 'EUNHA_SHUTDOWN_GRACE', meant: 'EUNHA_SHUTDOWN_GRACE_MS' },
      ],
    );
    assert.deepEqual(unknownVariables({}), []);
  });
});
