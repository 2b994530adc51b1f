// Who is calling: the admin, the holder of one workspace's key, or nobody. Read from
// `Authorization: Bearer <key>`; anything else in that header is refused, never ignored.

import { EunhaError } from '../core/errors.js';
import { type ApiKeyService, KEY_PREFIX, sameKey } from './api-keys.js';

export type Principal =
  | { kind: 'admin'; open: boolean }
  | { kind: 'workspace'; workspaceId: string; keyId: string }
  /** The holder of the metrics token (EUNHA_METRICS_TOKEN): GET /metrics and nothing else. */
  | { kind: 'scraper' }
  | { kind: 'anonymous' };

/** Every caller in open mode (no admin key, loopback only): no checks at all. */
export const OPEN: Principal = { kind: 'admin', open: true };

// Any visible ASCII, as the admin key may be (config.ts); one or more spaces after the scheme.
const BEARER = /^Bearer +([\x21-\x7e]{1,512})$/i;

export const unauthorized = (message = 'send Authorization: Bearer <key>'): EunhaError =>
  new EunhaError('UNAUTHORIZED', message, {}, { 'www-authenticate': 'Bearer realm="eunha"' });

export class Authenticator {
  constructor(
    private readonly adminKey: string | undefined,
    private readonly keys: ApiKeyService,
    private readonly metricsToken?: string,
  ) {}

  /** Open mode: no admin key configured, so nothing is enforced (start-up allows it on loopback only). */
  get open(): boolean {
    return this.adminKey === undefined;
  }

  /**
   * Whether an Authorization header carries an Eunha credential (the admin key or anything shaped
   * like an API key): the function ingress never hands one to function code, whatever its authType.
   */
  isPlatformCredential(header: string): boolean {
    // Anywhere in it, whatever the scheme (`Token <key>`, a bare key, a tab after `Bearer`): a
    // review got keys sent other than as `Bearer <key>` through to another tenant's function. A
    // function's own token that happens to hold `eunha_` is withheld too, which costs it nothing
    // worse than a missing header.
    return (
      header.includes(KEY_PREFIX) ||
      (this.adminKey !== undefined && header.includes(this.adminKey)) ||
      (this.metricsToken !== undefined && header.includes(this.metricsToken))
    );
  }

  /** The caller named by an Authorization header; throws UNAUTHORIZED for a malformed or unknown key. */
  async principal(header: string | string[] | undefined): Promise<Principal> {
    if (this.adminKey === undefined) return OPEN;
    if (header === undefined) return { kind: 'anonymous' };
    const m = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
    if (!m) throw unauthorized('malformed Authorization header; send Authorization: Bearer <key>');
    const token = m[1] ?? '';
    if (sameKey(token, this.adminKey)) return { kind: 'admin', open: false };
    if (this.metricsToken !== undefined && sameKey(token, this.metricsToken)) return { kind: 'scraper' };
    const key = await this.keys.authenticate(token);
    // The same answer for an unknown, revoked or mistyped key: nothing to tell them apart.
    if (!key) throw unauthorized('invalid or revoked key');
    return { kind: 'workspace', workspaceId: key.workspaceId, keyId: key.id };
  }
}
