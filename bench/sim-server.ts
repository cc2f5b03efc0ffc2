import { createSim, generateAppConfig, type AppConfig, type Sim } from '@kefu/wechat-sim';
import { serve } from './ipc';
import { wallNow } from './lib';

/*
 * The WeChat emulator in its own process. Besides the platform API it records, for the reply
 * bench (G5), the moment each successful custom/send put a text in a customer's inbox, keyed by
 * the text: a Kefu message delivered twice shows up as the same text recorded twice.
 */
let sim: Sim | undefined;
/** text → wall-clock arrival times (ms since the epoch), one per accepted custom/send. */
const sends = new Map<string, number[]>();

function recordSends(s: Sim): void {
  s.app.addHook('onSend', async (req, _reply, payload) => {
    if (!req.url.startsWith('/cgi-bin/message/custom/send')) return payload;
    // The handler has already put the message in the inbox when its answer is being sent.
    if (typeof payload !== 'string' || !payload.includes('"errcode":0')) return payload;
    const at = wallNow();
    try {
      const body = JSON.parse(String(req.body)) as { text?: { content?: string } };
      const text = body.text?.content;
      if (text) sends.set(text, [...(sends.get(text) ?? []), at]);
    } catch {
      // Not our bench's JSON: nothing to record.
    }
    return payload;
  });
}

serve({
  async listen() {
    sim = await createSim({ pushTimeoutMs: 5000 });
    recordSends(sim);
    return { url: await sim.listen(0) };
  },
  addApp(partial: Partial<AppConfig>): AppConfig {
    const cfg = generateAppConfig(partial);
    sim!.addApp(cfg);
    return cfg;
  },
  updateApp(a: { appId: string; partial: Partial<AppConfig> }) {
    return sim!.updateApp(a.appId, a.partial);
  },
  /** A customer writes: opens the reply window and pushes to the app's pushUrl, if any. */
  async sendText(a: { appId: string; openid: string; content: string }) {
    return sim!.sendText(a.appId, a.openid, a.content);
  },
  /** The recorded arrivals of the given texts (missing ones are absent). */
  sends(texts: string[]): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const t of texts) {
      const at = sends.get(t);
      if (at) out[t] = at;
    }
    return out;
  },
  async close() {
    await sim?.close();
  },
});
