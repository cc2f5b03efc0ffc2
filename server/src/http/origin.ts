import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config';

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * Whether a request may act with the session cookie: it must come from Kefu's own origin (the
 * Host it was sent to, or KEFU_PUBLIC_URL), never from another page, even one on the same site
 * (SameSite=Lax lets a sibling subdomain's form POST carry the cookie). Browsers send `Origin`
 * on every state-changing request and on WebSocket upgrades; when it is missing, Fetch
 * Metadata (`Sec-Fetch-Site`) decides, and a client that sends neither is not a browser, so it
 * cannot be the confused deputy CSRF needs.
 */
export function fromOwnOrigin(
  headers: IncomingHttpHeaders,
  config: Pick<Config, 'publicUrl'>,
): boolean {
  const origin = headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    const from = origin === 'null' ? null : hostOf(origin);
    if (!from) return false;
    const own = [headers.host?.toLowerCase(), config.publicUrl ? hostOf(config.publicUrl) : null];
    return own.includes(from);
  }
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' || site === 'none';
  return true;
}
