import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { isAllowedBase } from '../../lib/outbound';
import type { ChannelAdapter, ChannelRecord } from './types';

/** The adapter that speaks a channel's platform. */
export function adapterFor(
  ctx: Pick<AppContext, 'adapters'>,
  channel: ChannelRecord,
): ChannelAdapter {
  const adapter = ctx.adapters[channel.kind];
  if (!adapter)
    throw new AppError('CHANNEL_NOT_FOUND', `No adapter for channel kind ${channel.kind}`);
  return adapter;
}

/** The platform bases outbound HTTP may reach: the WeChat base and KEFU_ALLOWED_OUTBOUND. */
export function allowedBasesOf(ctx: Pick<AppContext, 'config'>): string[] {
  return [ctx.config.wechatApiBase, ...ctx.config.allowedOutboundBases];
}

/** Outbound HTTP may only reach configured platform bases (no SSRF through channel settings). */
export function assertAllowedBase(ctx: Pick<AppContext, 'config'>, base: string): void {
  if (!isAllowedBase(base, allowedBasesOf(ctx))) {
    throw new AppError(
      'VALIDATION_FAILED',
      `API base ${base} is not allowed by the server configuration (KEFU_ALLOWED_OUTBOUND)`,
      { field: 'apiBase' },
    );
  }
}
