// Keys over time and in every form the configuration allows: a live tail opened with a key ends
// when that key is revoked (it used to keep streaming logs), and an admin key with punctuation,
// which the configuration accepts, also works in the Authorization header.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { startTestPlatform } from '../helpers/platform.js';
import { bearer, startWorld } from './world.js';

describe('keys over time', () => {
  test('a live tail ends within seconds of its key being revoked', { timeout: 60_000 }, async () => {
    const w = await startWorld();
    try {
      const base = await w.p.listen('127.0.0.1', 0);
      const created = await w.newKey();
      const url = new URL(`${base}/api/workspaces/${w.a.ws}/functions/${w.a.fn}/logs?follow=true`);
      const received = new Promise<string>((resolve, reject) => {
        const req = request(url, { headers: bearer(created.key) }, (res) => {
          assert.equal(res.statusCode, 200);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            // Open: revoke the key from another connection.
            if (text.startsWith(': connected') && !text.includes('revoking')) {
              text += '\n: revoking\n';
              void w.p.app
                .inject({
                  method: 'DELETE',
                  url: `/api/workspaces/${w.a.ws}/keys/${created.id}`,
                  headers: w.admin,
                })
                .then((r) => assert.equal(r.statusCode, 204));
            }
          });
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      const text = await received;
      assert.match(text, /event: unauthorized/);
    } finally {
      await w.close();
    }
  });

  test('an admin key with punctuation (as the configuration allows) authenticates; so does "Bearer" with two spaces', async () => {
    const key = 'Adm1n!Key#With$Punct%uation&More*';
    const p = await startTestPlatform({ EUNHA_ADMIN_KEY: key });
    try {
      const ok = await p.app.inject({ method: 'GET', url: '/api/workspaces', headers: bearer(key) });
      assert.equal(ok.statusCode, 200, ok.body);
      const spaced = await p.app.inject({
        method: 'GET',
        url: '/api/workspaces',
        headers: { authorization: `Bearer  ${key}` },
      });
      assert.equal(spaced.statusCode, 200, spaced.body);
      const wrong = await p.app.inject({ method: 'GET', url: '/api/workspaces', headers: bearer(`${key}x`) });
      assert.equal(wrong.statusCode, 401);
    } finally {
      await p.cleanup();
    }
  });
});
