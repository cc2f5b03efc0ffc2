import { describe, expect, it } from 'vitest';
import { nextRate } from './push-limit';

describe('nextRate', () => {
  const busyMax = 0.9;
  it('leaves a saturated loop alone while the queue stays short (a client at capacity)', () => {
    expect(nextRate(Infinity, { busy: 1, waitMs: 40, admittedPerS: 900 }, busyMax)).toBe(Infinity);
  });
  it('cuts below what got in when the loop is saturated and pushes queue', () => {
    expect(nextRate(Infinity, { busy: 0.99, waitMs: 800, admittedPerS: 900 }, busyMax)).toBe(630);
    expect(nextRate(630, { busy: 0.95, waitMs: 400, admittedPerS: 600 }, busyMax)).toBe(420);
  });
  it('never shuts pushes out entirely', () => {
    expect(nextRate(25, { busy: 1, waitMs: 5000, admittedPerS: 1 }, busyMax)).toBe(20);
  });
  it('grows back when there is room, and lifts the limit once calm', () => {
    expect(nextRate(100, { busy: 0.8, waitMs: 10, admittedPerS: 100 }, busyMax)).toBe(130);
    expect(nextRate(500, { busy: 0.3, waitMs: 5, admittedPerS: 100 }, busyMax)).toBe(Infinity);
  });
});
