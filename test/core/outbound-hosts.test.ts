// The allow-list syntax of `allowedOutboundHosts` (Spin's allowed_outbound_hosts): what parses,
// what is refused with a message, and which URLs each form lets through.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { outboundAllowed, parseOutboundHost, parseOutboundHosts } from '../../src/core/outbound-hosts.js';

const allows = (entries: string[], url: string): boolean =>
  outboundAllowed(parseOutboundHosts(entries), new URL(url));

describe('allowedOutboundHosts', () => {
  test('entries parse to scheme, normalised host and port', () => {
    assert.deepEqual(parseOutboundHost('https://API.Example.com'), {
      scheme: 'https',
      host: 'api.example.com',
      port: null,
    });
    assert.deepEqual(parseOutboundHost('*://*.example.com:*'), {
      scheme: '*',
      host: '*.example.com',
      port: '*',
    });
    assert.deepEqual(parseOutboundHost('http://127.0.0.1:3000/'), {
      scheme: 'http',
      host: '127.0.0.1',
      port: 3000,
    });
    assert.deepEqual(parseOutboundHost('http://[::1]:8080'), { scheme: 'http', host: '[::1]', port: 8080 });
    // An IPv4 address in another spelling is the address.
    assert.equal(parseOutboundHost('http://2130706433').host, '127.0.0.1');
    assert.equal(parseOutboundHost('https://bücher.example').host, 'xn--bcher-kva.example');
  });

  test('what is not scheme://host[:port] is refused, saying so', () => {
    for (const bad of [
      'api.example.com',
      'ftp://example.com',
      'https://example.com/path',
      'https://user@example.com',
      'https://example.com:0',
      'https://example.com:70000',
      'https://*example.com',
      'https://*.1.2.3',
      'https://a.*.example.com',
      'https://exa mple.com',
      '',
    ]) {
      assert.throws(() => parseOutboundHost(bad), /./, bad);
    }
    assert.throws(
      () => parseOutboundHosts(Array.from({ length: 33 }, () => 'https://a.example')),
      /at most 32/,
    );
  });

  test('a URL is allowed by scheme, host and port', () => {
    assert.ok(allows(['https://api.example.com'], 'https://api.example.com/v1?x=1'));
    assert.ok(allows(['https://api.example.com'], 'https://API.example.com:443/'));
    assert.ok(!allows(['https://api.example.com'], 'http://api.example.com/'));
    assert.ok(!allows(['https://api.example.com'], 'https://api.example.com:8443/'));
    assert.ok(!allows(['https://api.example.com'], 'https://api.example.com.evil.net/'));
    assert.ok(allows(['http://api.example.com:8080'], 'http://api.example.com:8080/'));
    assert.ok(!allows(['http://api.example.com:8080'], 'http://api.example.com/'));
    // *.domain: names under it, not the domain itself nor a look-alike.
    assert.ok(allows(['https://*.example.com'], 'https://a.b.example.com/'));
    assert.ok(!allows(['https://*.example.com'], 'https://example.com/'));
    assert.ok(!allows(['https://*.example.com'], 'https://badexample.com/'));
    // * scheme: each scheme's own default port, or any with :*.
    assert.ok(allows(['*://example.com'], 'http://example.com/'));
    assert.ok(allows(['*://example.com'], 'https://example.com/'));
    assert.ok(!allows(['*://example.com'], 'https://example.com:80/'));
    assert.ok(allows(['*://example.com:*'], 'https://example.com:9999/'));
    assert.ok(allows(['https://*'], 'https://anything.example/'));
    assert.ok(!allows([], 'https://example.com/'));
    assert.ok(!allows(['*://*:*'], 'ftp://example.com/'));
    // Addresses match in their normal form.
    assert.ok(allows(['http://127.0.0.1:3000'], 'http://0x7f.0.0.1:3000/'));
    assert.ok(allows(['http://[::1]:3000'], 'http://[0:0::1]:3000/'));
  });
});
