/**
 * Passive replies: what Kefu answers a push with when the answer is not `success`. The only one
 * Kefu sends is `transfer_customer_service` (protocol §2): the four fields, To/From swapped
 * from the push, in the channel's format; in safe mode inside the signed, encrypted envelope
 * of §1.5 (compatible mode takes the plain packet, as WeChat accepts either there).
 */
import type { ChannelRecord, InboundMessage } from '../types';
import { buildEncryptedReply } from './crypto';

function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** The transfer packet for `msg`, as the plaintext WeChat reads. */
export function transferPacket(
  channel: Pick<ChannelRecord, 'originalId' | 'format'>,
  msg: Pick<InboundMessage, 'openid'>,
  createTime: number,
): string {
  if (channel.format === 'json') {
    return JSON.stringify({
      ToUserName: msg.openid,
      FromUserName: channel.originalId,
      CreateTime: createTime,
      MsgType: 'transfer_customer_service',
    });
  }
  return (
    `<xml><ToUserName>${cdata(msg.openid)}</ToUserName>` +
    `<FromUserName>${cdata(channel.originalId)}</FromUserName>` +
    `<CreateTime>${createTime}</CreateTime>` +
    `<MsgType>${cdata('transfer_customer_service')}</MsgType></xml>`
  );
}

/** What the push is answered with to hand `msg`'s customer to WeChat's own tool. */
export function transferReply(
  channel: ChannelRecord,
  msg: Pick<InboundMessage, 'openid'>,
  opts: {
    nowSeconds: number;
    /** The push's nonce, echoed (the doc's advice); a fresh one when it had none. */
    nonce: string;
    /** Whose key seals the envelope (a third-party platform's own); the channel's by default. */
    verifier?: { appId: string; token: string; encodingAesKey: string | null } | undefined;
  },
): string {
  const packet = transferPacket(channel, msg, opts.nowSeconds);
  if (channel.mode !== 'safe') return packet;
  const key = opts.verifier ? opts.verifier.encodingAesKey : channel.secrets.encodingAesKey;
  if (!key) throw new Error(`channel ${channel.id} is in safe mode without an EncodingAESKey`);
  return buildEncryptedReply({
    token: opts.verifier?.token ?? channel.secrets.token,
    encodingAesKey: key,
    appId: opts.verifier?.appId ?? channel.appId,
    msg: packet,
    format: channel.format,
    nonce: opts.nonce,
    timestamp: opts.nowSeconds,
  });
}
