import type { ConversationState, RealtimeEvent } from '@kefu/shared';

// The conversation lifecycle as data: which action may start from which state, where it lands,
// what it says and announces. Pure, so the whole table is unit-tested (lifecycle.test.ts);
// lifecycle.ts performs it.

export type LifecycleAction =
  | 'open'
  | 'accept'
  | 'auto_assign'
  | 'idle'
  | 'requeue'
  | 'transfer'
  | 'close'
  | 'hand_back'
  | 'take_back';

/** `none`: the conversation does not exist yet (only `open` starts from there). */
export type FromState = ConversationState | 'none';

export type LifecycleEvent = Extract<
  RealtimeEvent['name'],
  | 'conversation.queued'
  | 'conversation.assigned'
  | 'conversation.idled'
  | 'conversation.closed'
  | 'conversation.transferred'
  | 'conversation.updated'
>;

export interface Rule {
  /** The allowed from-states, each with the context line it writes (null: none). */
  from: Partial<Record<FromState, string | null>>;
  to: ConversationState;
  event: LifecycleEvent;
  /** The new holder's `lastAssignedAt` moves (the fairness tie-break of auto-assign). */
  stampsAgent: boolean;
  /** Capacity may have appeared: wake the channel's queue after commit. */
  kicksQueue: boolean;
}

/**
 * Every state change a conversation can make (design.md §Domain). Nothing leaves `closed`: the
 * customer's next message opens a new conversation. `open` and `requeue` belong to the ingest
 * path, which emits their `conversation.queued` itself once the customer's message is in.
 */
export const TRANSITIONS: Readonly<Record<LifecycleAction, Rule>> = {
  open: {
    from: { none: null },
    to: 'queued',
    event: 'conversation.queued',
    stampsAgent: false,
    kicksQueue: true,
  },
  accept: {
    from: { queued: 'accepted', idle: 'reaccepted' },
    to: 'active',
    event: 'conversation.assigned',
    stampsAgent: true,
    kicksQueue: false,
  },
  auto_assign: {
    from: { queued: 'assigned' },
    to: 'active',
    event: 'conversation.assigned',
    stampsAgent: true,
    kicksQueue: false,
  },
  idle: {
    from: { active: 'idled' },
    to: 'idle',
    event: 'conversation.idled',
    stampsAgent: false,
    kicksQueue: true,
  },
  requeue: {
    from: { idle: 'requeued' },
    to: 'queued',
    event: 'conversation.queued',
    stampsAgent: false,
    kicksQueue: true,
  },
  transfer: {
    from: { queued: 'transferred', active: 'transferred', idle: 'transferred' },
    to: 'active',
    event: 'conversation.transferred',
    stampsAgent: false,
    kicksQueue: true,
  },
  close: {
    from: { queued: 'closed', active: 'closed', idle: 'closed', handed_back: 'closed' },
    to: 'closed',
    event: 'conversation.closed',
    stampsAgent: false,
    kicksQueue: true,
  },
  // To WeChat's own tool (transfer_customer_service, protocol §2), by an agent or the channel's
  // policy; the context line's params say which. Kefu keeps recording what arrives.
  hand_back: {
    from: { queued: 'handed_back', active: 'handed_back', idle: 'handed_back' },
    to: 'handed_back',
    event: 'conversation.updated',
    stampsAgent: false,
    kicksQueue: true,
  },
  // Back from WeChat's tool to Kefu's queue: customer messages are answered `success` again.
  take_back: {
    from: { handed_back: 'taken_back' },
    to: 'queued',
    event: 'conversation.queued',
    stampsAgent: false,
    kicksQueue: true,
  },
};

/** Whether `action` may start from `from` (pure: the table, nothing else). */
export function canTransition(from: FromState, action: LifecycleAction): boolean {
  return TRANSITIONS[action].from[from] !== undefined;
}
