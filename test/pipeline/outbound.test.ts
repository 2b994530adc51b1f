// allowedOutboundHosts through the API: checked at the edge, kept in each deployment's config
// snapshot (a rollback goes back to the list it ran with), and obeyed by the function behind /fn.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

const CALLER = `from spin_sdk import http
from spin_sdk.http import Request, Response, send
from spin_sdk.wit.types import Err

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        target = request.headers.get("x-target", "")
        try:
            r = send(Request("GET", target, {}, None))
        except Err as e:
            return Response(502, {"content-type": "text/plain"}, str(e.value).encode())
        return Response(r.status, {"content-type": "text/plain"}, r.body)
`;

describe('allowedOutboundHosts through the API', () => {
  let p: TestPlatform;
  let ws: string;
  let server: Server;
  let target = '';
  let hits = 0;
  before(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end('upstream says hi');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    p = await startTestPlatform({
      EUNHA_WARM_POOL_SIZE: '1',
      EUNHA_OUTBOUND_ALLOWED_NETWORKS: '["127.0.0.1/32"]',
    });
    ws = (
      await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'outbound' } })
    ).json().id;
  });
  after(async () => {
    await p.cleanup();
    server.close();
  });

  test(
    'a bad entry is a 400 naming it; the list is shown, patched and snapshotted per deployment',
    { timeout: 90_000 },
    async () => {
      const bad = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: {
          name: 'bad',
          code: b64(CALLER),
          allowedOutboundHosts: ['https://ok.example', 'ftp://no.example'],
        },
      });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.equal(bad.json().error.details.field, 'allowedOutboundHosts');
      assert.match(bad.json().error.message, /ftp:\/\/no\.example/);

      const created = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions`,
        payload: { name: 'caller', code: b64(CALLER), allowedOutboundHosts: [target] },
      });
      assert.equal(created.statusCode, 201, created.body);
      const fn = created.json();
      assert.deepEqual(fn.allowedOutboundHosts, [target]);
      const v1 = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/deployments`,
      });
      assert.equal(v1.statusCode, 201, v1.body);
      assert.deepEqual(v1.json().config.allowedOutboundHosts, [target]);
      const call = async () => {
        const res = await p.app.inject({
          method: 'GET',
          url: `/fn/${fn.id}`,
          headers: { 'x-target': `${target}/x` },
        });
        return { status: res.statusCode, body: res.body };
      };
      const before = hits;
      assert.deepEqual(await call(), { status: 200, body: 'upstream says hi' });
      assert.equal(hits, before + 1);

      // Taken away and redeployed: refused, and the server sees nothing.
      const patched = await p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws}/functions/${fn.id}`,
        payload: { allowedOutboundHosts: [] },
      });
      assert.deepEqual(patched.json().allowedOutboundHosts, []);
      const v2 = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/deployments`,
      });
      assert.equal(v2.statusCode, 201, v2.body);
      const refused = await call();
      assert.equal(refused.status, 502);
      assert.match(refused.body, /^not-allowed: /);
      assert.equal(hits, before + 1);

      // A rollback runs with the list version 1 had.
      const back = await p.app.inject({
        method: 'POST',
        url: `/api/workspaces/${ws}/functions/${fn.id}/deployments/1/activate`,
      });
      assert.equal(back.statusCode, 200, back.body);
      assert.deepEqual(await call(), { status: 200, body: 'upstream says hi' });

      // Every call is counted by outcome, and timed.
      const metrics = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
      const count = (outcome: string): number => {
        const line = metrics
          .split('\n')
          .find((l) =>
            l.startsWith(`eunha_outbound_requests_total{function_name="${fn.id}",outcome="${outcome}"} `),
          );
        return line === undefined ? 0 : Number(line.split(' ').at(-1));
      };
      assert.equal(
        count('ok'),
        2,
        metrics
          .split('\n')
          .filter((l) => l.includes('outbound_'))
          .join('\n'),
      );
      assert.equal(count('not-allowed'), 1);
      assert.ok(metrics.includes(`eunha_outbound_request_seconds_count{function_name="${fn.id}"} 3`));
    },
  );
});
