import * as hdr from 'hdr-histogram-js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Dialect } from '../server/src/db/index';

/** Which storage Kefu runs on (default sqlite; `KEFU_BENCH_DIALECT=postgres`). */
export const DIALECT = (process.env.KEFU_BENCH_DIALECT ?? 'sqlite') as Dialect;

/** Monotonic milliseconds within this process. */
export const now = (): number => performance.now();

/**
 * Milliseconds since the epoch at sub-millisecond resolution. Processes on one machine agree on
 * it (each one's timeOrigin is read from the same wall clock), so a stamp taken in the load
 * generator can be compared with an arrival seen by the emulator.
 */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** This process's `now()` origin on the wall clock: wall = performanceOrigin + now(). */
export const performanceOrigin = performance.timeOrigin;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An integer env variable, or the default. */
export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  return v && /^\d+$/.test(v) ? Number(v) : fallback;
}

/** The percentiles a benchmark prints, in milliseconds. */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Latencies in an HdrHistogram (microsecond units, 3 significant digits, pure JS build): exact
 * enough at the tail, and constant memory however many samples a round records.
 */
export class Latencies {
  private readonly h = hdr.build({
    useWebAssembly: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });

  record(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  summary(): Summary {
    const at = (p: number) => this.h.getValueAtPercentile(p) / 1000;
    return {
      count: this.h.totalCount,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max: this.h.maxValue / 1000,
    };
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A number with about three significant digits (1210, 36.2, 0.214). */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return a >= 100
    ? n.toFixed(0)
    : a >= 10
      ? n.toFixed(1)
      : a >= 1
        ? n.toFixed(2)
        : n.toPrecision(2);
}

/**
 * The one line a goal prints: `name: value (ratio R vs baseline B) goal G: pass|fail`.
 * `value` and `baseline` carry their units; `ratio` is Kefu's figure over the baseline's.
 */
export function goalLine(g: {
  name: string;
  value: string;
  ratio: number | null;
  baseline: string;
  goal: string;
  pass: boolean;
}): string {
  const ratio = g.ratio === null ? 'n/a' : fmt(g.ratio);
  return `${g.name}: ${g.value} (ratio ${ratio} vs baseline ${g.baseline}) goal ${g.goal}: ${g.pass ? 'pass' : 'fail'}`;
}

/** A detail line under a goal line (indented, so the goal lines stand out). */
export const detail = (text: string): void => console.log(`  ${text}`);

/** A 17-digit MsgId like WeChat's; `run` keeps MsgIds distinct between benchmark runs. */
export function msgIdOf(run: number, n: number): string {
  return String(40_000_000_000_000_000n + BigInt(run) * 100_000_000n + BigInt(n));
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** The 1-minute load average (Linux), printed with the figures it may have disturbed. */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}
