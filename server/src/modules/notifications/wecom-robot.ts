import { createHash } from 'node:crypto';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { createPlatformFetch, OutboundRefused } from '../../lib/outbound';
import type { RouteOutcome } from './web-push';

/** WeCom's webhook path; nothing else on the robot host is ever called. */
const SEND_PATH = '/cgi-bin/webhook/send';
/** WeCom robot keys are UUIDs; anything outside this alphabet is not one. */
const KEY_RE = /^[A-Za-z0-9-]{8,100}$/;
/** WeCom's limit is 20 messages a minute per robot; past it the robot answers 45009. */
const ROBOT_LIMIT = { limit: 20, windowMs: 60_000 };

function refuse(reason: string): AppError {
  return new AppError('REMINDER_WEBHOOK_REFUSED', `The robot webhook is refused: ${reason}`, {
    field: 'webhook',
  });
}

/**
 * The robot key from what an agent pasted: the key itself, or the full webhook URL, which must be
 * the configured robot base (WeCom's host) with the send path and a `key` and nothing else, so a
 * stored webhook can never point Kefu at another host or path.
 */
export function parseWebhook(input: string, base: string): string {
  const raw = input.trim();
  if (KEY_RE.test(raw)) return raw;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('it is neither a webhook URL nor a robot key');
  }
  const b = new URL(base);
  if (url.origin !== b.origin) throw refuse(`only ${b.origin} is allowed, not ${url.origin}`);
  if (url.username || url.password) throw refuse('credentials in the URL are not allowed');
  const prefix = b.pathname.replace(/\/+$/, '');
  if (url.pathname !== `${prefix}${SEND_PATH}`) throw refuse(`the path must be ${SEND_PATH}`);
  const key = url.searchParams.get('key') ?? '';
  if ([...url.searchParams.keys()].some((k) => k !== 'key') || !KEY_RE.test(key))
    throw refuse('the URL must carry the robot key (key=…) and nothing else');
  return key;
}

/** A key shown back to its owner: enough to recognise it, not enough to use it. */
export function keyHint(key: string): string {
  return `…${key.slice(-4)}`;
}

/** Whom to @: a mainland mobile number goes to mentioned_mobile_list, anything else is a userid. */
function mentions(mention: string): Record<string, string[]> {
  if (!mention) return {};
  return /^1\d{10}$/.test(mention)
    ? { mentioned_mobile_list: [mention] }
    : { mentioned_list: [mention] };
}

/**
 * Posts one text message through the agent's group robot, @-ing them. Limited to WeCom's 20 a
 * minute per robot (shared across nodes through the rate limiter), so a busy shop gets a clear
 * "rate limited" instead of 45009s. Never throws: the outcome says what happened.
 */
export async function sendRobotText(
  ctx: AppContext,
  robot: { key: string; mention: string },
  content: string,
): Promise<RouteOutcome> {
  const base = ctx.config.wecomRobotBase.replace(/\/+$/, '');
  const bucket = createHash('sha256').update(robot.key).digest('hex').slice(0, 24);
  const hit = await ctx.rateLimiter.hit(
    [{ key: `wecom-robot:${bucket}`, ...ROBOT_LIMIT }],
    ctx.now(),
  );
  if (!hit.allowed)
    return { ok: false, detail: 'rate limited: WeCom allows a robot 20 messages a minute' };
  // The robot base is operator configuration, like the WeChat API base: the one outbound client
  // reaches only URLs under it and follows no redirect.
  const send = createPlatformFetch({ allowedBases: [base], timeoutMs: 5000 });
  const url = `${base}${SEND_PATH}?key=${encodeURIComponent(robot.key)}`;
  try {
    const res = await send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ msgtype: 'text', text: { content, ...mentions(robot.mention) } }),
    });
    const text = await res.text();
    if (!res.ok) return { ok: false, detail: `WeCom answered HTTP ${res.status}` };
    let body: { errcode?: number; errmsg?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return { ok: false, detail: 'WeCom answered something that is not JSON' };
    }
    if (body.errcode === 0) return { ok: true, detail: 'sent' };
    const why =
      body.errcode === 93000
        ? 'the webhook is invalid (the robot was removed, or the key is wrong)'
        : body.errcode === 45009
          ? 'WeCom rate limit (20 messages a minute per robot)'
          : (body.errmsg ?? 'unknown error');
    return { ok: false, detail: `WeCom errcode ${String(body.errcode)}: ${why}` };
  } catch (err) {
    const detail =
      err instanceof OutboundRefused
        ? err.message
        : err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
          ? 'WeCom did not answer within 5 s'
          : `cannot reach WeCom: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, detail };
  }
}
