// A small authoritative DNS server over UDP for tests: names map to IPv4/IPv6 addresses, unknown
// names are NXDOMAIN, and "silent" names get no answer at all (a nameserver that never replies).
// Real queries from the real resolver (c-ares) reach it, so what a function's host resolves to is
// under the test's control without touching the machine's own DNS.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

export interface DnsServer {
  /** `127.0.0.1:port`, for Resolver.setServers. */
  address: string;
  /** Queries received, as `name/type` (A or AAAA). */
  queries: string[];
  close(): Promise<void>;
}

const A = 1;
const AAAA = 28;

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parts = (s: string | undefined) => (s ? s.split(':') : []);
  const h = parts(head);
  const t = parts(tail);
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

export async function startDnsServer(
  records: Record<string, string[]>,
  silent: ReadonlySet<string> = new Set(),
): Promise<DnsServer> {
  const queries: string[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    // Question: labels from byte 12, then type and class.
    const labels: string[] = [];
    let at = 12;
    while (msg[at]! > 0) {
      labels.push(msg.subarray(at + 1, at + 1 + msg[at]!).toString('latin1'));
      at += msg[at]! + 1;
    }
    const questionEnd = at + 5;
    const type = msg.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    queries.push(`${name}/${type === AAAA ? 'AAAA' : type === A ? 'A' : type}`);
    if (silent.has(name)) return;
    const known = records[name];
    const answers = (known ?? []).filter((a) => isIP(a) === (type === AAAA ? 6 : 4));
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // the id
    header.writeUInt16BE(known === undefined ? 0x8183 : 0x8180, 2); // response; NXDOMAIN or not
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((a) => {
      const data = type === AAAA ? ipv6Bytes(a) : Buffer.from(a.split('.').map(Number));
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(5, 6); // TTL
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    socket.send(Buffer.concat([header, msg.subarray(12, questionEnd), ...rrs]), from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}
