import type { ChannelRecord } from './types';

/**
 * Live channels with their secrets already opened, for the push path (loading a channel and
 * AES-GCM-opening its secrets on every push was 3–5 % of the CPU). An entry is dropped when the
 * channel changes on this node (`invalidate`) and, as a bound for changes made on another node,
 * after `ttlMs`. Unknown ids are not cached: they always ask the database.
 */
export class ChannelCache {
  readonly #entries = new Map<string, { at: number; record: Promise<ChannelRecord> }>();
  readonly #load: (id: string) => Promise<ChannelRecord>;
  readonly #ttlMs: number;

  constructor(load: (id: string) => Promise<ChannelRecord>, ttlMs = 10_000) {
    this.#load = load;
    this.#ttlMs = ttlMs;
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

  /** Forgets a channel after it was edited, rotated or deleted. */
  invalidate(id: string): void {
    this.#entries.delete(id);
  }
}
