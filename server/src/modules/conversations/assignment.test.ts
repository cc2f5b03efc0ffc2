import { describe, expect, it } from 'vitest';
import { chooseAgent, type Candidate } from './assignment';

const c = (agentId: string, active: number, capacity = 3, lastAssignedAt = 0): Candidate => ({
  agentId,
  active,
  capacity,
  lastAssignedAt,
});

describe('chooseAgent', () => {
  it('prefers the previous agent when they have room', () => {
    expect(chooseAgent([c('a', 0), c('b', 2)], 'b')).toBe('b');
  });
  it('falls back to the least loaded when the previous agent is full or absent', () => {
    expect(chooseAgent([c('a', 1), c('b', 3, 3)], 'b')).toBe('a');
    expect(chooseAgent([c('a', 2), c('b', 1)], 'gone')).toBe('b');
  });
  it('breaks ties by who waited longest since their last assignment', () => {
    expect(chooseAgent([c('a', 1, 3, 500), c('b', 1, 3, 100)], null)).toBe('b');
  });
  it('returns null when everyone is full', () => {
    expect(chooseAgent([c('a', 3, 3), c('b', 5, 5)], null)).toBeNull();
    expect(chooseAgent([], null)).toBeNull();
  });
});
