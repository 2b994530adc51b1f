// Which hosts a function may call over HTTP: its `allowedOutboundHosts`, in the syntax of Spin's
// `allowed_outbound_hosts` so that a spin.toml's list can be copied over. Each entry is
// `scheme://host[:port]`:
//   scheme  http, https, or * (either);
//   host    a DNS name, an IPv4 address, an [IPv6] address, *.suffix (any name under suffix, not
//           suffix itself) or * (any host);
//   port    a number or * (any); without one, the scheme's own (80 for http, 443 for https).
// Pure: parsed and checked at the API's edge, matched again in the runtime for every call. Where
// the function's list allows a host, the platform's address policy still decides whether its
// address may be reached (runtime/outbound-http.ts, with the options and networks defined here).

import { isIP, type BlockList } from 'node:net';

export const MAX_OUTBOUND_HOSTS = 32;
export const MAX_OUTBOUND_HOST_LENGTH = 256;

export interface OutboundRule {
  scheme: 'http' | 'https' | '*';
  /** Lowercased, as URL normalises it: a name, an IPv4 address, `[v6]`, `*` or `*.suffix`. */
  host: string;
  /** null: the scheme's default port. */
  port: number | '*' | null;
}

const ENTRY = /^(https?|\*):\/\/(\*|\*\.[^/:[\]@]+|\[[0-9A-Fa-f:.]+\]|[^/:[\]@*]+)(?::(\d{1,5}|\*))?\/?$/;

/** The URL parser's form of a host (lowercase, punycode, IPv4 in dotted decimal), or undefined. */
function normalHost(host: string): string | undefined {
  try {
    const h = new URL(`http://${host}/`).hostname;
    return h === '' ? undefined : h;
  } catch {
    return undefined;
  }
}

/** Parses one entry; throws an Error saying what is wrong with it. */
export function parseOutboundHost(entry: string): OutboundRule {
  const m = ENTRY.exec(entry.trim());
  if (!m) {
    throw new Error(
      `'${entry}' is not scheme://host[:port] (scheme http, https or *; e.g. https://api.example.com, https://*.example.com:8443)`,
    );
  }
  const [, scheme, rawHost, rawPort] = m as unknown as [string, OutboundRule['scheme'], string, string?];
  let host: string;
  if (rawHost === '*') host = '*';
  else if (rawHost.startsWith('*.')) {
    const suffix = normalHost(rawHost.slice(2));
    if (suffix === undefined || suffix.startsWith('[') || /^[\d.]+$/.test(suffix))
      throw new Error(
        `'${entry}': a wildcard must stand for names under a domain, e.g. https://*.example.com`,
      );
    host = `*.${suffix}`;
  } else {
    const h = normalHost(rawHost);
    if (h === undefined) throw new Error(`'${entry}': '${rawHost}' is not a host name or address`);
    host = h;
  }
  let port: OutboundRule['port'] = null;
  if (rawPort === '*') port = '*';
  else if (rawPort !== undefined) {
    port = Number(rawPort);
    if (port < 1 || port > 65535) throw new Error(`'${entry}': port ${rawPort} is not 1–65535`);
  }
  return { scheme, host, port };
}

/** Every entry parsed, or an Error naming the first bad one. */
export function parseOutboundHosts(entries: readonly string[]): OutboundRule[] {
  if (entries.length > MAX_OUTBOUND_HOSTS)
    throw new Error(`at most ${MAX_OUTBOUND_HOSTS} entries, got ${entries.length}`);
  return entries.map(parseOutboundHost);
}

export function defaultPort(scheme: 'http' | 'https'): number {
  return scheme === 'https' ? 443 : 80;
}

/** Whether one of the rules allows this http(s) URL (scheme, host and port). */
export function outboundAllowed(rules: readonly OutboundRule[], url: URL): boolean {
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : undefined;
  if (scheme === undefined) return false;
  const port = url.port === '' ? defaultPort(scheme) : Number(url.port);
  const host = url.hostname;
  return rules.some(
    (r) =>
      (r.scheme === '*' || r.scheme === scheme) &&
      (r.port === '*' || (r.port ?? defaultPort(scheme)) === port) &&
      (r.host === '*' || r.host === host || (r.host.startsWith('*.') && host.endsWith(r.host.slice(1)))),
  );
}

export interface OutboundOptions {
  /** False: every call fails with `disabled` (EUNHA_OUTBOUND_HTTP=false). */
  enabled: boolean;
  /** CIDRs that may be reached even though private or reserved (EUNHA_OUTBOUND_ALLOWED_NETWORKS). */
  allowedNetworks: readonly string[];
  /** Longest a call may take, headers and body (also never past the function's own timeout). */
  timeoutMs: number;
  /** Largest response body a guest gets; past it the call fails with `too-large`. */
  maxResponseBytes: number;
  /** DNS servers for functions' host names (`ip` or `ip:port`); empty: the system's (resolv.conf). */
  dnsServers: readonly string[];
}

export const DEFAULT_OUTBOUND_OPTIONS: OutboundOptions = {
  enabled: true,
  allowedNetworks: [],
  timeoutMs: 30_000,
  maxResponseBytes: 4 * 1024 * 1024,
  dnsServers: [],
};

/** A request body a guest may send (the bridge carries at most 8 MiB a frame). */
export const MAX_OUTBOUND_REQUEST_BYTES = 6 * 1024 * 1024;

/** Parses `a.b.c.d/n` or `v6/n`; throws an Error saying what is wrong. */
export function addNetwork(list: BlockList, cidr: string): void {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  const family = m ? isIP(m[1]!) : 0;
  if (!m || family === 0) throw new Error(`'${cidr}' is not a network (address/prefix, e.g. 10.0.5.0/24)`);
  const bits = Number(m[2]);
  if (bits > (family === 4 ? 32 : 128)) throw new Error(`'${cidr}': prefix /${bits} is too long`);
  list.addSubnet(m[1]!, bits, family === 4 ? 'ipv4' : 'ipv6');
}
