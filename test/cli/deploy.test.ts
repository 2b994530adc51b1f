// `eunha deploy` against a real server process when the file is too large: files past a cap are
// refused with a message that says what fits (a pipe used to be read whole; a file past the body
// cap got a bare 413).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/eunha-cli.js';
import { SHARED_CACHE_DIR } from '../helpers/platform.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ADMIN_KEY = 'cli-deploy-test-admin-key-0123456789';

describe('eunha deploy when it does not deploy', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'eunha-cli-deploy-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const eunha = (args: string[]) => runCli(args, { EUNHA_URL: server.url, EUNHA_API_KEY: ADMIN_KEY });
  const api = async (path: string): Promise<unknown> =>
    (await fetch(server.url + path, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();

  before(async () => {
    server = await startServer({
      EUNHA_DATA_DIR: join(dir, 'data'),
      EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
      EUNHA_WARM_POOL_SIZE: '1',
      EUNHA_ADMIN_KEY: ADMIN_KEY,
    });
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'a pipe is read only up to the 64 MiB cap, and a file past the body cap is told what fits',
    { timeout: 60_000 },
    async () => {
      const ws = (await eunha(['workspaces', 'create', 'caps'])).out.trim();
      // A pipe's size is 0 to stat(): it used to be read whole and sent.
      const fifo = join(dir, 'pipe.py');
      execFileSync('mkfifo', [fifo]);
      const writer = spawn('sh', ['-c', `head -c 70000000 /dev/zero > '${fifo}'`], { stdio: 'ignore' });
      try {
        const piped = await eunha(['deploy', fifo, '-w', ws]);
        assert.equal(piped.code, 2, piped.err);
        assert.match(piped.err, /pipe\.py is larger than 64 MiB/);
      } finally {
        writer.kill();
      }

      // 4.8 MB of code is 6.4 MB as base64 in JSON: past the default 6 MiB body cap.
      const big = file('big.py', `x = 1\n${'#'.repeat(5_000_000)}\n`);
      const tooBig = await eunha(['deploy', big, '-w', ws]);
      assert.equal(tooBig.code, 1, tooBig.err);
      assert.equal(
        tooBig.err,
        'eunha: PAYLOAD_TOO_LARGE (413): request body is larger than the configured limit (at most 6291456 bytes); ' +
          'deploy sends the file base64-encoded in JSON, 4/3 of its 5000007 bytes (4.8 MiB), so about 4.5 MiB of code fit\n',
      );
      assert.deepEqual(await api(`/api/workspaces/${ws}/functions`), []);
    },
  );
});
