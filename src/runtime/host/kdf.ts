// hashlib.pbkdf2_hmac and hashlib.scrypt for guest code, computed by the sandbox's thread with
// Node's crypto. Pyodide has no OpenSSL (_hashlib), and CPython 3.12 dropped the pure-Python
// PBKDF2: password hashing code failed with AttributeError. A pure-Python PBKDF2 took 0.93 s for
// 100,000 SHA-256 iterations; this takes a few ms. Only bytes and numbers cross (over the bridge
// device); the work counts as the sandbox thread's own CPU.
//
// Native code cannot be interrupted, and a thread inside it ignores terminate() until it returns:
// a derivation of 2^31 iterations ran on for the life of its process after its request had timed
// out. So the work is priced first (its cost is linear in iterations × blocks, or N·r·p, at a
// per-unit time measured once on this thread), and a derivation that would not end before the
// request's deadline does not start: the caller waits out the deadline instead, as if it had run.

import { createHash, pbkdf2Sync, scryptSync } from 'node:crypto';
import type { Header } from '../protocol.js';

/** Python's names → Node's. */
const DIGESTS: Record<string, string> = {
  md5: 'md5',
  sha1: 'sha1',
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  sha512_224: 'sha512-224',
  sha512_256: 'sha512-256',
  sha3_224: 'sha3-224',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
  sha3_512: 'sha3-512',
};

/** A derived key is held in the thread's own memory, outside the wasm heap's limit: bounded. */
const MAX_KEY_BYTES = 1024 * 1024;
/** scrypt's working memory (128·N·r bytes), also outside that limit. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

/** A refusal is the guest's ValueError, with this message; `late`: it would outlast the deadline. */
export type KdfAnswer =
  { ok: true; key: Uint8Array } | { ok: false; message: string } | { ok: false; late: true };

/** Only this share of the time left is spent: the price is an estimate on a shared machine. */
const BUDGET_SHARE = 0.7;
/** ms per unit of work, by kind, measured on this thread at first use. */
const unitMs = new Map<string, number>();

/** The price of `units` of `kind`, in ms; the first time, `calibrate` runs `calibrationUnits` of it. */
function priced(kind: string, units: number, calibrationUnits: number, calibrate: () => void): number {
  let ms = unitMs.get(kind);
  if (ms === undefined) {
    const t0 = performance.now();
    calibrate();
    ms = (performance.now() - t0) / calibrationUnits;
    unitMs.set(kind, ms);
  }
  return ms * units;
}

const fail = (message: string): KdfAnswer => ({ ok: false, message });
const int = (v: unknown): number | undefined => (Number.isSafeInteger(v) ? (v as number) : undefined);

/**
 * `body` is the password followed by the salt; the header says where one ends. `budgetMs` is the
 * time left before the request's deadline.
 */
export function derive(h: Header, body: Uint8Array, budgetMs: number): KdfAnswer {
  const passwordBytes = int(h.passwordBytes);
  const keyBytes = int(h.dklen);
  if (passwordBytes === undefined || passwordBytes < 0 || passwordBytes > body.length) {
    return fail('malformed key derivation request');
  }
  if (keyBytes === undefined || keyBytes < 1 || keyBytes > MAX_KEY_BYTES) {
    return fail(`key length must be 1..${MAX_KEY_BYTES}`);
  }
  const password = body.subarray(0, passwordBytes);
  const salt = body.subarray(passwordBytes);
  try {
    if (h.alg === 'pbkdf2') {
      const digest = DIGESTS[String(h.hash).toLowerCase()];
      if (!digest) return fail(`unsupported hash type ${String(h.hash).slice(0, 64)}`);
      const iterations = int(h.iterations);
      if (iterations === undefined || iterations < 1 || iterations > 0xffffffff) {
        return fail('iteration value must be greater than 0.');
      }
      const blocks = Math.ceil(keyBytes / createHash(digest).digest().length);
      const cost = priced(`pbkdf2:${digest}`, iterations * blocks, 20_000, () =>
        pbkdf2Sync('calibrate', 'salt', 20_000, 1, digest),
      );
      if (cost > budgetMs * BUDGET_SHARE) return { ok: false, late: true };
      return { ok: true, key: pbkdf2Sync(password, salt, iterations, keyBytes, digest) };
    }
    if (h.alg === 'scrypt') {
      const [n, r, p] = [int(h.n), int(h.r), int(h.p)];
      if (n === undefined || n < 2 || (n & (n - 1)) !== 0)
        return fail('n must be a power of 2 greater than 1.');
      if (r === undefined || r < 1 || p === undefined || p < 1)
        return fail('r and p must be positive integers.');
      const asked = int(h.maxmem) ?? 0;
      const maxmem = asked > 0 ? Math.min(asked, MAX_SCRYPT_MEMORY) : 32 * 1024 * 1024;
      // What OpenSSL allocates: V (128·r·(N+2)) and B (128·r·p).
      const needs = 128 * r * (n + 2) + 128 * r * p;
      if (needs > maxmem) return fail(`scrypt would need ${needs} bytes, more than maxmem ${maxmem}`);
      // N·r·p units: 1024 · 8 · 1 in the calibration.
      const cost = priced('scrypt', n * r * p, 1024 * 8, () =>
        scryptSync('calibrate', 'salt', 16, { N: 1024, r: 8, p: 1 }),
      );
      if (cost > budgetMs * BUDGET_SHARE) return { ok: false, late: true };
      return { ok: true, key: scryptSync(password, salt, keyBytes, { N: n, r, p, maxmem }) };
    }
    return fail('unknown key derivation');
  } catch (e) {
    // Node's own checks (e.g. scrypt parameters it refuses): the guest's ValueError.
    return fail(e instanceof Error ? e.message : String(e));
  }
}
