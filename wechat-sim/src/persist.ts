import type { Customer, SimState } from './state';

/**
 * The emulator's customers (their chats, reply windows and nicknames) as JSON, so a demo that is
 * restarted still knows them: WeChat would, and a reply to an old conversation must not fail
 * with 40003 only because the emulator forgot the openid. Image bytes are kept as base64.
 */
interface Snapshot {
  version: 1;
  seq: number;
  customers: Customer[];
}

function replacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    const data = (value as { data?: number[] }).data ?? [];
    return { $base64: Buffer.from(data).toString('base64') };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && '$base64' in value)
    return Buffer.from(String((value as { $base64: string }).$base64), 'base64');
  return value;
}

/** Serializes what a restart must keep. */
export function exportState(state: SimState): string {
  const snapshot: Snapshot = {
    version: 1,
    seq: state.seq,
    customers: [...state.customers.values()],
  };
  return JSON.stringify(snapshot, replacer);
}

/** Restores a snapshot from exportState; a file of another version or shape is ignored. */
export function importState(state: SimState, json: string): number {
  const snapshot = JSON.parse(json, reviver) as Partial<Snapshot>;
  if (snapshot.version !== 1 || !Array.isArray(snapshot.customers)) return 0;
  for (const c of snapshot.customers) state.customers.set(`${c.appId}\u0000${c.openid}`, c);
  state.seq = Math.max(state.seq, snapshot.seq ?? 0);
  return snapshot.customers.length;
}
