import {
  encryptMessage,
  generateAppConfig,
  randomNonce,
  sha1Signature,
  toXml,
  type AppConfig,
} from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import type { ApiClient } from './api-client';
import type { Stack } from './harness';

const rand = (n = 6) => randomBytes(n).toString('hex');

/** A push signed and sealed like WeChat's, with whatever key, token and sealed-for AppID. */
export function sealed(url: string, key: string, token: string, appId: string, inner: object) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomNonce();
  const encrypt = encryptMessage(key, appId, toXml(inner as Record<string, string>));
  const q = new URLSearchParams({
    signature: sha1Signature(token, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: sha1Signature(token, timestamp, nonce, encrypt),
  });
  return fetch(`${url}?${q.toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: toXml({ ToUserName: appId, Encrypt: encrypt }),
  });
}

export interface Component {
  componentAppId: string;
  componentSecret: string;
  token: string;
  encodingAesKey: string;
}

/** Fresh component credentials. */
export function newComponent(): Component {
  return {
    componentAppId: `wx${rand(8)}`,
    componentSecret: `secret${rand(8)}`,
    token: `ptok${rand(4)}`,
    encodingAesKey: generateAppConfig().encodingAesKey,
  };
}

/** A platform configured in Kefu (by the stack's owner) and in the emulator, with a ticket. */
export async function setUpPlatform(s: Stack, comp = newComponent()) {
  const p = await s.owner.post('/api/platforms', { ...comp, name: 'Agency', apiBase: s.sim.url });
  const eventUrl = `${s.url}/wechat/component/${p.id}`;
  s.sim.platform.configure({ ...comp, eventUrl, messageUrl: `${eventUrl}/$APPID$` });
  await s.sim.platform.pushTicket(comp.componentAppId);
  return { comp, platformId: p.id as string, eventUrl };
}

/**
 * A new shop authorizes through a link `client` made: the emulator plays the admin agreeing,
 * and the browser's return to the callback is a fetch. Returns the shop and its channel id.
 */
export async function authorizeShop(
  s: Stack,
  client: ApiClient,
  platformId: string,
  componentAppId: string,
): Promise<{ shop: AppConfig; channelId: string }> {
  const shop = generateAppConfig();
  s.sim.addApp(shop);
  const link = new URL((await client.post(`/api/platforms/${platformId}/link`)).url);
  const { authCode } = await s.sim.platform.authorize(componentAppId, {
    preAuthCode: link.searchParams.get('pre_auth_code') ?? '',
    authorizerAppId: shop.appId,
  });
  const back = new URL(link.searchParams.get('redirect_uri') ?? '');
  back.searchParams.set('auth_code', authCode);
  const res = await fetch(`${s.url}${back.pathname}${back.search}`, { redirect: 'manual' });
  if (res.status !== 303) throw new Error(`callback answered ${res.status}: ${await res.text()}`);
  const channelId = new URL(res.headers.get('location') ?? '', s.url).searchParams.get(
    'authorized',
  );
  return { shop, channelId: channelId ?? '' };
}
