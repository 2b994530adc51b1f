// The CPU time of the calling thread, for a sandbox running as a worker thread. Node 20 has no
// per-thread CPU clock (process.threadCpuUsage arrives in Node 23), process.cpuUsage() counts every
// thread of the process, and the jail has no /proc. WASI does have one: clock_time_get with
// clock 3 (thread CPU time), which Node's WASI (uvwasi) answers with the calling thread's own
// clock. So a 17-byte WebAssembly function asks WASI and hands the answer back; ~0.5 µs a call.

import { WASI } from 'node:wasi';

/** Length-prefixed name, as the WebAssembly binary format writes names. */
const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];

/**
 * (module
 *   (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
 *   (memory (export "memory") 1)
 *   (func (export "cpu") (result i64)
 *     (drop (call 0 (i32.const 3) (i64.const 1000) (i32.const 0)))
 *     (i64.load (i32.const 0))))
 */
const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  // types: (i32 i64 i32) -> i32, () -> i64
  ...[0x01, 0x0c, 0x02, 0x60, 0x03, 0x7f, 0x7e, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7e],
  ...[0x02, 0x29, 0x01, ...name('wasi_snapshot_preview1'), ...name('clock_time_get'), 0x00, 0x00],
  ...[0x03, 0x02, 0x01, 0x01],
  ...[0x05, 0x03, 0x01, 0x00, 0x01],
  ...[0x07, 0x10, 0x02, ...name('memory'), 0x02, 0x00, ...name('cpu'), 0x00, 0x01],
  ...[0x0a, 0x13, 0x01, 0x11, 0x00, 0x41, 0x03, 0x42, 0xe8, 0x07, 0x41, 0x00, 0x10, 0x00, 0x1a],
  ...[0x41, 0x00, 0x29, 0x03, 0x00, 0x0b],
]);

// tsconfig's lib has no WebAssembly typings (no DOM lib); these are the members used here.
interface WA {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: { cpu: () => bigint } };
}

/** A clock of this thread's CPU time in milliseconds (user + system). Create it before the lockdown. */
export function threadCpuClock(): () => number {
  const { Module, Instance } = (globalThis as unknown as { WebAssembly: WA }).WebAssembly;
  const wasi = new WASI({ version: 'preview1', args: [], env: {} });
  const inst = new Instance(new Module(MODULE), wasi.getImportObject() as object);
  wasi.initialize(inst as unknown as object);
  const cpu = inst.exports.cpu;
  return () => Number(cpu()) / 1e6;
}
