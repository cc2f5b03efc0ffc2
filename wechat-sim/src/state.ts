import { FaultBox } from './faults';
import { MediaStore } from './media-store';
import { TokenStore } from './tokens';
import type { AppConfig, SendRecord, SimStats, TimelineItem, WindowState } from './types';

/** One customer (openid) of one app: reply window, typing and the chat in both directions. */
export interface Customer {
  appId: string;
  openid: string;
  nickname?: string;
  window?: WindowState;
  /** Last message in either direction (typing needs one within 30 s, §3.4). */
  lastExchangeAt?: number;
  typingUntil?: number;
  /** Handed to WeChat's own customer-service tool by a transfer_customer_service answer (§2). */
  withWechatTool?: { since: number; kfAccount?: string };
  timeline: TimelineItem[];
}

export type TimelineDraft = Omit<TimelineItem, 'seq' | 'at'>;

/** Everything the emulator knows; routes and customer actions share one instance. */
export class SimState {
  readonly apps = new Map<string, AppConfig>();
  readonly customers = new Map<string, Customer>();
  readonly tokens = new TokenStore();
  readonly media = new MediaStore();
  readonly faults = new FaultBox();
  readonly stats: SimStats = {
    token: 0,
    stable_token: 0,
    send: 0,
    upload: 0,
    media_get: 0,
    typing: 0,
    push: 0,
    handedBack: 0,
  };
  /** Every accepted custom/send call: how a test counts what reached customers. */
  readonly sends: SendRecord[] = [];
  private offsetMs = 0;
  /** Increasing over every timeline entry of the sim (kept across a restart, see persist.ts). */
  seq = 0;

  constructor(private readonly baseNow: () => number = Date.now) {}

  /** The sim clock: the injected clock plus every advanceTime. */
  now(): number {
    return this.baseNow() + this.offsetMs;
  }

  advance(ms: number): number {
    this.offsetMs += ms;
    return this.now();
  }

  requireApp(appId: string): AppConfig {
    const app = this.apps.get(appId);
    if (!app) throw new Error(`wechat-sim: unknown appId ${appId}`);
    return app;
  }

  /** The customer record, if any action (or a nickname) created it. */
  findCustomer(appId: string, openid: string): Customer | undefined {
    return this.customers.get(`${appId}\u0000${openid}`);
  }

  ensureCustomer(appId: string, openid: string): Customer {
    const key = `${appId}\u0000${openid}`;
    let c = this.customers.get(key);
    if (!c) {
      c = { appId, openid, timeline: [] };
      this.customers.set(key, c);
    }
    return c;
  }

  /** Logs an accepted custom/send call. */
  recordSend(draft: Omit<SendRecord, 'seq' | 'at'>): SendRecord {
    const rec: SendRecord = { ...draft, seq: this.sends.length + 1, at: this.now() };
    this.sends.push(rec);
    return rec;
  }

  /** Appends to the customer's timeline with a sim-wide increasing seq and the sim time. */
  record(customer: Customer, draft: TimelineDraft): TimelineItem {
    this.seq += 1;
    const item: TimelineItem = { ...draft, seq: this.seq, at: this.now() };
    customer.timeline.push(item);
    return item;
  }
}
