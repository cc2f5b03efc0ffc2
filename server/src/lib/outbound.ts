/**
 * The one way Kefu makes outbound HTTP requests (house style: timeouts, allowed bases, no
 * redirects). Two kinds of destination:
 *
 * - platform APIs (WeChat or the emulator): only URLs under a configured base are reached;
 * - user-supplied URLs (Web Push endpoints): only `https:` on public addresses, checked on the
 *   address actually connected to, so DNS cannot be re-pointed between the check and the connect.
 *
 * Redirects are never followed: a 3xx from an allowed host could point anywhere.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as dnsLookupAsync } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from './public-address';

/** Why an outbound request was not made (or its answer not used). */
export class OutboundRefused extends Error {
  constructor(
    readonly kind: 'not-allowed' | 'redirect' | 'not-public',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OutboundRefused';
  }
}

/** The fetch shape the platform clients take (global fetch fits). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_PUBLIC_RESPONSE_BYTES = 64 * 1024;

function trimBase(base: string): string {
  return base.replace(/\/+$/, '');
}

/** True when `url` is `base` itself or below it (same origin, path under the base's path). */
export function isUnderBase(url: string, base: string): boolean {
  let u: URL;
  let b: URL;
  try {
    u = new URL(url);
    b = new URL(trimBase(base));
  } catch {
    return false;
  }
  if (u.origin !== b.origin || u.username || u.password) return false;
  const prefix = trimBase(b.pathname);
  return prefix === '' || u.pathname === prefix || u.pathname.startsWith(`${prefix}/`);
}

/** True when `base` is exactly one of `allowed` (trailing slashes ignored). */
export function isAllowedBase(base: string, allowed: readonly string[]): boolean {
  return allowed.map(trimBase).includes(trimBase(base));
}

/**
 * A fetch for platform APIs: refuses URLs outside `allowedBases`, never follows a redirect (a 3xx
 * throws OutboundRefused 'redirect' with the Location unvisited) and times out by default.
 */
export function createPlatformFetch(opts: {
  allowedBases: readonly string[];
  timeoutMs?: number;
}): FetchLike {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return async (url, init) => {
    if (!opts.allowedBases.some((b) => isUnderBase(url, b))) {
      throw new OutboundRefused(
        'not-allowed',
        `${new URL(url).origin} is not an allowed platform base (KEFU_ALLOWED_OUTBOUND)`,
      );
    }
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      signal: init.signal ?? AbortSignal.timeout(timeoutMs),
    });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw new OutboundRefused(
        'redirect',
        `the platform answered HTTP ${res.status} (a redirect); redirects are not followed`,
        res.status,
      );
    }
    return res;
  };
}

/** True when the URL's origin is one the operator listed (tests, a push relay inside the LAN). */
function isExplicitlyAllowed(url: URL, allowedBases: readonly string[]): boolean {
  return allowedBases.some((b) => {
    try {
      return new URL(b).origin === url.origin;
    } catch {
      return false;
    }
  });
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function refusedAddress(host: string, address: string): OutboundRefused {
  return new OutboundRefused(
    'not-public',
    `${host} resolves to ${address}, which is not a public address`,
  );
}

/** dns.lookup that fails unless every address of the host is public (checked before connect). */
const guardedLookup = ((
  hostname: string,
  options: { all?: boolean; family?: number },
  callback: (...args: unknown[]) => void,
) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err);
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad || addresses.length === 0) {
      return callback(refusedAddress(hostname, bad?.address ?? 'nothing'));
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    return callback(null, first.address, first.family);
  });
}) as unknown as LookupFunction;

/**
 * Checks a user-supplied URL before storing it: `https:` to a host whose every address is public,
 * unless its origin is explicitly allowed. Throws OutboundRefused with a readable reason.
 */
export async function assertPublicUrl(raw: string, allowedBases: readonly string[]): Promise<void> {
  const url = new URL(raw);
  if (isExplicitlyAllowed(url, allowedBases)) return;
  if (url.protocol !== 'https:') throw new OutboundRefused('not-public', 'only https: is allowed');
  if (url.username || url.password) {
    throw new OutboundRefused('not-public', 'credentials in the URL are not allowed');
  }
  const host = hostOf(url);
  if (isIP(host)) {
    if (!isPublicAddress(host)) throw refusedAddress(host, host);
    return;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await dnsLookupAsync(host, { all: true });
  } catch {
    throw new OutboundRefused('not-public', `${host} cannot be resolved`);
  }
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  if (bad || addresses.length === 0) throw refusedAddress(host, bad?.address ?? 'nothing');
}

/** What a public request answered; the body is read up to 64 KB. */
export interface PublicResponse {
  status: number;
  body: Buffer;
}

/**
 * One request to a user-supplied URL (see assertPublicUrl): the address connected to is the one
 * checked, IP literals are checked here since Node does not look them up, and a 3xx is returned
 * as it is (never followed).
 */
export async function publicRequest(
  raw: string,
  req: {
    method: string;
    headers: Record<string, string>;
    body?: Uint8Array | null;
    timeoutMs: number;
    allowedBases: readonly string[];
  },
): Promise<PublicResponse> {
  const url = new URL(raw);
  const explicit = isExplicitlyAllowed(url, req.allowedBases);
  if (!explicit) {
    if (url.protocol !== 'https:')
      throw new OutboundRefused('not-public', 'only https: is allowed');
    const host = hostOf(url);
    if (isIP(host) && !isPublicAddress(host)) throw refusedAddress(host, host);
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PublicResponse>((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: req.method,
        headers: req.headers,
        // A fresh connection each time: a pooled socket must never skip the address check.
        agent: false,
        signal: AbortSignal.timeout(req.timeoutMs),
        ...(explicit ? {} : { lookup: guardedLookup }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_PUBLIC_RESPONSE_BYTES) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(req.body ? Buffer.from(req.body) : undefined);
  });
}
