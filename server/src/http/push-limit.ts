import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** What one control interval saw. */
export interface LoadSample {
  /** Event-loop utilization over the interval, 0…1. */
  busy: number;
  /** Expected wait of a push arriving now (ms): loop lateness plus the writer's queue. */
  waitMs: number;
  /** Pushes let in per second over the interval. */
  admittedPerS: number;
}

/** Pushes per second let in even when shedding: the writer always makes some progress. */
const MIN_RATE = 20;
/** A queue this long (ms) while the loop is saturated means demand is over capacity. */
const PRESSURE_MS = 250;
const CALM = 0.75;

/**
 * One step of the admission rate (pushes/s, Infinity = no limit), additive-increase /
 * multiplicative-decrease on what the process can see: a saturated loop with a queue
 * building is overload. Then every refusal must stay cheap, and some CPU must be left for
 * refusing: letting in all it could store would keep the loop saturated, its turns long, and
 * new connections (accepted once per turn) waiting in the kernel where no estimate sees them.
 * A saturated loop with a short queue (a closed-loop client at capacity) is not overload.
 */
export function nextRate(rate: number, s: LoadSample, busyMax: number): number {
  if (s.busy > busyMax && s.waitMs > PRESSURE_MS)
    return Math.max(MIN_RATE, Math.min(rate, s.admittedPerS) * 0.7);
  if (rate === Infinity) return rate;
  // Well below the limit and calm: no limit at all.
  if (s.busy < CALM && s.admittedPerS < rate / 2) return Infinity;
  if (s.busy < busyMax) return rate * 1.1 + MIN_RATE;
  return rate;
}

const INTERVAL_MS = 100;

/**
 * The admission rate, adjusted every 100 ms from the event loop's utilization, and a token
 * bucket holding a tenth of a second's worth. `busyMax` ≥ 1 turns it off.
 */
export class PushLimiter {
  #rate = Infinity;
  #tokens = 0;
  #refilledAt = performance.now();
  #admitted = 0;
  #sampledAt = performance.now();
  #elu: EventLoopUtilization = performance.eventLoopUtilization();
  readonly #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly busyMax: number,
    private readonly waitMs: () => number,
  ) {
    if (busyMax >= 1) return;
    this.#timer = setInterval(() => this.#sample(), INTERVAL_MS);
    this.#timer.unref();
  }

  /** The current limit (pushes/s), Infinity when none. */
  get rate(): number {
    return this.#rate;
  }

  /** Takes a slot for one push; false = refuse it. */
  take(): boolean {
    if (this.#rate === Infinity) {
      this.#admitted++;
      return true;
    }
    const now = performance.now();
    this.#tokens = Math.min(
      this.#rate / 10,
      this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    this.#admitted++;
    return true;
  }

  #sample(): void {
    const now = performance.now();
    const elu = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(elu, this.#elu).utilization;
    const admittedPerS = (this.#admitted / Math.max(1, now - this.#sampledAt)) * 1000;
    const before = this.#rate;
    this.#rate = nextRate(before, { busy, waitMs: this.waitMs(), admittedPerS }, this.busyMax);
    if (before === Infinity && this.#rate !== Infinity) {
      this.#tokens = this.#rate / 10;
      this.#refilledAt = now;
    }
    this.#elu = elu;
    this.#sampledAt = now;
    this.#admitted = 0;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
