import { z } from 'zod';
import { agentStatusSchema, conversationSchema, messageSchema } from './domain';

/**
 * Realtime events, `noun.past_verb`. Conversation events carry the full conversation snapshot,
 * so a client applies them by upsert; message events carry the full message.
 */
export const realtimeEventSchema = z.discriminatedUnion('name', [
  z.object({
    name: z.literal('conversation.queued'),
    data: z.object({ conversation: conversationSchema }),
  }),
  z.object({
    name: z.literal('conversation.assigned'),
    data: z.object({ conversation: conversationSchema }),
  }),
  z.object({
    name: z.literal('conversation.idled'),
    data: z.object({ conversation: conversationSchema }),
  }),
  z.object({
    name: z.literal('conversation.closed'),
    data: z.object({ conversation: conversationSchema }),
  }),
  z.object({
    name: z.literal('conversation.transferred'),
    data: z.object({ conversation: conversationSchema, fromAgentId: z.string().nullable() }),
  }),
  z.object({
    name: z.literal('conversation.updated'),
    data: z.object({ conversation: conversationSchema }),
  }),
  z.object({ name: z.literal('message.created'), data: z.object({ message: messageSchema }) }),
  z.object({ name: z.literal('message.updated'), data: z.object({ message: messageSchema }) }),
  z.object({
    name: z.literal('agent.status_changed'),
    data: z.object({ agentId: z.string(), status: agentStatusSchema }),
  }),
  /**
   * What the agent may see changed (channel bindings, role, disabled): sent to that agent only,
   * committed with the change, so it is ordered against every other event. The console refetches.
   */
  z.object({ name: z.literal('agent.access_changed'), data: z.object({ agentId: z.string() }) }),
  z.object({
    name: z.literal('agent.typing'),
    data: z.object({ conversationId: z.string(), agentId: z.string() }),
  }),
]);
export type RealtimeEvent = z.infer<typeof realtimeEventSchema>;
export type RealtimeEventName = RealtimeEvent['name'];
export type EventData<N extends RealtimeEventName> = Extract<RealtimeEvent, { name: N }>['data'];

/** Server → client frames on the WebSocket. */
export const serverFrameSchema = z.discriminatedUnion('type', [
  /** First frame: the stream's current sequence. */
  z.object({ type: z.literal('hello'), seq: z.number(), agentId: z.string() }),
  z.object({
    type: z.literal('event'),
    seq: z.number(),
    event: realtimeEventSchema,
    at: z.number(),
  }),
  /** The client's last sequence is too old to replay: refetch everything, then continue from seq. */
  z.object({ type: z.literal('resync'), seq: z.number() }),
  /** Replay after a resume is complete; live events follow. */
  z.object({ type: z.literal('resumed'), seq: z.number(), replayed: z.number() }),
  z.object({ type: z.literal('pong'), at: z.number() }),
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;

/** Client → server frames. */
export const clientFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('resume'), lastSeq: z.number().int().min(0) }),
  z.object({ type: z.literal('ping') }),
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;
