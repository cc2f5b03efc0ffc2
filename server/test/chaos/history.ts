/**
 * What a chaos run did, as the generator, the agents and the nemesis saw it. Times are ms since
 * the run started. The checker judges this against what the databases and the emulator hold.
 */

/** One HTTP try of one push (a try sent on two connections at once is two entries). */
export interface PushTry {
  node: string;
  at: number;
  ms: number;
  status: number;
  body?: string;
  error?: string;
  acked: boolean;
  /** Sent alongside another try of the same attempt (WeChat delivering one MsgId twice). */
  concurrent: boolean;
}

export interface PushRecord {
  openid: string;
  msgId: string;
  text: string;
  /** When the first try started. */
  startedAt: number;
  /** When the first `success` came back; undefined if no try was acknowledged. */
  ackedAt?: number;
  tries: PushTry[];
}

export interface ReplyTry {
  node: string;
  at: number;
  status: number;
  code?: string;
  error?: string;
}

/** An agent's reply as posted: accepted (201), refused (4xx with a code) or unknown. */
export interface ReplyRecord {
  clientId: string;
  agent: string;
  conversationId: string;
  openid: string;
  text: string;
  at: number;
  outcome: 'accepted' | 'refused' | 'unknown';
  messageId?: string;
  tries: ReplyTry[];
}

export type FaultKind =
  | 'kill'
  | 'restart'
  | 'reset'
  | 'sever'
  | 'delay'
  | 'drop'
  | 'blackhole'
  | 'heal'
  | 'vanish'
  | 'return'
  | 'crash';

export interface FaultRecord {
  at: number;
  kind: FaultKind;
  /** A node name, a proxy name (pg, redis, wechat) or an agent. */
  target: string;
  detail?: string;
}

export interface History {
  /** Epoch ms of time 0 (to place the emulator's send times on the run's clock). */
  startedAt: number;
  pushes: PushRecord[];
  replies: ReplyRecord[];
  faults: FaultRecord[];
  closes: { at: number; agent: string; conversationId: string; ok: boolean }[];
  /** Realtime sockets: how often each agent resumed or was told to resync. */
  sockets: { resumed: number; resync: number; opened: number };
}

/** An empty history and the clock it is stamped with; `restart` puts the clock at 0 again. */
export function newHistory(): { history: History; clock: () => number; restart: () => void } {
  const history: History = {
    startedAt: Date.now(),
    pushes: [],
    replies: [],
    faults: [],
    closes: [],
    sockets: { resumed: 0, resync: 0, opened: 0 },
  };
  return {
    history,
    clock: () => Date.now() - history.startedAt,
    restart: () => {
      history.startedAt = Date.now();
    },
  };
}

/** A small seeded PRNG (mulberry32), so a failing run can be repeated with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
