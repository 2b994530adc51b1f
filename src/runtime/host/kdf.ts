// hashlib.pbkdf2_hmac and hashlib.scrypt for guest code, computed by the sandbox's thread with
// Node's crypto. Pyodide has no OpenSSL (_hashlib), and CPython 3.12 dropped the pure-Python
// PBKDF2: password hashing code failed with AttributeError. A pure-Python PBKDF2 took 0.93 s for
// 100,000 SHA-256 iterations; this takes a few ms. Only bytes and numbers cross (over the bridge
// device); the work counts as the sandbox thread's own CPU. It cannot be interrupted, so a huge
// iteration count runs into the instance's kill after timeout + grace, like any stuck call.

import { pbkdf2Sync, scryptSync } from 'node:crypto';
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

/** A refusal is the guest's ValueError, with this message. */
export type KdfAnswer = { ok: true; key: Uint8Array } | { ok: false; message: string };

const fail = (message: string): KdfAnswer => ({ ok: false, message });
const int = (v: unknown): number | undefined => (Number.isSafeInteger(v) ? (v as number) : undefined);

/** `body` is the password followed by the salt; the header says where one ends. */
export function derive(h: Header, body: Uint8Array): KdfAnswer {
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
      if (128 * n * r > maxmem) {
        return fail(`scrypt would need ${128 * n * r} bytes, more than maxmem ${maxmem}`);
      }
      return { ok: true, key: scryptSync(password, salt, keyBytes, { N: n, r, p, maxmem }) };
    }
    return fail('unknown key derivation');
  } catch (e) {
    // Node's own checks (e.g. scrypt parameters it refuses): the guest's ValueError.
    return fail(e instanceof Error ? e.message : String(e));
  }
}
