// A request refused before its body has arrived (by the guard, the body's parser, an unknown route;
// a bad upload field likewise) has its connection closed after the answer, instead of Node reading
// the rest of the body, however long: a 401 on an upload route read 584 MB in 10 s of a
// never-ending body. The answer must reach the client before the close does.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { endlessBody } from '../helpers/endless-body.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('refused before the body arrived', () => {
  let p: TestPlatform;
  let port = 0;
  before(async () => {
    p = await startTestPlatform({ EUNHA_ADMIN_KEY: 'close-unread-admin-key-0123456789' });
    port = Number(new URL(await p.app.listen({ host: '127.0.0.1', port: 0 })).port);
  });
  after(async () => p.cleanup());

  for (const [name, head, status] of [
    [
      'an upload without a key (401)',
      'POST /api/v1/build HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n',
      401,
    ],
    [
      'a JSON body without a key (401)',
      'POST /api/workspaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n',
      401,
    ],
    [
      'a text/plain body on a JSON route (415)',
      'POST /api/workspaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer close-unread-admin-key-0123456789\r\nContent-Type: text/plain\r\n',
      415,
    ],
    [
      'a JSON body to an unknown route (404)',
      'POST /api/nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer close-unread-admin-key-0123456789\r\nContent-Type: application/json\r\n',
      404,
    ],
  ] as const) {
    test(`${name}: answered, then the connection is closed`, async () => {
      const r = await endlessBody(port, head, 256 * 1024 * 1024); // still read after 256 MB: not closed
      assert.ok(r.closed, `still read after ${r.sent} bytes`);
      assert.match(r.answer, new RegExp(`^HTTP/1\\.1 ${status} `));
    });
  }
});
