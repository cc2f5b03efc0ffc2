import { describe, expect, it } from 'vitest';
import { canTransition, TRANSITIONS, type FromState, type LifecycleAction } from './lifecycle';

const STATES: FromState[] = ['none', 'queued', 'active', 'idle', 'closed', 'handed_back'];
const ACTIONS: LifecycleAction[] = [
  'open',
  'accept',
  'auto_assign',
  'idle',
  'requeue',
  'transfer',
  'close',
  'hand_back',
  'take_back',
];

// The lifecycle of design.md §Domain, written out independently of the table under test.
const ALLOWED: Record<LifecycleAction, FromState[]> = {
  open: ['none'],
  accept: ['queued', 'idle'],
  auto_assign: ['queued'],
  idle: ['active'],
  requeue: ['idle'],
  transfer: ['queued', 'active', 'idle'],
  close: ['queued', 'active', 'idle', 'handed_back'],
  hand_back: ['queued', 'active', 'idle'],
  take_back: ['handed_back'],
};

describe('canTransition', () => {
  for (const action of ACTIONS) {
    for (const from of STATES) {
      const allowed = ALLOWED[action].includes(from);
      it(`${action} from ${from}: ${allowed ? 'allowed' : 'refused'}`, () => {
        expect(canTransition(from, action)).toBe(allowed);
      });
    }
  }

  it('nothing leaves closed, and only open starts from nothing', () => {
    for (const action of ACTIONS) {
      expect(canTransition('closed', action)).toBe(false);
      expect(canTransition('none', action)).toBe(action === 'open');
    }
  });

  it('each action lands in its state and writes the context line agents know', () => {
    const to = Object.fromEntries(ACTIONS.map((a) => [a, TRANSITIONS[a].to]));
    expect(to).toEqual({
      open: 'queued',
      accept: 'active',
      auto_assign: 'active',
      idle: 'idle',
      requeue: 'queued',
      transfer: 'active',
      close: 'closed',
      hand_back: 'handed_back',
      take_back: 'queued',
    });
    expect(TRANSITIONS.accept.from).toEqual({ queued: 'accepted', idle: 'reaccepted' });
    expect(TRANSITIONS.auto_assign.from).toEqual({ queued: 'assigned' });
    expect(TRANSITIONS.idle.from.active).toBe('idled');
    expect(TRANSITIONS.requeue.from.idle).toBe('requeued');
    expect(TRANSITIONS.open.from.none).toBeNull();
  });

  it('accept and auto-assign claim through the same rule shape, and stamp the agent', () => {
    expect(TRANSITIONS.accept.to).toBe(TRANSITIONS.auto_assign.to);
    expect(TRANSITIONS.accept.event).toBe(TRANSITIONS.auto_assign.event);
    expect(ACTIONS.filter((a) => TRANSITIONS[a].stampsAgent)).toEqual(['accept', 'auto_assign']);
  });
});
