import webpush from 'web-push';
import type { AppContext } from '../../context';
import type { Config } from '../../config';
import { publicRequest } from '../../lib/outbound';

interface Vapid {
  publicKey: string;
  privateKey: string;
}

const VAPID_KEY = 'vapid';

/** The VAPID key pair, generated on first start and kept in the database (shared by all nodes). */
export async function vapidKeys(ctx: AppContext): Promise<Vapid> {
  const row = await ctx.db
    .selectFrom('kv')
    .select('value')
    .where('key', '=', VAPID_KEY)
    .executeTakeFirst();
  if (row) return JSON.parse(row.value) as Vapid;
  const keys = webpush.generateVAPIDKeys();
  await ctx.db
    .insertInto('kv')
    .values({ key: VAPID_KEY, value: JSON.stringify(keys) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const stored = await ctx.db
    .selectFrom('kv')
    .select('value')
    .where('key', '=', VAPID_KEY)
    .executeTakeFirstOrThrow();
  return JSON.parse(stored.value) as Vapid;
}

/**
 * The VAPID contact. web-push accepts only `mailto:` or `https:`, so an `http://` public URL (a
 * LAN install, a test) must not be used as is, or every push fails before it is sent: an https
 * public URL is the contact, otherwise a mailto: at the public URL's host. Apple refuses
 * localhost contacts, hence the fallback domain.
 */
export function vapidSubject(config: Pick<Config, 'vapidSubject' | 'publicUrl'>): string {
  if (config.vapidSubject) return config.vapidSubject;
  if (!config.publicUrl) return 'mailto:kefu@kefu.invalid';
  const url = new URL(config.publicUrl);
  if (url.protocol === 'https:' && url.hostname !== 'localhost') return url.origin;
  const host = url.hostname.includes('.') ? url.hostname.replace(/^\[|\]$/g, '') : 'kefu.invalid';
  return `mailto:kefu@${host}`;
}

/** What one route did with one reminder: `ok` with nothing to report, or a sentence why not. */
export interface RouteOutcome {
  ok: boolean;
  detail: string;
}

export interface PushPayload {
  title: string;
  body: string;
  conversationId: string;
}

/**
 * Sends one Web Push to every browser the agent registered. Subscriptions the push service says
 * are gone (404/410) are forgotten. `ok` when at least one push service accepted it.
 */
export async function sendWebPush(
  ctx: AppContext,
  agentId: string,
  payload: PushPayload,
): Promise<RouteOutcome> {
  const subs = await ctx.db
    .selectFrom('pushSubscriptions')
    .selectAll()
    .where('agentId', '=', agentId)
    .orderBy('createdAt')
    .execute();
  if (subs.length === 0) return { ok: false, detail: 'no browser is registered for Web Push' };
  const vapid = await vapidKeys(ctx);
  const subject = vapidSubject(ctx.config);
  let delivered = 0;
  let lastError = '';
  for (const sub of subs) {
    try {
      // web-push builds the encrypted request; lib/outbound sends it: https to public addresses
      // only (an agent chooses the endpoint), no redirects, a timeout.
      const req = webpush.generateRequestDetails(
        { endpoint: sub.endpoint, keys: JSON.parse(sub.keys) as { p256dh: string; auth: string } },
        JSON.stringify(payload),
        { vapidDetails: { subject, ...vapid }, TTL: 600 },
      );
      const res = await publicRequest(req.endpoint, {
        method: req.method,
        headers: req.headers,
        body: req.body ? new Uint8Array(req.body) : null,
        timeoutMs: 5000,
        allowedBases: ctx.config.allowedOutboundBases,
      });
      if (res.status >= 200 && res.status < 300) {
        delivered++;
        continue;
      }
      // 404/410: the browser dropped the subscription; forget it.
      if (res.status === 404 || res.status === 410)
        await ctx.db.deleteFrom('pushSubscriptions').where('id', '=', sub.id).execute();
      lastError = `the push service answered HTTP ${res.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    ctx.log.warn({ agentId, reason: lastError }, 'web push failed');
  }
  return delivered > 0
    ? { ok: true, detail: `delivered to ${delivered} of ${subs.length} browsers` }
    : { ok: false, detail: lastError };
}
