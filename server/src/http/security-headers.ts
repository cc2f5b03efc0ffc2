import type { FastifyInstance } from 'fastify';

/**
 * The console's Content-Security-Policy. It needs no inline script (the Vite build emits only
 * module files) and talks only to its own origin: 'self' covers the same-origin ws:/wss: event
 * stream in current browsers. No 'unsafe-inline' for styles either: Vue and Element Plus set
 * styles through the CSSOM (`el.style`), which CSP does not govern, and a run through the desk,
 * menus and admin dialogs in Chromium reported no violation. Images: the API's media, plus
 * data: and blob: (upload previews). No framing, no plugins, no <base>, forms post only here.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "worker-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

/** The headers every response carries. */
export const SECURITY_HEADERS: Record<string, string> = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/**
 * Adds the security headers to every response (console, assets, API, errors). A route that
 * sets a stricter policy of its own (media) keeps it: only missing headers are filled in.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('content-security-policy'))
      void reply.header('content-security-policy', CONSOLE_CSP);
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      if (!reply.hasHeader(name)) void reply.header(name, value);
    return payload;
  });
}
