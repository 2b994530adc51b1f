// Outbound HTTP for functions (`spin_sdk.http.send`), made by the parent on a guest's behalf:
// sandbox hosts have no network (isolation.ts), so a guest's call is relayed here like a
// key-value call and answered with the response. Two gates, both required:
//   - the function's own list, `allowedOutboundHosts` (core/outbound-hosts.ts, Spin's syntax):
//     scheme, host and port of the URL;
//   - the platform's address policy: whatever a name resolves to must not be loopback, private,
//     link-local (the cloud metadata service at 169.254.169.254), otherwise reserved, or one of
//     this machine's own addresses, unless the operator lists its network in
//     EUNHA_OUTBOUND_ALLOWED_NETWORKS. It is checked on the addresses the connection really uses
//     (a lookup hook on the connector), so a name that resolves to a public address when checked
//     and a private one when used (DNS rebinding) gets nowhere; an address written in the URL is
//     checked before connecting.
// Names are resolved with DNS queries (c-ares, with a timeout), not getaddrinfo: that runs on
// libuv's four shared threads, and a tenant naming hosts whose DNS never answers held all four
// for ~10 s a lookup, stalling every tenant's calls for minutes (a review). So /etc/hosts is not
// read for functions' hosts.
// Redirects are not followed (the guest sees the 3xx and its Location), so a listed host cannot
// send a call on to one that is not. Requests and responses are capped in size and time.
// Connections are pooled by outbound-pool.ts, not by undici's Agent, so that the sockets the
// server holds for functions stay bounded.

import { BlockList, isIP } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { buildConnector, request, type Dispatcher } from 'undici';
import {
  DEFAULT_OUTBOUND_OPTIONS,
  MAX_OUTBOUND_REQUEST_BYTES,
  addNetwork,
  outboundAllowed,
  type OutboundOptions,
  type OutboundRule,
} from '../core/outbound-hosts.js';
import { Connections, IDLE_SOCKET_MS } from './outbound-pool.js';
import type { CallHandler } from './sandbox.js';

const MAX_REQUEST_HEADERS = 100;
const MAX_REQUEST_HEADER_CHARS = 64 * 1024;
const MAX_URI_CHARS = 8 * 1024;
/** Response headers past this many bytes end the call (undici's maxHeaderSize). */
const MAX_RESPONSE_HEADER_BYTES = 64 * 1024;

// Set by the connection from the URL, or per hop: a guest must not choose them.
const DROPPED_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Addresses no function may reach unless the operator exempts their network. */
function reservedRanges(): BlockList {
  const b = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8], // "this" network
    ['10.0.0.0', 8],
    ['100.64.0.0', 10], // carrier-grade NAT
    ['127.0.0.0', 8],
    ['169.254.0.0', 16], // link-local: cloud metadata services
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved and broadcast
  ] as const)
    b.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [
    // IPv4-mapped addresses (::ffff:a.b.c.d) need no rule: BlockList checks them against the
    // IPv4 rules (a rule for ::ffff:0:0/96 would match every IPv4 address, a review found).
    ['::', 96], // unspecified, loopback, and IPv4-compatible (::a.b.c.d)
    ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
    ['64:ff9b::', 96], // NAT64: embeds an IPv4 address
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 32], // Teredo
    ['2001:db8::', 32],
    ['2002::', 16], // 6to4: embeds an IPv4 address
    ['fc00::', 7], // unique local
    ['fe80::', 10], // link-local
    ['fec0::', 10],
    ['ff00::', 8], // multicast
  ] as const)
    b.addSubnet(net, bits, 'ipv6');
  return b;
}

/**
 * This machine's own addresses, public ones too: a service bound to all of them, reachable from
 * here but kept from the outside by a firewall, must stay out of reach. Read again every few
 * seconds, since addresses come and go (IPv6 temporary addresses, a container's late address).
 */
class OwnAddresses {
  private list = new BlockList();
  private readAt = -Infinity;

  has(address: string, type: 'ipv4' | 'ipv6'): boolean {
    const now = performance.now();
    if (now - this.readAt > 5_000) {
      this.readAt = now;
      // It can throw where the kernel hides interfaces: then the last list read stands.
      try {
        const b = new BlockList();
        for (const entries of Object.values(networkInterfaces())) {
          for (const a of entries ?? [])
            b.addAddress(a.address.replace(/%.*$/, ''), a.family === 'IPv4' ? 'ipv4' : 'ipv6');
        }
        this.list = b;
      } catch {
        // kept
      }
    }
    return this.list.check(address, type);
  }
}

/** Why a call failed, as the guest's Err says it (and tests match on). */
export type OutboundFailure =
  | 'disabled'
  | 'bad-request'
  | 'not-allowed'
  | 'address-not-allowed'
  | 'timeout'
  | 'too-large'
  | 'connect-failed'
  | 'failed';

class Refused extends Error {
  constructor(
    readonly reason: OutboundFailure,
    message: string,
  ) {
    super(message);
  }
}

export class OutboundHttp {
  private readonly reserved = reservedRanges();
  private readonly own = new OwnAddresses();
  private readonly exempt = new BlockList();
  private readonly pool: Connections;
  // Two tries of 2 s: a name whose DNS does not answer fails in ~4 s, without holding a thread.
  private readonly resolver = new Resolver({ timeout: 2_000, tries: 2 });

  constructor(private readonly opts: OutboundOptions = DEFAULT_OUTBOUND_OPTIONS) {
    for (const cidr of opts.allowedNetworks) addNetwork(this.exempt, cidr);
    if (opts.dnsServers.length > 0) this.resolver.setServers([...opts.dnsServers]);
    this.pool = new Connections({
      // One connector for all connections: one TLS session cache, bounded, not one per origin.
      connect: buildConnector({ lookup: this.lookup }),
      maxResponseSize: opts.maxResponseBytes,
      maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
      // Guests come and go; idle sockets to their hosts should not linger, whatever the remote's
      // Keep-Alive asks for.
      keepAliveTimeout: IDLE_SOCKET_MS,
      keepAliveMaxTimeout: IDLE_SOCKET_MS,
    });
  }

  /** Whether a function may reach this address (not reserved, or in an exempt network). */
  addressAllowed(address: string): boolean {
    let a = address.replace(/^\[|\]$/g, '');
    // An IPv4-mapped IPv6 address is the IPv4 address.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
    if (mapped) a = mapped[1]!;
    const family = isIP(a);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    return (!this.reserved.check(a, type) && !this.own.has(a, type)) || this.exempt.check(a, type);
  }

  /** A name's IPv4 and IPv6 addresses, by DNS query; ENOTFOUND (or the resolver's error) if none. */
  private async resolve(hostname: string): Promise<LookupAddress[]> {
    const [v4, v6] = await Promise.allSettled([
      this.resolver.resolve4(hostname),
      this.resolver.resolve6(hostname),
    ]);
    const out: LookupAddress[] = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (out.length === 0)
      throw v4.status === 'rejected' ? v4.reason : new Error(`${hostname} has no address`);
    return out;
  }

  /**
   * The connector's name lookup: every address a name resolves to must be allowed, or the
   * connection fails. Node asks for all addresses (happy eyeballs) or for one. The refusal does
   * not say the address: functions are not to map the server's networks by name.
   */
  private readonly lookup = (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const family = Number(options.family) || 0;
    this.resolve(hostname).then(
      (all) => {
        const addresses = family === 0 ? all : all.filter((a) => a.family === family);
        if (addresses.length === 0 || addresses.some((a) => !this.addressAllowed(a.address))) {
          const e = new Refused(
            'address-not-allowed',
            `${hostname} resolves to an address functions may not reach`,
          ) as Refused & NodeJS.ErrnoException;
          e.code = 'EUNHA_ADDRESS_NOT_ALLOWED';
          return callback(e, '');
        }
        if (options.all) return callback(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };

  /** Hears every call's outcome (`ok` or the failure) and duration: the platform's metrics. */
  observe: ((functionId: string, outcome: 'ok' | OutboundFailure, seconds: number) => void) | undefined;

  /**
   * The relay handler for one instance of `functionId`: its version's rules; `remainingMs`, the
   * time its running request has left (a call never outlives it: a guest that swallowed its
   * deadline's interrupt could otherwise start one more); `stop`, aborted when the sandbox ends,
   * which ends its call.
   */
  handlerFor(
    functionId: string,
    rules: readonly OutboundRule[],
    remainingMs: () => number,
    stop?: AbortSignal,
  ): CallHandler {
    return async (header, body) => {
      const started = performance.now();
      let outcome: 'ok' | OutboundFailure = 'ok';
      // One controller a call, its timer and its listener on `stop` gone when it ends: a signal
      // from AbortSignal.any() stayed in the long-lived `stop`'s list for good (a review counted
      // 250,000 after as many calls), and AbortSignal.timeout() keeps its timer for its whole span.
      const call = new AbortController();
      const end = (): void => call.abort(new DOMException('the sandbox ended', 'AbortError'));
      let timer: NodeJS.Timeout | undefined;
      try {
        // Whole milliseconds: undici's timers refuse fractions.
        const timeoutMs = Math.floor(Math.min(this.opts.timeoutMs, remainingMs()));
        if (!(timeoutMs > 0)) throw new Refused('timeout', "the function's time is up");
        timer = setTimeout(
          () => call.abort(new DOMException('the call took too long', 'TimeoutError')),
          timeoutMs,
        );
        stop?.addEventListener('abort', end, { once: true });
        if (stop?.aborted) end();
        return await this.send(rules, timeoutMs, call.signal, header, body);
      } catch (e) {
        const { reason, message } = this.failure(e);
        outcome = reason;
        return { header: { t: 'reply', ok: false, error: reason, message } };
      } finally {
        clearTimeout(timer);
        stop?.removeEventListener('abort', end);
        this.observe?.(functionId, outcome, (performance.now() - started) / 1000);
      }
    };
  }

  private async send(
    rules: readonly OutboundRule[],
    timeoutMs: number,
    signal: AbortSignal,
    header: Parameters<CallHandler>[0],
    body: Uint8Array,
  ): ReturnType<CallHandler> {
    if (!this.opts.enabled) throw new Refused('disabled', 'outbound HTTP is turned off on this platform');
    const { method, uri, headers } = header;
    if (typeof method !== 'string' || !TOKEN.test(method) || method.length > 32)
      throw new Refused('bad-request', 'the method must be an HTTP method name');
    if (method.toUpperCase() === 'CONNECT') throw new Refused('bad-request', 'CONNECT is not allowed');
    if (typeof uri !== 'string' || uri.length > MAX_URI_CHARS)
      throw new Refused('bad-request', `the uri must be a URL of at most ${MAX_URI_CHARS} characters`);
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new Refused('bad-request', `'${uri.slice(0, 200)}' is not an absolute URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Refused('bad-request', `only http and https URLs can be sent, not ${url.protocol}`);
    if (url.username || url.password)
      throw new Refused(
        'bad-request',
        'credentials in the URL are not allowed; send an Authorization header',
      );
    if (!outboundAllowed(rules, url)) {
      throw new Refused(
        'not-allowed',
        `${url.protocol}//${url.host} is not in this function's allowedOutboundHosts`,
      );
    }
    // An address in the URL is connected to without a lookup: check it here.
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) !== 0 && !this.addressAllowed(literal))
      throw new Refused('address-not-allowed', `${url.hostname} is an address functions may not reach`);
    if (body.length > MAX_OUTBOUND_REQUEST_BYTES)
      throw new Refused('bad-request', `the request body is over ${MAX_OUTBOUND_REQUEST_BYTES} bytes`);
    const sent = requestHeaders(headers);
    const res = await request(url, {
      dispatcher: this.pool,
      method: method.toUpperCase() as Dispatcher.HttpMethod,
      headers: sent,
      body: body.length > 0 ? Buffer.from(body.buffer, body.byteOffset, body.length) : null,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const data = new Uint8Array(await res.body.arrayBuffer());
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      if (name === 'set-cookie' && Array.isArray(value)) {
        // Cookies are never joined (RFC 6265 §3): one joined line was one broken cookie. Each goes
        // under its own spelling of the name, which a dict keeps apart and the ingress sends as
        // lines of their own, so a function that returns this response passes every cookie on.
        value.slice(0, 512).forEach((v, i) => (out[spelling(name, i)] = v));
        continue;
      }
      out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { header: { t: 'reply', ok: true, status: res.statusCode, headers: out }, body: data };
  }

  private failure(e: unknown): { reason: OutboundFailure; message: string } {
    if (e instanceof Refused) return { reason: e.reason, message: e.message };
    const err = e as { name?: string; code?: string; message?: string; cause?: unknown };
    // The lookup hook's refusal arrives as the connection's error (or its cause).
    const inner = (err.cause ?? e) as { code?: string; message?: string };
    if (err.code === 'EUNHA_ADDRESS_NOT_ALLOWED' || inner.code === 'EUNHA_ADDRESS_NOT_ALLOWED')
      return { reason: 'address-not-allowed', message: String(inner.message ?? err.message) };
    if (err.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE')
      return {
        reason: 'too-large',
        message: `the response body is over ${this.opts.maxResponseBytes} bytes`,
      };
    if (err.code === 'UND_ERR_HEADERS_OVERFLOW')
      return {
        reason: 'too-large',
        message: `the response headers are over ${MAX_RESPONSE_HEADER_BYTES} bytes`,
      };
    if (
      err.name === 'TimeoutError' ||
      err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
      err.code === 'UND_ERR_BODY_TIMEOUT' ||
      err.code === 'UND_ERR_CONNECT_TIMEOUT' ||
      inner.code === 'ETIMEOUT' // the resolver's
    )
      return { reason: 'timeout', message: 'the request took too long' };
    const code = inner.code ?? err.code;
    // What undici itself refuses in the request (a header value it cannot send, say).
    if (code === 'UND_ERR_INVALID_ARG')
      return { reason: 'bad-request', message: String(inner.message ?? err.message).slice(0, 500) };
    if (
      code &&
      // The connection's, and the resolver's (no such name, no address, no answer from its servers).
      /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_SOCKET|ENODATA|ESERVFAIL|EREFUSED)$/.test(
        code,
      )
    )
      return { reason: 'connect-failed', message: `could not reach the host (${code})` };
    return {
      reason: 'failed',
      message: `the request failed: ${String(inner.message ?? err.message ?? e)}`.slice(0, 500),
    };
  }

  /** Ends calls still under way (the sandboxes that made them are gone by then) and lookups. */
  close(): Promise<void> {
    this.resolver.cancel();
    return this.pool.destroy();
  }
}

/** The guest's headers, checked: names are tokens, values have no line breaks, hop-by-hop dropped. */
function requestHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== 'object' || Array.isArray(headers))
    throw new Refused('bad-request', 'headers must be a map of names to values');
  const out: Record<string, string> = {};
  let count = 0;
  let chars = 0;
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (typeof value !== 'string')
      throw new Refused('bad-request', `header '${name.slice(0, 64)}' is not a string`);
    if (!TOKEN.test(name)) throw new Refused('bad-request', `'${name.slice(0, 64)}' is not a header name`);
    if (/[\r\n\0]/.test(value))
      throw new Refused('bad-request', `header '${name}' has a line break in its value`);
    if (++count > MAX_REQUEST_HEADERS)
      throw new Refused('bad-request', `more than ${MAX_REQUEST_HEADERS} headers`);
    chars += name.length + value.length;
    if (chars > MAX_REQUEST_HEADER_CHARS)
      throw new Refused('bad-request', `headers of more than ${MAX_REQUEST_HEADER_CHARS} characters`);
    if (DROPPED_HEADERS.has(name.toLowerCase())) continue;
    // Sent as UTF-8, as Spin's SDK sends them: undici takes a string's characters as bytes, and
    // refused any past U+00FF ('failed: invalid … header').
    out[name] = /[^\p{ASCII}]/u.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
  }
  return out;
}

/** The `i`th spelling of a header name: letters upper-cased where `i` has its bits set. */
function spelling(name: string, i: number): string {
  let bit = 0;
  let out = '';
  for (const c of name) {
    if (/[a-z]/.test(c)) out += (i >> bit++) & 1 ? c.toUpperCase() : c;
    else out += c;
  }
  return out;
}
