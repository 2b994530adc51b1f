// The redactor on its own: a secret in every spelling a function's output may hold it in. A
// reviewer found a PEM key and a password with a quote and an umlaut in execution logs: JSON had
// escaped them in the bodies, and the key's newlines split it across printed lines.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redactor } from '../../src/auth/redact.js';
import { MASK } from '../../src/auth/secrets.js';
import { CUT_MARKER } from '../../src/runtime/output.js';
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

describe('Redactor.buffer with a cap: only what can reach the log is masked', () => {
  test('the logged start of a body is what masking the whole body gives, secrets at every edge', () => {
    // A small alphabet, so that secrets overlap, repeat and straddle the window's edges.
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = (len: number): string => Array.from({ length: len }, () => 'ab"é\n'[rand(5)]).join('');
    for (let round = 0; round < 400; round++) {
      const secrets = Array.from({ length: 1 + rand(4) }, () => word(4 + rand(40)));
      const red = new Redactor(secrets);
      const cap = 1 + rand(120);
      const parts: string[] = [];
      for (let i = rand(30); i >= 0; i--)
        parts.push(rand(2) ? secrets[rand(secrets.length)]! : word(rand(20)));
      const body = enc(parts.join(''));
      const windowed = red.buffer(body, cap);
      const whole = red.buffer(body);
      const label = JSON.stringify({ secrets, cap, body: parts.join('') });
      assert.deepEqual(
        bodyForLog(windowed, 'text/plain', cap, body.length),
        bodyForLog(whole, 'text/plain', cap, body.length),
        label,
      );
    }
  });

  test('a body much longer than the cap is not masked, nor copied, past what the log keeps', () => {
    const secrets = Array.from({ length: 64 }, (_, i) => `S${i}-${'x'.repeat(1000)}`);
    const red = new Redactor(secrets);
    const body = enc(`${secrets[3]} then ${'y'.repeat(4 * 1024 * 1024)} ${secrets[5]}`);
    const out = red.buffer(body, 8192);
    // A masked secret shrinks the first window below the cap: one larger one, not the 4 MiB.
    assert.ok(out.length > 8192 && out.length < 3 * (8192 + 1010), `${out.length} bytes`);
    assert.ok(Buffer.from(out).toString().startsWith(`${MASK} then yyy`));
    const logged = String(bodyForLog(out, 'text/plain', 8192, body.length));
    assert.match(logged, new RegExp(`… \\[truncated: ${body.length} bytes in all\\]$`));
  });

  test('output cut through a secret: the part that ends the kept start, and the part that begins the kept end', () => {
    const token = 'TOPSECRET-0123456789-ABCDEFGHIJ';
    const t = new Redactor([token]);
    const marker = `${CUT_MARKER}100 bytes and 0 line breaks dropped`;
    assert.deepEqual(t.lines(['first', 'ffffTOPSECRET-', marker, '6789-ABCDEFGHIJ and more']), [
      'first',
      `ffff${MASK}`,
      marker,
      `${MASK} and more`,
    ]);
    // Whole secrets on either side are masked as anywhere else; nothing that merely looks alike is.
    assert.deepEqual(t.lines([`a ${token} b`, 'no cut here', marker, `${token}!`, 'Jx']), [
      `a ${MASK} b`,
      'no cut here',
      marker,
      `${MASK}!`,
      'Jx',
    ]);
    assert.deepEqual(t.lines(['ends with T', marker, 'J starts it']), [
      `ends with ${MASK}`,
      marker,
      `${MASK} starts it`,
    ]);
    // Without a marker nothing was cut: a line that ends like a secret's start is left alone.
    assert.deepEqual(t.lines(['ffffTOPSECRET-']), ['ffffTOPSECRET-']);
  });

  test('a line forged to look like the cut marker is masked, and the real cut is still checked', () => {
    const token = 'TOPSECRET-0123456789-ABCDEFGHIJ';
    const t = new Redactor([token]);
    const forged = `${CUT_MARKER}token=${token}`;
    const real = `${CUT_MARKER}100 bytes and 0 line breaks dropped`;
    const out = t.lines(['hello', forged, 'aaaaTOPSECRET-01', real, '89-ABCDEFGHIJ tail']);
    assert.deepEqual(out, ['hello', `${CUT_MARKER}token=${MASK}`, `aaaa${MASK}`, real, `${MASK} tail`]);
    assert.ok(!out.join('\n').includes('TOPSECRET'), out.join('\n'));
  });

  test('a search the author made quadratic stops at its budget and masks the edges wholesale', () => {
    // Every place in the start's last 20,000 characters could begin it, and each compare runs
    // 10,000 characters before the 'b' fails it: with 256 such secrets, minutes of main thread.
    const secret = 'a'.repeat(10_000) + 'b' + 'a'.repeat(10_000);
    const t = new Redactor([secret]);
    const started = performance.now();
    const out = t.lines(['x' + 'a'.repeat(30_000), `${CUT_MARKER}1 bytes and 0 line breaks dropped`, 'tail']);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `${ms} ms`);
    // The true match was the last 10,000; the wholesale mask covers as far as the secret reaches.
    assert.equal(out[0], 'x' + 'a'.repeat(10_000) + MASK);
  });
});
