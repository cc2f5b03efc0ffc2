import type { ChannelRecord } from './types';

/**
 * Live channels with their secrets already opened, for the push path (loading a channel and
 * AES-GCM-opening its secrets on every push was 3–5 % of the CPU). An entry is dropped when the
 * channel changes (`invalidate`), here and, through the event bus, on every other node
 * (`forget`); as a bound for a notice lost while Redis was down, after `ttlMs`. Unknown ids are
 * not cached: they always ask the database.
 */
export class ChannelCache {
  readonly #entries = new Map<string, { at: number; record: Promise<ChannelRecord> }>();
  readonly #load: (id: string) => Promise<ChannelRecord>;
  readonly #ttlMs: number;
  #announce: (id: string) => void = () => undefined;

  constructor(load: (id: string) => Promise<ChannelRecord>, ttlMs = 10_000) {
    this.#load = load;
    this.#ttlMs = ttlMs;
  }

  /** How an invalidation reaches the other nodes (the event bus). */
  announceWith(fn: (id: string) => void): void {
    this.#announce = fn;
  }

  /** The live channel, or CHANNEL_NOT_FOUND; concurrent misses share one load. */
  get(id: string): Promise<ChannelRecord> {
    const hit = this.#entries.get(id);
    if (hit && performance.now() - hit.at < this.#ttlMs) return hit.record;
    const record = this.#load(id);
    this.#entries.set(id, { at: performance.now(), record });
    record.catch(() => {
      if (this.#entries.get(id)?.record === record) this.#entries.delete(id);
    });
    return record;
  }

  /** Forgets a channel after it was edited, rotated or deleted, here and on every node. */
  invalidate(id: string): void {
    this.#entries.delete(id);
    this.#announce(id);
  }

  /** Forgets a channel on this node only (another node changed it). */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  /** Whether an entry for `id` is held, expired or not (tests). */
  holds(id: string): boolean {
    return this.#entries.has(id);
  }
}
