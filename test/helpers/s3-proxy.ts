// An HTTP proxy in front of the local S3 (s3-server.ts) that counts the requests passing, and can
// answer writes as S3 answers a read-only credential (403 AccessDenied): how a benchmark counts
// the S3 requests a store makes, and how a test gives the platform a key that may not write.

import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3Proxy {
  url: string;
  /** Requests that passed so far. */
  count(): number;
  close(): Promise<void>;
}

const ACCESS_DENIED =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';

export async function startS3Proxy(target: string, opts: { refuseWrites?: boolean } = {}): Promise<S3Proxy> {
  const upstream = new URL(target);
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    if (opts.refuseWrites && (req.method === 'PUT' || req.method === 'POST' || req.method === 'DELETE')) {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(ACCESS_DENIED);
      return;
    }
    const fwd = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => n,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
