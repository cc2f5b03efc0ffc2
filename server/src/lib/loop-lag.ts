/**
 * How late the event loop runs, sampled by a timer: when the process is saturated (or starved of
 * CPU), requests wait in the kernel before Kefu reads a byte of them, a queue nothing else can
 * see. A request read now has likely waited about this long already.
 */
export class LoopLag {
  readonly #timer: NodeJS.Timeout;
  /** Recent lateness samples (ms), newest last, about one second's worth. */
  readonly #samples: number[] = [];

  constructor(intervalMs = 100) {
    let last = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#samples.push(Math.max(0, now - last - intervalMs));
      if (this.#samples.length > Math.ceil(1000 / intervalMs)) this.#samples.shift();
      last = now;
    }, intervalMs);
    this.#timer.unref();
  }

  /** The worst lateness of the last second (ms). */
  recentMs(): number {
    return Math.max(0, ...this.#samples);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
