import { ApiClient, ApiError, type RealtimeClient } from '../api-client';
import type { History, ReplyRecord } from './history';
import { sleep } from './history';
import type { World } from './world';

const POLL_MS = 700;
const REPLY_TRIES = 3;

export interface AgentOptions {
  /** Chance that the agent closes a conversation right after answering it. */
  closeRate: number;
}

interface ConversationView {
  id: string;
  lastCustomerMessageAt: number | null;
  customer: { openid: string };
}

/**
 * An agent at the console: auto-accepts, answers every conversation that has a customer message
 * newer than its last answer (one reply, its text naming its clientId so the emulator's log can
 * be matched to it), sometimes closes it, and keeps a realtime socket that can vanish.
 */
export class ChaosAgent {
  private token = '';
  private socket: RealtimeClient | undefined;
  private lastSeq = 0;
  private stopped = false;
  private away = false;
  private wake: (() => void) | undefined;
  private readonly answered = new Map<string, number>();
  private serial = 0;

  constructor(
    private readonly world: World,
    private readonly history: History,
    readonly name: string,
    private readonly creds: { login: string; password: string },
    private readonly rng: () => number,
    private readonly clock: () => number,
    private readonly opts: AgentOptions,
  ) {}

  /** An API client on some live node (the load balancer's choice). */
  private client(): { api: ApiClient; node: string } {
    const urls = this.world.liveUrls();
    const url = urls[Math.floor(this.rng() * urls.length)] ?? 'http://127.0.0.1:9';
    return { api: new ApiClient(url, this.token), node: url };
  }

  /** Signs in, goes online with auto-accept, opens the socket. Retried across faults. */
  async begin(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        const { api } = this.client();
        const signed = await ApiClient.login(api.base, this.creds.login, this.creds.password);
        this.token = signed.token;
        await signed.put('/api/me/settings', { autoAccept: true });
        await signed.put('/api/me/status', { status: 'online' });
        break;
      } catch (err) {
        if (i >= 20) throw err;
        await sleep(500);
      }
    }
    void this.keepSocket();
  }

  /** Keeps one realtime socket open (resuming from the last event) unless vanished. */
  private async keepSocket(): Promise<void> {
    while (!this.stopped) {
      if (this.away || this.socket) {
        await sleep(200);
        continue;
      }
      try {
        const rt = await this.client().api.socket(this.lastSeq || undefined);
        this.history.sockets.opened += 1;
        if (rt.frames.some((f) => f.type === 'resync')) this.history.sockets.resync += 1;
        else if (this.lastSeq) this.history.sockets.resumed += 1;
        rt.ws.on('message', () => {
          this.lastSeq = Math.max(this.lastSeq, rt.lastSeq);
          this.wake?.();
        });
        rt.ws.on('close', () => {
          if (this.socket === rt) this.socket = undefined;
        });
        rt.ws.on('error', () => undefined);
        this.lastSeq = Math.max(this.lastSeq, rt.lastSeq);
        if (rt.ws.readyState === rt.ws.OPEN) this.socket = rt;
      } catch {
        await sleep(500);
      }
    }
  }

  /** The client vanishes without a close frame (network gone) and comes back after `ms`. */
  async vanish(ms: number): Promise<void> {
    this.away = true;
    this.socket?.ws.terminate();
    this.socket = undefined;
    await sleep(ms);
    this.away = false;
  }

  /** Answers conversations until `stop`. */
  async work(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.round();
      } catch {
        // A node died under the request or a dependency is down: try again next round.
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.socket?.ws.terminate();
  }

  private async round(): Promise<void> {
    const { api } = this.client();
    const { items } = await api.get<{ items: ConversationView[] }>(
      '/api/conversations?mine=1&state=active&limit=200',
    );
    for (const conv of items) {
      const last = conv.lastCustomerMessageAt ?? 0;
      if (this.stopped || last <= (this.answered.get(conv.id) ?? 0)) continue;
      this.answered.set(conv.id, last);
      const rec = await this.reply(conv);
      if (rec.outcome === 'accepted' && this.rng() < this.opts.closeRate) await this.close(conv.id);
    }
  }

  /** Posts one reply; an unknown outcome is retried with the same clientId (idempotent). */
  private async reply(conv: ConversationView): Promise<ReplyRecord> {
    this.serial += 1;
    const clientId = `${this.name}-${this.serial}`;
    const rec: ReplyRecord = {
      clientId,
      agent: this.name,
      conversationId: conv.id,
      openid: conv.customer.openid,
      text: `答 ${clientId}`,
      at: this.clock(),
      outcome: 'unknown',
      tries: [],
    };
    this.history.replies.push(rec);
    for (let i = 0; i < REPLY_TRIES; i++) {
      const { api, node } = this.client();
      const at = this.clock();
      try {
        const msg = await api.post<{ id: string }>(`/api/conversations/${conv.id}/messages`, {
          clientId,
          kind: 'text',
          text: rec.text,
        });
        rec.tries.push({ node, at, status: 201 });
        rec.outcome = 'accepted';
        rec.messageId = msg.id;
        return rec;
      } catch (err) {
        if (err instanceof ApiError && err.status < 500) {
          rec.tries.push({ node, at, status: err.status, code: err.body.code });
          rec.outcome = 'refused';
          return rec;
        }
        const status = err instanceof ApiError ? err.status : 0;
        rec.tries.push({ node, at, status, error: String(err).slice(0, 120) });
        await sleep(500);
      }
    }
    return rec;
  }

  private async close(conversationId: string): Promise<void> {
    const at = this.clock();
    try {
      await this.client().api.post(`/api/conversations/${conversationId}/close`);
      this.history.closes.push({ at, agent: this.name, conversationId, ok: true });
    } catch {
      this.history.closes.push({ at, agent: this.name, conversationId, ok: false });
    }
  }
}
