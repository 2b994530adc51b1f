// Helpers for the attack suites: a guest module that runs named attempts and reports each as
// "BLOCKED: …" or "OK: …", and a runner that loads it, invokes it once and unloads it.

import assert from 'node:assert/strict';
import type { FunctionVersion, Runtime } from '../../src/runtime/index.js';
import { get, text } from './helpers.js';

/** Runs each attempt in the guest; the handler answers {name: "BLOCKED: …" | "OK: …"}. */
export function probes(attempts: Record<string, string>, prelude = ''): string {
  const fns = Object.entries(attempts)
    .map(
      ([name, code], i) =>
        `def _a${i}():\n${code
          .trim()
          .split('\n')
          .map((l) => '    ' + l)
          .join('\n')}\nATTEMPTS[${JSON.stringify(name)}] = _a${i}\n`,
    )
    .join('\n');
  return `import json, sys, os
from spin_sdk import http
from spin_sdk.http import Request, Response
${prelude}
ATTEMPTS = {}
${fns}
class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        out = {}
        for name, fn in ATTEMPTS.items():
            try:
                out[name] = "OK: " + repr(fn())[:300]
            except BaseException as e:
                out[name] = "BLOCKED: " + type(e).__name__ + ": " + str(e)[:200]
        return Response(200, {"content-type": "application/json"}, json.dumps(out).encode())
`;
}

export async function runProbes(rt: Runtime, v: FunctionVersion): Promise<Record<string, string>> {
  await rt.load(v);
  const r = await rt.invoke(v.key, get());
  assert.equal(r.status, 200, `probe function failed: ${r.error?.message} ${r.lines.join('\n')}`);
  await rt.unload(v.key);
  return JSON.parse(text(r.body)) as Record<string, string>;
}

export function assertAllBlocked(out: Record<string, string>): void {
  for (const [name, outcome] of Object.entries(out))
    assert.match(outcome, /^BLOCKED/, `${name} was not blocked: ${outcome}`);
}
