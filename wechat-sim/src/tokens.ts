import { randomBytes } from 'node:crypto';

/** Lifetime of every access_token (§3.1). */
export const TOKEN_TTL_MS = 7200_000;
/** Overlap: a replaced classic token, or a stable token being renewed, works 5 more minutes. */
export const TOKEN_OVERLAP_MS = 300_000;

export interface TokenRecord {
  token: string;
  appId: string;
  expiresAt: number;
  /** Set when a newer classic token replaced this one. */
  graceUntil?: number;
  /** Set by expireTokens or a stable force_refresh: answers 40001 from then on. */
  revoked?: boolean;
}

export type TokenCheck =
  { ok: true; appId: string } | { ok: false; errcode: 40001 | 40014 | 42001 };

/** Issues and checks access tokens; classic and stable tokens are separate families (§3.1). */
export class TokenStore {
  private readonly byToken = new Map<string, TokenRecord>();
  private readonly latestClassic = new Map<string, TokenRecord>();
  private readonly latestStable = new Map<string, TokenRecord>();
  private serial = 0;

  /** GET /cgi-bin/token: always a new token; the previous one keeps 5 minutes of overlap. */
  issueClassic(appId: string, now: number): TokenRecord {
    const prev = this.latestClassic.get(appId);
    if (prev) prev.graceUntil = Math.min(prev.graceUntil ?? Infinity, now + TOKEN_OVERLAP_MS);
    const rec = this.create(appId, now);
    this.latestClassic.set(appId, rec);
    return rec;
  }

  /**
   * POST /cgi-bin/stable_token: the same token while it has more than 5 minutes left; a new
   * one (the old still valid to its end) in the last 5 minutes; force_refresh revokes the old.
   */
  stable(appId: string, now: number, forceRefresh: boolean): TokenRecord {
    const cur = this.latestStable.get(appId);
    if (cur && !cur.revoked) {
      if (forceRefresh) cur.revoked = true;
      else if (now < cur.expiresAt - TOKEN_OVERLAP_MS) return cur;
    }
    const rec = this.create(appId, now);
    this.latestStable.set(appId, rec);
    return rec;
  }

  /** 40014 for a string we never issued, 42001 past its 2 hours, 40001 replaced or revoked. */
  check(token: string, now: number): TokenCheck {
    const rec = this.byToken.get(token);
    if (!rec) return { ok: false, errcode: 40014 };
    if (rec.revoked) return { ok: false, errcode: 40001 };
    if (now >= rec.expiresAt) return { ok: false, errcode: 42001 };
    if (rec.graceUntil !== undefined && now >= rec.graceUntil) return { ok: false, errcode: 40001 };
    return { ok: true, appId: rec.appId };
  }

  /** Every token issued so far for the app answers 40001 from now on. */
  revokeAll(appId: string): void {
    for (const rec of this.byToken.values()) if (rec.appId === appId) rec.revoked = true;
  }

  /** An authorizer_access_token of a third-party platform: a family of its own, always new. */
  issueAuthorizer(appId: string, now: number): TokenRecord {
    return this.create(appId, now);
  }

  /** These tokens answer 40001 from now on (an authorization withdrawn, or a test). */
  revoke(tokens: Iterable<string>): void {
    for (const t of tokens) {
      const rec = this.byToken.get(t);
      if (rec) rec.revoked = true;
    }
  }

  private create(appId: string, now: number): TokenRecord {
    this.serial += 1;
    const token = `${this.serial}_${randomBytes(96).toString('base64url')}`;
    const rec: TokenRecord = { token, appId, expiresAt: now + TOKEN_TTL_MS };
    this.byToken.set(token, rec);
    return rec;
  }
}
