// The redactor on its own: a secret in every spelling a function's output may hold it in. A
// reviewer found a PEM key and a password with a quote and an umlaut in execution logs: JSON had
// escaped them in the bodies, and the key's newlines split it across printed lines.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redactor } from '../../src/auth/redact.js';
import { MASK } from '../../src/auth/secrets.js';
import { bodyForLog } from '../../src/gateway/bodies.js';

const PASSWORD = 'päss"w0rd\\';
const PEM =
  '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END KEY-----';
const r = new Redactor([PASSWORD, PEM]);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const logged = (bytes: string): unknown =>
  r.value(bodyForLog(r.buffer(enc(bytes)), 'application/json', 8192));

describe('Redactor', () => {
  test('a secret in a JSON body, as JSON.stringify and as Python json.dumps spell it', () => {
    for (const secret of [PASSWORD, PEM]) {
      // JSON.stringify keeps non-ASCII; Python's json.dumps writes it as \u00e4 by default.
      const js = JSON.stringify({ s: secret });
      const py = js.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      for (const body of [js, py]) {
        assert.deepEqual(logged(body), { s: MASK }, body);
        const text = JSON.stringify(logged(body));
        assert.ok(!text.includes('w0rd') && !text.includes('MIIB'), text);
      }
    }
  });

  test('a cut-off JSON body (kept as text) is masked in its escaped spelling too', () => {
    const body = JSON.stringify({ s: PEM, pad: 'x'.repeat(200) });
    const out = r.value(bodyForLog(r.buffer(enc(body)), 'application/json', 120));
    assert.equal(typeof out, 'string');
    assert.ok(!String(out).includes('MIIB'), String(out));
    assert.ok(String(out).includes(MASK));
  });

  test('printed lines: a secret spanning lines is masked whole', () => {
    const lines = ['secret is -----BEGIN KEY-----', PEM.split('\n')[1]!, '-----END KEY-----', 'after'];
    assert.deepEqual(r.lines(lines), [`secret is ${MASK}`, 'after']);
    assert.deepEqual(r.lines(['nothing here']), ['nothing here']);
    // print(json.dumps(config)): the escaped spelling, in a printed line.
    const printed = JSON.stringify({ password: PASSWORD }).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    assert.deepEqual(r.lines([printed]), [`{"password":"${MASK}"}`]);
  });

  test('a value shorter than 4 characters is not masked: it would garble every log and show itself', () => {
    const short = new Redactor(['a', 'xyz', 'abcd']);
    assert.equal(short.text('banana xyz abcde'), `banana xyz ${MASK}e`);
    assert.equal(new Redactor(['a', 'bc']).empty, true);
  });
});
