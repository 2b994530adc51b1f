// Inputs that used to end in a 500 or in stored data other tools cannot read: base64 code near the
// body limit, deeply nested invoke bodies, names with control characters or lone surrogates, and
// impossible dates. Each must be a 4xx in the envelope (or be accepted as before), never a 500.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeCode } from '../../src/core/validate.js';
import { b64, startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe('edge input', () => {
  let p: TestPlatform;
  let ws: string;
  before(async () => {
    p = await startTestPlatform();
    ws = (await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: 'edge' } })).json()
      .id;
  });
  after(async () => p.cleanup());

  const fns = () => `/api/workspaces/${ws}/functions`;
  const newFunction = async (name: string): Promise<string> => {
    const res = await p.app.inject({ method: 'POST', url: fns(), payload: { name, code: b64('x = 1\n') } });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const assertInvalid = (res: { statusCode: number; body: string }, field: string, what: string) => {
    assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
    const body = JSON.parse(res.body);
    assert.equal(body.error.code, 'VALIDATION_ERROR', what);
    assert.equal(body.error.details.field, field, what);
    // Said in words: the regular expression itself used to be the message.
    assert.doesNotMatch(body.error.message, /pattern|\^\(|\\x|\\p/, what);
  };

  describe('base64 code', () => {
    // The expression the check replaced; kept here as the oracle of what is accepted.
    const OLD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
    const OLD_URL = /^[A-Za-z0-9_-]*$/;
    const oldAccepts = (s: string) =>
      OLD.test(s.replace(/\s+/g, '')) ||
      (OLD_URL.test(s.replace(/\s+/g, '')) && s.replace(/\s+/g, '').length % 4 !== 1);
    const accepts = (s: string) => {
      try {
        decodeCode(s);
        return true;
      } catch (e) {
        const err = e as { code?: string; details?: { field?: string }; message: string };
        assert.equal(err.code, 'VALIDATION_ERROR');
        assert.equal(err.details?.field, 'code');
        // Only the base64 verdict is compared; the UTF-8 check comes after and is unchanged.
        return err.message.includes('UTF-8');
      }
    };

    test('accepts and refuses exactly what the old expression did', () => {
      const fixed = [
        '',
        'QUFB',
        'QUE=',
        'QQ==',
        'QQ=',
        'Q===',
        '====',
        '==',
        '=QUE',
        'QU=E',
        'QUFBQQ==QUFB',
        'QUFB\nQUFB',
        ' Q U F B ',
        'QUF',
        'QU',
        'Q',
        'QUFB-_',
        'QUFB+_',
        'QUFB+/',
        'aGk_',
        'aGk-aA',
        'not base64!!',
        'QUFB\u00e9',
      ];
      const alphabet = 'AQgw+/-_= \n!';
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const random = Array.from({ length: 3000 }, () =>
        Array.from(
          { length: Math.floor(rand() * 11) },
          () => alphabet[Math.floor(rand() * alphabet.length)],
        ).join(''),
      );
      for (const s of [...fixed, ...random]) assert.equal(accepts(s), oldAccepts(s), JSON.stringify(s));
    });

    test('code of several megabytes (under the body limit) is stored, on create and on patch', async () => {
      const code = 'QUFB'.repeat(1_200_000);
      const created = await p.app.inject({ method: 'POST', url: fns(), payload: { name: 'big', code } });
      assert.equal(created.statusCode, 201, created.body.slice(0, 300));
      const id = created.json().id as string;
      assert.equal(created.json().code.length, code.length);
      const patched = await p.app.inject({
        method: 'PATCH',
        url: `${fns()}/${id}`,
        payload: { code: `${'QkJC'.repeat(1_200_000)}QQ==` },
      });
      assert.equal(patched.statusCode, 200, patched.body.slice(0, 300));
      const broken = await p.app.inject({
        method: 'POST',
        url: fns(),
        payload: { name: 'big-bad', code: `${code}!` },
      });
      assertInvalid(broken, 'code', 'invalid base64 near the limit');
      const notUtf8 = await p.app.inject({
        method: 'POST',
        url: fns(),
        payload: { name: 'big-bin', code: `${code}/w==` },
      });
      assertInvalid(notUtf8, 'code', 'a byte that is not UTF-8');
      assert.match(notUtf8.json().error.message, /UTF-8/);
    });
  });

  describe('deeply nested invoke bodies', () => {
    const invoke = (fn: string, payload: string) =>
      p.app.inject({
        method: 'POST',
        url: `${fns()}/${fn}/invoke`,
        payload,
        headers: { 'content-type': 'application/json' },
      });

    test('a body nested thousands of levels deep is a 400 on body, not a 500', async () => {
      const fn = await newFunction('deep');
      const bodies = [
        '['.repeat(5000) + ']'.repeat(5000),
        '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
        '['.repeat(513) + ']'.repeat(513),
      ];
      for (const body of bodies) {
        const res = await invoke(fn, body);
        assertInvalid(res, 'body', body.slice(0, 20));
        assert.equal(res.json().error.details.maxDepth, 512);
      }
    });

    test('512 levels pass the check (the undeployed function then answers NOT_DEPLOYED)', async () => {
      const fn = await newFunction('deep-ok');
      const res = await invoke(fn, '['.repeat(512) + ']'.repeat(512));
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error.code, 'NOT_DEPLOYED');
      const wide = await invoke(fn, JSON.stringify(Array.from({ length: 50_000 }, (_, i) => [i])));
      assert.equal(wide.json().error.code, 'NOT_DEPLOYED');
    });
  });

  describe('names and descriptions', () => {
    const badNames: Array<[string, string]> = [
      ['\ud800', 'a lone high surrogate'],
      ['a\udc00b', 'a lone low surrogate'],
      ['nul\u0000', 'NUL'],
      ['esc\u001b[31m', 'ESC'],
      ['c1\u009b', 'a C1 control'],
      ['del\u007f', 'DEL'],
      ['two\nlines', 'a newline'],
      ['tab\there', 'a tab'],
      ['   ', 'spaces only'],
      ['\u00a0\u3000', 'Unicode spaces only'],
      ['\u200b', 'a zero-width space only'],
      [' \ufeff\u00ad\u2060 ', 'invisible format characters only'],
    ];
    const badDescriptions: Array<[string, string]> = [
      ['\ud800', 'a lone surrogate'],
      ['x\u0000', 'NUL'],
      ['x\u001b', 'ESC'],
      ['x\u0085', 'a C1 control'],
    ];

    test('workspaces refuse them on create and on patch, naming the field', async () => {
      for (const [name, what] of badNames) {
        const res = await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name } });
        assertInvalid(res, 'name', `create: ${what}`);
        const patch = await p.app.inject({
          method: 'PATCH',
          url: `/api/workspaces/${ws}`,
          payload: { name },
        });
        assertInvalid(patch, 'name', `patch: ${what}`);
      }
      for (const [description, what] of badDescriptions) {
        const res = await p.app.inject({
          method: 'POST',
          url: '/api/workspaces',
          payload: { name: 'ok', description },
        });
        assertInvalid(res, 'description', `create: ${what}`);
        const patch = await p.app.inject({
          method: 'PATCH',
          url: `/api/workspaces/${ws}`,
          payload: { description },
        });
        assertInvalid(patch, 'description', `patch: ${what}`);
      }
      assert.equal((await p.app.inject({ method: 'GET', url: `/api/workspaces/${ws}` })).json().name, 'edge');
      const blank = await p.app.inject({ method: 'POST', url: '/api/workspaces', payload: { name: '   ' } });
      assert.equal(
        blank.json().error.message,
        'name must not be blank, and must not hold control characters or unpaired surrogates',
      );
    });

    test('functions and API keys refuse them too', async () => {
      const fn = await newFunction('named');
      for (const [name, what] of badNames) {
        const res = await p.app.inject({
          method: 'POST',
          url: fns(),
          payload: { name, code: b64('x = 1\n') },
        });
        assertInvalid(res, 'name', `function create: ${what}`);
        const patch = await p.app.inject({ method: 'PATCH', url: `${fns()}/${fn}`, payload: { name } });
        assertInvalid(patch, 'name', `function patch: ${what}`);
        const key = await p.app.inject({
          method: 'POST',
          url: `/api/workspaces/${ws}/keys`,
          payload: { name },
        });
        assertInvalid(key, 'name', `key: ${what}`);
      }
      for (const [description, what] of badDescriptions) {
        const patch = await p.app.inject({
          method: 'PATCH',
          url: `${fns()}/${fn}`,
          payload: { description },
        });
        assertInvalid(patch, 'description', `function patch: ${what}`);
      }
    });

    test('well-formed text is kept as sent: emoji, accents, and tabs or line breaks in descriptions', async () => {
      const description = 'line one\nline two\r\n\tindented';
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/workspaces',
        payload: { name: 'café 🚀 支付', description },
      });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json().name, 'café 🚀 支付');
      assert.equal(res.json().description, description);
      const fn = await p.app.inject({
        method: 'POST',
        url: fns(),
        payload: { name: 'ünïcode-😀', description, code: b64('x = 1\n') },
      });
      assert.equal(fn.statusCode, 201, fn.body);
      assert.equal(fn.json().name, 'ünïcode-😀');
    });

    test('names are trimmed the same way on create and on patch, for workspaces and functions', async () => {
      const ws = await p.app.inject({
        method: 'POST',
        url: '/api/workspaces',
        payload: { name: '  padded  ' },
      });
      assert.equal(ws.json().name, 'padded');
      const renamed = await p.app.inject({
        method: 'PATCH',
        url: `/api/workspaces/${ws.json().id}`,
        payload: { name: '  again  ' },
      });
      assert.equal(renamed.json().name, 'again');
      const fn = await p.app.inject({
        method: 'POST',
        url: fns(),
        payload: { name: ' f ', code: b64('x = 1\n') },
      });
      assert.equal(fn.json().name, 'f');
      const patched = await p.app.inject({
        method: 'PATCH',
        url: `${fns()}/${fn.json().id}`,
        payload: { name: '  g  ' },
      });
      assert.equal(patched.json().name, 'g');
    });

    test('after all the refusals, the listing is well-formed UTF-8 JSON', async () => {
      const res = await p.app.inject({ method: 'GET', url: '/api/workspaces' });
      assert.equal(res.statusCode, 200);
      const text = new TextDecoder('utf-8', { fatal: true }).decode(res.rawPayload);
      const list = JSON.parse(text) as Array<{ name: string; description: string | null }>;
      for (const w of list) {
        assert.doesNotMatch(w.name, /\p{Cs}/u);
        assert.doesNotMatch(w.name, /\p{Cc}/u);
        assert.ok(w.name.trim().length > 0);
      }
    });
  });

  describe('lastDeployed', () => {
    test('impossible calendar dates and times are refused, not rolled over', async () => {
      const fn = await newFunction('dated');
      for (const lastDeployed of [
        '2026-02-30T00:00:00Z',
        '2025-02-29T00:00:00Z',
        '2026-04-31T12:00:00Z',
        '2026-13-01T00:00:00Z',
        '2026-00-10T00:00:00Z',
        '2026-01-00T00:00:00Z',
        '2026-01-01T24:00:00Z',
        '2026-01-01T12:60:00Z',
        '2026-01-01T12:00:61Z',
        '2026-01-01T12:00:00+24:00',
        'yesterday',
      ]) {
        const res = await p.app.inject({ method: 'PATCH', url: `${fns()}/${fn}`, payload: { lastDeployed } });
        assertInvalid(res, 'lastDeployed', lastDeployed);
      }
      assert.equal((await p.app.inject({ method: 'GET', url: `${fns()}/${fn}` })).json().lastDeployed, null);
    });

    test('real dates are normalised to UTC as before', async () => {
      const fn = await newFunction('dated-ok');
      const cases: Array<[string, string]> = [
        ['2024-02-29T10:00:00Z', '2024-02-29T10:00:00.000Z'],
        ['2026-11-26T12:00:00.5+09:00', '2026-11-26T03:00:00.500Z'],
        ['2026-12-31T23:59:59-0130', '2027-01-01T01:29:59.000Z'],
        ['2000-02-29T00:00Z', '2000-02-29T00:00:00.000Z'],
      ];
      for (const [lastDeployed, stored] of cases) {
        const res = await p.app.inject({ method: 'PATCH', url: `${fns()}/${fn}`, payload: { lastDeployed } });
        assert.equal(res.statusCode, 200, `${lastDeployed}: ${res.body}`);
        assert.equal(res.json().lastDeployed, stored, lastDeployed);
      }
    });
  });
});
