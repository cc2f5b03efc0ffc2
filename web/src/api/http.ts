import type { ErrorBody, ErrorCode } from '@kefu/shared';

// The session lives only in the HttpOnly cookie, out of reach of any script on the page. What the
// console remembers is a flag that it signed in (not a secret): `/api/me` decides if it still is.
const SIGNED_IN_KEY = 'kefu.signedIn';
// Consoles before cookie-only sessions kept the bearer token here; it must not linger.
const LEGACY_TOKEN_KEY = 'kefu.token';

/** An API refusal ({code, message, details}) or a network failure (code NETWORK). */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | 'NETWORK' | 'UNKNOWN',
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let onUnauthorized: (() => void) | null = null;

/** Whether this browser signed in and has not signed out (the cookie may still have expired). */
export function wasSignedIn(): boolean {
  const legacy = localStorage.getItem(LEGACY_TOKEN_KEY) !== null;
  if (legacy) {
    // The cookie was set at the same sign-in, so the session carries on without the token.
    localStorage.removeItem(LEGACY_TOKEN_KEY);
    localStorage.setItem(SIGNED_IN_KEY, '1');
  }
  return localStorage.getItem(SIGNED_IN_KEY) === '1';
}

/** Remembers (or forgets) that this browser is signed in. */
export function rememberSignedIn(value: boolean): void {
  if (value) localStorage.setItem(SIGNED_IN_KEY, '1');
  else localStorage.removeItem(SIGNED_IN_KEY);
}

/** Called once when any request answers 401 AUTH_REQUIRED (the session is gone). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  body?: unknown;
  /** Send bytes as they are (media upload) instead of JSON. */
  raw?: Blob;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
}

function buildUrl(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * One fetch wrapper for the whole console: the session cookie, JSON in and out, typed errors.
 * Every request says it comes from the console (`X-Kefu-Client`): the server refuses cookie
 * state changes without it, which a page on another origin cannot add without permission.
 */
export async function request<T>(
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'X-Kefu-Client': 'console',
  };
  let body: BodyInit | undefined;
  if (opts.raw) {
    body = opts.raw;
    headers['Content-Type'] = opts.raw.type || 'application/octet-stream';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(buildUrl(path, opts.query), {
      method,
      headers,
      body,
      signal: opts.signal,
      credentials: 'same-origin',
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError('NETWORK', 0, err instanceof Error ? err.message : String(err));
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const err = (data ?? {}) as Partial<ErrorBody>;
    const code = err.code ?? (res.status === 401 ? 'AUTH_REQUIRED' : 'UNKNOWN');
    if (res.status === 401 && code === 'AUTH_REQUIRED' && onUnauthorized) onUnauthorized();
    throw new ApiError(code, res.status, err.message ?? res.statusText, err.details ?? {});
  }
  return data as T;
}
