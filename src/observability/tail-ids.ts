// Live-tail event ids: what a tail sends as each entry's SSE `id:`, and reading one back from a
// reconnect's Last-Event-ID. The store numbers logs with one write sequence shared by every
// workspace, and that number sent bare told a tenant how many logs all the others wrote between
// two of its own (a review). An id is the number encrypted instead, bound to its function:
//
// - One AES-256 block holding the number (8 bytes) and 8 bytes of an HMAC of the function's
//   workspace/function ids. A block cipher is a keyed pseudo-random permutation, so ids look
//   random and two of them say nothing about the numbers between; the HMAC half is the check on
//   the way back: a tampered id, another function's, or one made under another key decrypts to a
//   block whose second half does not match (1 in 2^64), and the tail starts afresh. Deterministic
//   on purpose: the same entry keeps its id, and a nonce would only make ids longer.
// - 22 base64url characters: safe in a header and in an SSE line.
// - The keys are derived (HKDF) from the secrets key, which every installation has and keeps
//   across restarts (EUNHA_SECRETS_KEY, else {dataDir}/secrets.key): ids sent before a restart
//   still resume after it. A new secrets key only makes old ids start their tails afresh.

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';

const ID = /^[A-Za-z0-9_-]{22}$/;
const INFO = 'eunha live-tail event id v1';

/** The installation's key for tail ids; `forFunction` gives one function's ids. */
export class TailIdKey {
  private readonly cipher: KeyObject;
  private readonly binding: KeyObject;

  constructor(secretsKey: Buffer) {
    const keys = Buffer.from(hkdfSync('sha256', secretsKey, '', INFO, 64));
    this.cipher = createSecretKey(keys.subarray(0, 32));
    this.binding = createSecretKey(keys.subarray(32));
  }

  forFunction(workspaceId: string, functionId: string): TailIds {
    const tag = createHmac('sha256', this.binding)
      .update(JSON.stringify([workspaceId, functionId]), 'utf8')
      .digest()
      .subarray(0, 8);
    return new TailIds(this.cipher, tag);
  }
}

/** One function's tail ids. */
export class TailIds {
  constructor(
    private readonly key: KeyObject,
    private readonly tag: Buffer,
  ) {}

  /** The SSE id of the entry the store numbered `seq` (a positive safe integer). */
  id(seq: number): string {
    const block = Buffer.alloc(16);
    block.writeBigUInt64BE(BigInt(seq));
    this.tag.copy(block, 8);
    const cipher = createCipheriv('aes-256-ecb', this.key, null).setAutoPadding(false);
    return Buffer.concat([cipher.update(block), cipher.final()]).toString('base64url');
  }

  /**
   * The sequence number behind an id this function's tail sent, else undefined: anything else
   * (a bare number as tails sent before, another function's id, a tampered or mangled one) starts
   * the tail afresh, since EventSource resends the last id on every reconnect by itself and an
   * error would end the console's stream for good.
   */
  seqOf(id: string | string[] | undefined): number | undefined {
    if (typeof id !== 'string' || !ID.test(id)) return undefined;
    const sealed = Buffer.from(id, 'base64url');
    // The last character has 4 bits to spare: only the spelling this module writes is its id.
    if (sealed.toString('base64url') !== id) return undefined;
    const decipher = createDecipheriv('aes-256-ecb', this.key, null).setAutoPadding(false);
    const block = Buffer.concat([decipher.update(sealed), decipher.final()]);
    if (!timingSafeEqual(block.subarray(8), this.tag)) return undefined;
    const seq = block.readBigUInt64BE();
    return seq > 0n && seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : undefined;
  }
}
