/** What an agent can send, and its custom/send body (protocol §3.2). */

export type OutboundPayload =
  | { type: 'text'; text: string }
  | { type: 'image'; mediaId: string }
  | {
      type: 'miniprogrampage';
      title: string;
      pagePath: string;
      thumbMediaId: string;
      appId?: string;
    }
  | { type: 'link'; title: string; description: string; url: string; thumbUrl: string };

/** The JSON body of POST /cgi-bin/message/custom/send for one message. */
export function sendBody(openid: string, msg: OutboundPayload): Record<string, unknown> {
  switch (msg.type) {
    case 'text':
      return { touser: openid, msgtype: 'text', text: { content: msg.text } };
    case 'image':
      return { touser: openid, msgtype: 'image', image: { media_id: msg.mediaId } };
    case 'miniprogrampage':
      return {
        touser: openid,
        msgtype: 'miniprogrampage',
        miniprogrampage: {
          title: msg.title,
          pagepath: msg.pagePath,
          thumb_media_id: msg.thumbMediaId,
          ...(msg.appId ? { appid: msg.appId } : {}),
        },
      };
    case 'link':
      return {
        touser: openid,
        msgtype: 'link',
        link: {
          title: msg.title,
          description: msg.description,
          url: msg.url,
          thumb_url: msg.thumbUrl,
        },
      };
  }
}
