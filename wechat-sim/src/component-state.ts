import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppConfig } from './types';

/** A component_verify_ticket stays usable 12 hours; WeChat pushes a new one every 10 minutes. */
export const TICKET_TTL_MS = 12 * 3600_000;
export const TICKET_INTERVAL_MS = 10 * 60_000;
/** component_access_token and authorizer_access_token: 2 hours, like every token. */
export const COMPONENT_TOKEN_TTL_MS = 7200_000;
/** pre_auth_code: 30 minutes; authorization code: 10 minutes. */
export const PRE_AUTH_TTL_MS = 1800_000;
export const AUTH_CODE_TTL_MS = 600_000;

export const componentConfigSchema = z.object({
  componentAppId: z.string().regex(/^wx[0-9a-zA-Z]{8,30}$/),
  componentSecret: z.string().min(8),
  token: z.string().min(1),
  encodingAesKey: z.string().regex(/^[a-zA-Z0-9]{43}$/, 'EncodingAESKey is 43 chars [a-zA-Z0-9]'),
  /** 授权事件接收URL: tickets and authorization events are pushed here. */
  eventUrl: z.url().optional(),
  /** 消息与事件接收URL, with `$APPID$` where the authorizer's AppID goes. */
  messageUrl: z.url().optional(),
});
export type ComponentConfig = z.infer<typeof componentConfigSchema>;

/** One mini program's authorization of one component. */
export interface Authorization {
  componentAppId: string;
  authorizerAppId: string;
  refreshToken: string;
  funcInfo: number[];
  /** The app's own push settings, put back when it withdraws the authorization. */
  saved: Pick<AppConfig, 'token' | 'encodingAesKey' | 'mode' | 'format' | 'pushUrl'>;
}

interface Expiring {
  value: string;
  expiresAt: number;
  revoked?: boolean;
}

const rand = (n: number) => randomBytes(n).toString('base64url');

/** Everything the Open Platform side of the emulator knows. */
export class ComponentState {
  readonly configs = new Map<string, ComponentConfig>();
  /** Tickets pushed per component, newest last; any unexpired one is accepted. */
  readonly tickets = new Map<string, Expiring[]>();
  /** component_access_token → component AppID. */
  readonly componentTokens = new Map<string, Expiring & { componentAppId: string }>();
  readonly preAuthCodes = new Map<string, Expiring & { componentAppId: string }>();
  readonly authCodes = new Map<
    string,
    Expiring & { componentAppId: string; authorizerAppId: string; used: boolean }
  >();
  readonly authorizations = new Map<string, Authorization>();
  /** Authorizer tokens issued (they live in the sim's token store; this says whose they are). */
  readonly authorizerTokens = new Map<string, { componentAppId: string; appId: string }>();
  /** Calls received per component API (failed ones included): how tests see single-flight. */
  readonly calls: Record<string, number> = {};
  /** The nick_name api_get_authorizer_info gives, per app (default: 小程序 + the AppID tail). */
  readonly nickNames = new Map<string, string>();
  /** Every accepted custom/send made with an authorizer token, oldest first. */
  readonly authorizerSends: { appId: string; componentAppId: string; token: string; at: number }[] =
    [];

  key(componentAppId: string, authorizerAppId: string): string {
    return `${componentAppId}\u0000${authorizerAppId}`;
  }

  requireConfig(componentAppId: string): ComponentConfig {
    const c = this.configs.get(componentAppId);
    if (!c) throw new Error(`wechat-sim: unknown component ${componentAppId}`);
    return c;
  }

  newTicket(componentAppId: string, now: number): string {
    const value = `ticket@@@${rand(48)}`;
    const list = this.tickets.get(componentAppId) ?? [];
    list.push({ value, expiresAt: now + TICKET_TTL_MS });
    this.tickets.set(componentAppId, list.slice(-80));
    return value;
  }

  /** 61006 for a ticket never pushed, 61005 for one past its 12 hours, else undefined. */
  checkTicket(componentAppId: string, ticket: string, now: number): number | undefined {
    const t = (this.tickets.get(componentAppId) ?? []).find((x) => x.value === ticket);
    if (!t) return 61006;
    if (now >= t.expiresAt) return 61005;
    return undefined;
  }

  issueComponentToken(componentAppId: string, now: number): Expiring {
    const rec = {
      value: `ct_${rand(64)}`,
      expiresAt: now + COMPONENT_TOKEN_TTL_MS,
      componentAppId,
    };
    this.componentTokens.set(rec.value, rec);
    return rec;
  }

  /** The component behind a component_access_token, or the errcode (41001/40001/42001). */
  checkComponentToken(token: string | undefined, now: number): string | number {
    if (!token) return 41001;
    const rec = this.componentTokens.get(token);
    if (!rec || rec.revoked) return 40001;
    if (now >= rec.expiresAt) return 42001;
    return rec.componentAppId;
  }

  newPreAuthCode(componentAppId: string, now: number): Expiring {
    const rec = {
      value: `preauthcode@@@${rand(32)}`,
      expiresAt: now + PRE_AUTH_TTL_MS,
      componentAppId,
    };
    this.preAuthCodes.set(rec.value, rec);
    return rec;
  }

  newAuthCode(componentAppId: string, authorizerAppId: string, now: number): string {
    const value = `queryauthcode@@@${rand(32)}`;
    this.authCodes.set(value, {
      value,
      expiresAt: now + AUTH_CODE_TTL_MS,
      componentAppId,
      authorizerAppId,
      used: false,
    });
    return value;
  }

  newRefreshToken(): string {
    return `refreshtoken@@@${rand(32)}`;
  }
}
