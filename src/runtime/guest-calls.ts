// What answers one sandbox's calls to the parent (the RELAYED frames): key-value calls through
// the KeyValuePort (kv-bridge.ts), outbound HTTP through OutboundHttp, refused as `disabled` where
// the runtime has none. An HTTP call gets the time its request has left and ends with the sandbox.

import type { KeyValuePort } from '../core/kv.js';
import { kvHandlerFor } from './kv-bridge.js';
import type { OutboundHttp } from './outbound-http.js';
import type { CallHandler, Sandbox } from './sandbox.js';
import type { FunctionVersion } from './types.js';

export function guestCalls(
  sandbox: Sandbox,
  version: FunctionVersion,
  kv: KeyValuePort,
  outbound: OutboundHttp | undefined,
  remainingMs: () => number,
): CallHandler {
  const kvCall = kvHandlerFor(kv, version.functionId);
  const ended = new AbortController();
  void sandbox.exited.then(() => ended.abort());
  const http = outbound?.handlerFor(
    version.functionId,
    version.outboundHosts ?? [],
    remainingMs,
    ended.signal,
  );
  return (header, body) =>
    header.t !== 'http'
      ? kvCall(header, body)
      : http
        ? http(header, body)
        : Promise.resolve({
            header: {
              t: 'reply',
              ok: false,
              error: 'disabled',
              message: 'outbound HTTP is not available here',
            },
          });
}
