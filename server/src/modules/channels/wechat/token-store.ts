/**
 * Where access tokens are cached between calls. Entries are keyed by `tokenKeyOf` (a hash of the
 * API base, AppID and AppSecret), never by the AppID alone: anyone can type another account's
 * AppID into a channel, but only the holder of its secret may use its token.
 */
import { createHash } from 'node:crypto';

export interface StoredToken {
  token: string;
  /** ms epoch at which WeChat stops accepting the token. */
  expiresAt: number;
}

/**
 * The cache key of a channel's token: sha256 of base, AppID and AppSecret. Two channels of the
 * same real account with the same secret share one token, which is what WeChat wants (a fetch
 * invalidates the previous token); a wrong secret (another tenant typing our AppID) lands on a
 * key of its own and must fetch with that secret, which WeChat refuses.
 */
export function tokenKeyOf(baseUrl: string, appId: string, appSecret: string): string {
  return createHash('sha256')
    .update([baseUrl.replace(/\/+$/, ''), appId, appSecret].join('\0'))
    .digest('hex');
}

/** A token cache shared by every client of one credential key (memory here; Redis for a cluster). */
export interface TokenStore {
  get(key: string): Promise<StoredToken | null>;
  set(key: string, value: StoredToken): Promise<void>;
  /**
   * Runs a token refresh while holding a lock shared by every node (cluster stores only), so
   * nodes do not overwrite each other's tokens with concurrent refreshes.
   */
  lock?(key: string, fn: () => Promise<StoredToken>): Promise<StoredToken>;
  /** Forgets a token (a third-party authorization was withdrawn). */
  delete?(key: string): Promise<void>;
}

/** The default store: a Map in this process (each API client gets its own unless one is given). */
export class MemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, StoredToken>();

  async get(key: string): Promise<StoredToken | null> {
    return this.tokens.get(key) ?? null;
  }

  async set(key: string, value: StoredToken): Promise<void> {
    this.tokens.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.tokens.delete(key);
  }
}
