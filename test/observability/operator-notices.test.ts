// What the server changes on its own, nobody having asked, is said in its log at the moment it
// does it: an operator otherwise found it out later, from what was missing (an upgrade review).

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { b64, SAMPLE_HANDLER, startLoggedPlatform } from '../helpers/platform.js';

test(
  'a data directory made private, and deployment versions pruned past the limit, are logged',
  {
    timeout: 120_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eunha-notices-'));
    chmodSync(dir, 0o755);
    const { p, logged, cleanup } = await startLoggedPlatform(
      { EUNHA_WARM_POOL_SIZE: '1', EUNHA_MAX_VERSIONS_PER_FUNCTION: '2' },
      'info',
      dir,
    );
    try {
      const lines = () =>
        logged()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const made = lines().find((l) => /data directory was open to other users/.test(String(l.msg)));
      assert.ok(made, logged());
      assert.equal(made.was, '755');
      const ws = (
        await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'n' } })
      ).json().id;
      const fn = (
        await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions`,
          payload: { name: 'f', code: b64(SAMPLE_HANDLER) },
        })
      ).json().id;
      const deploy = async (n: number) => {
        // Each version a different code: a new artifact each time.
        await p.app.inject({
          method: 'PATCH',
          url: `/api/workspaces/${ws}/functions/${fn}`,
          payload: { code: b64(`${SAMPLE_HANDLER}\n# ${n}\n`) },
        });
        const res = await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
        });
        assert.equal(res.statusCode, 201, res.body);
      };
      for (let n = 1; n <= 3; n++) await deploy(n);
      const pruned = lines().filter((l) => /old deployment versions/.test(String(l.msg)));
      assert.equal(pruned.length, 1, logged());
      assert.equal(pruned[0]!.level, 30, 'info');
      assert.deepEqual(pruned[0]!.versions, [1]);
      assert.equal(pruned[0]!.functionId, fn);
    } finally {
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
