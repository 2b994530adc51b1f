// How a failed request is written to the server's own log: a function's failures through /invoke
// are its author's (in its execution log), not lines with a stack among the server's errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64, newFunction, startLoggedPlatform } from '../helpers/platform.js';

const EXITS = `import os
from spin_sdk import http
from spin_sdk.http import Request, Response

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        os._exit(3)
`;

test(
  'a function that exits its sandbox through /invoke is a warning without a stack, not a server error',
  {
    timeout: 120_000,
  },
  async () => {
    const { p, logged, cleanup } = await startLoggedPlatform({ EUNHA_WARM_POOL_SIZE: '1' }, 'info');
    try {
      const { ws, fn } = await newFunction(p, { code: b64(EXITS) });
      const d = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn}/deployments`,
      });
      assert.equal(d.statusCode, 201, d.body);
      const res = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn}/invoke`,
        payload: {},
      });
      assert.equal(res.statusCode, 502, res.body);
      assert.equal(res.json().error.code, 'FUNCTION_CRASHED');
      const lines = logged()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: number; code?: string; err?: unknown; reqId?: string });
      const said = lines.filter((l) => l.code === 'FUNCTION_CRASHED');
      assert.ok(said.length >= 1, logged());
      for (const l of said) {
        assert.ok(l.level <= 40, `logged at level ${l.level}`);
        assert.equal(l.err, undefined, 'no error object, no stack');
      }
      assert.deepEqual(
        lines.filter((l) => l.level >= 50),
        [],
      );
    } finally {
      await cleanup();
    }
  },
);
