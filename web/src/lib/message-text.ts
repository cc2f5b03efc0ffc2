import type { Conversation, Message } from '@kefu/shared';
import { t } from '../i18n';
import { useConversationsStore } from '../stores/conversations';
import { useSessionStore } from '../stores/session';

/** How an entry's SessionFrom reads: the channel's pattern label, else the raw value, marked. */
export function entryText(channelId: string, sessionFrom: string): string {
  return (
    useSessionStore().entryLabel(channelId, sessionFrom) ||
    t('desk.entryRaw', { value: sessionFrom })
  );
}

const POLICY_REASON: Record<string, string> = {
  always: 'context.reasonAlways',
  no_agent_online: 'context.reasonNoAgent',
  outside_hours: 'context.reasonOutsideHours',
};

/** The grey context line for an `event` message (entered, accepted, transferred…). */
export function contextText(m: Message): string {
  const p = m.body.params ?? {};
  const name = p['agentName'] ?? '';
  switch (m.body.event) {
    case 'entered': {
      const from = p['sessionFrom'];
      const channelId = useConversationsStore().byId[m.conversationId]?.channelId;
      if (!from) return t('context.entered');
      return t('context.enteredFrom', {
        from: channelId ? useSessionStore().entryLabel(channelId, from) || from : from,
      });
    }
    case 'handed_back':
      return p['by'] === 'policy'
        ? t('context.handedBackPolicy', {
            reason: t(POLICY_REASON[p['reason'] ?? ''] ?? 'context.reasonAlways'),
          })
        : t('context.handedBackAgent', { name });
    case 'taken_back':
      return t('context.takenBack', { name });
    case 'accepted':
      return t('context.accepted', { name });
    case 'reaccepted':
      return t('context.reaccepted', { name });
    case 'assigned':
      return t('context.assigned', { name });
    case 'transferred': {
      const args = { from: p['fromAgentName'] ?? '', to: p['toAgentName'] ?? '', note: p['note'] };
      return p['note'] ? t('context.transferredNote', args) : t('context.transferred', args);
    }
    case 'idled': {
      const reason = p['reason'] ?? '';
      if (reason === 'logout') return t('context.idledLogout');
      if (reason === 'timeout' || reason === 'idle') return t('context.idledTimeout');
      if (reason === 'offline' || reason === 'disconnected') return t('context.idledOffline');
      return t('context.idled');
    }
    case 'closed':
      return name ? t('context.closed', { name }) : t('context.closedAuto');
    case 'requeued':
      return t('context.requeued');
    default:
      return m.body.text ?? t('context.unknown');
  }
}

/** A one-line summary of a message (lists, notifications). */
export function messagePreview(m: Message): string {
  switch (m.kind) {
    case 'text':
    case 'note':
      return m.body.text ?? '';
    case 'image':
      return t('message.image');
    case 'miniprogrampage':
      return `${t('message.card')} ${m.body.card?.title ?? ''}`.trim();
    case 'link':
      return `${t('message.link')} ${m.body.link?.title ?? ''}`.trim();
    case 'event':
      return contextText(m);
  }
}

/** The customer's display name. */
export function customerName(conv: Pick<Conversation, 'customer'>): string {
  const c = conv.customer;
  return c.nickname || `${t('customer.anonymous')} ${c.openid.slice(-4)}`;
}
