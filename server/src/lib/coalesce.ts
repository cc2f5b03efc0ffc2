/**
 * Runs an async job per key, never two at once for the same key; a request that arrives while
 * the job runs schedules exactly one more run after it (so no wake-up is lost).
 */
export class Coalescer {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();

  constructor(private readonly onError: (err: unknown) => void) {}

  run(key: string, job: () => Promise<unknown>): Promise<void> {
    const current = this.running.get(key);
    if (current) {
      this.again.add(key);
      return current;
    }
    const loop = async (): Promise<void> => {
      do {
        this.again.delete(key);
        try {
          await job();
        } catch (err) {
          this.onError(err);
        }
      } while (this.again.has(key));
      this.running.delete(key);
    };
    const p = loop();
    this.running.set(key, p);
    return p;
  }

  /** Resolves when every job scheduled so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }
}
