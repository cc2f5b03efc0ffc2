import type { FastifyRequest } from 'fastify';

/**
 * Query parameters whose values never reach a log line. A push's signature triple is enough to
 * replay it (plaintext mode signs no body), `echostr` answers the URL check, and `openid` is a
 * customer's identity.
 */
const SECRET_PARAMS = new Set([
  'signature',
  'msg_signature',
  'timestamp',
  'nonce',
  'echostr',
  'openid',
  'token',
  'access_token',
]);

/** The URL with the values of secret query parameters replaced by `…`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of new Set(params.keys())) {
    if (SECRET_PARAMS.has(name.toLowerCase())) params.set(name, '…');
  }
  return `${url.slice(0, q)}?${decodeURIComponent(params.toString())}`;
}

/** Fastify's request serializer, minus secrets: what every request log line carries. */
export function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip };
}
