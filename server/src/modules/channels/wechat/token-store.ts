/** Where access tokens are cached between calls; one entry per AppID. */

export interface StoredToken {
  token: string;
  /** ms epoch at which WeChat stops accepting the token. */
  expiresAt: number;
}

/** A token cache shared by every client of one AppID (memory here; Redis for a cluster). */
export interface TokenStore {
  get(appId: string): Promise<StoredToken | null>;
  set(appId: string, value: StoredToken): Promise<void>;
  /**
   * Runs a token refresh while holding a lock shared by every node (cluster stores only), so
   * nodes do not overwrite each other's tokens with concurrent refreshes.
   */
  lock?(appId: string, fn: () => Promise<StoredToken>): Promise<StoredToken>;
}

/** The default store: a Map in this process. */
export class MemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, StoredToken>();

  async get(appId: string): Promise<StoredToken | null> {
    return this.tokens.get(appId) ?? null;
  }

  async set(appId: string, value: StoredToken): Promise<void> {
    this.tokens.set(appId, value);
  }
}
