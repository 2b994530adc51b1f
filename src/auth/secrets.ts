// Secret environment variables at rest: AES-256-GCM (authenticated encryption) with a random
// 96-bit nonce per value. A sealed value is `v1.{keyId}.{nonce}.{ciphertext}.{tag}` (base64url),
// bound by the associated data to its workspace, function and name, so a sealed value copied into
// another function's record does not open there. The key id (the first bytes of the key's sha256)
// names the key that sealed it, so a wrong or rotated key is a clear error, never garbage. While a
// rotation is configured (EUNHA_SECRETS_KEY_PREVIOUS) the box opens what either key sealed, and
// seals with the current one only.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EunhaError } from '../core/errors.js';

export const MASK = '********';

/** `details.reason` of a secret sealed with another key: the server's key, fixed while it runs, must change. */
export const WRONG_KEY = 'secrets_key';
const VERSION = 'v1';

export const secretContext = (workspaceId: string, functionId: string, name: string): string =>
  `${workspaceId}/${functionId}/${name}`;

export class SecretBox {
  readonly keyId: string;
  /** keyId → key: the current one, and while a rotation is configured the previous one, which only opens. */
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly key: Buffer,
    previous?: Buffer,
  ) {
    this.keyId = idOf(key);
    this.keys.set(this.keyId, key);
    if (previous) this.keys.set(idOf(previous), previous);
  }

  seal(plaintext: string, context: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [nonce, ct, cipher.getAuthTag()].map((b) => b.toString('base64url'));
    return [VERSION, this.keyId, ...parts].join('.');
  }

  /**
   * Whether `sealed` names the current key, without opening it. What the previous key sealed
   * opens too, but must not be kept as it is by a write: the rotation is to retire that key.
   */
  sealedWithCurrentKey(sealed: string): boolean {
    const [version, keyId] = sealed.split('.');
    return version === VERSION && keyId === this.keyId;
  }

  open(sealed: string, context: string): string {
    const [version, keyId, nonce, ct, tag, ...rest] = sealed.split('.');
    if (version !== VERSION || !keyId || nonce === undefined || ct === undefined || !tag || rest.length) {
      throw fail('a stored secret is not in a known format');
    }
    const key = this.keys.get(keyId);
    if (!key) {
      // The operator's to fix, not a bug: the function's owner can also set its secrets again.
      throw new EunhaError(
        'DEPENDENCY_UNAVAILABLE',
        `a secret variable of this function was sealed with key ${keyId}, but the server's key is ${this.keyId}: ` +
          'the operator must restore that key (EUNHA_SECRETS_KEY or secrets.key), or the secrets be set again',
        { reason: WRONG_KEY },
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw fail('a stored secret failed its integrity check (tampered, or sealed for another function)');
    }
  }

  sealAll(values: Record<string, string>, ws: string, fn: string): Record<string, string> {
    return Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, this.seal(v, secretContext(ws, fn, k))]),
    );
  }

  openAll(sealed: Record<string, string> | undefined, ws: string, fn: string): Record<string, string> {
    return Object.fromEntries(
      Object.entries(sealed ?? {}).map(([k, v]) => [k, this.open(v, secretContext(ws, fn, k))]),
    );
  }
}

function idOf(key: Buffer): string {
  if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

const fail = (message: string): EunhaError => new EunhaError('INTERNAL_ERROR', message);

/** Names with every value replaced by the mask: what any answer shows after creation. */
export const masked = (sealed: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.keys(sealed ?? {}).map((k) => [k, MASK]));

/**
 * The byte length of each value a record of sealed values holds, without opening them: AES-GCM's
 * ciphertext is exactly as long as its plaintext.
 */
export function sealedValueBytes(sealed: Record<string, string>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(sealed).map(([k, v]) => [k, Buffer.byteLength(v.split('.')[3] ?? '', 'base64url')]),
  );
}
