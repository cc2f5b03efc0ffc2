import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { randomAlnum } from './crypto';
import type { AppConfig } from './types';

export const appConfigSchema = z.object({
  appId: z.string().min(1),
  appSecret: z.string().min(1),
  originalId: z.string().regex(/^gh_/, 'originalId starts with gh_'),
  token: z.string().min(1),
  encodingAesKey: z.string().regex(/^[a-zA-Z0-9]{43}$/, 'EncodingAESKey is 43 chars [a-zA-Z0-9]'),
  mode: z.enum(['plaintext', 'compatible', 'safe']),
  format: z.enum(['xml', 'json']),
  pushUrl: z.url().optional(),
  encryptAppId: z.string().optional(),
});

/** Validates a full config; throws a readable error. */
export function parseAppConfig(input: unknown): AppConfig {
  const parsed = appConfigSchema.safeParse(input);
  if (!parsed.success) throw new Error(`wechat-sim: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** A complete app config with random credentials for whatever `partial` leaves out. */
export function generateAppConfig(partial: Partial<AppConfig> = {}): AppConfig {
  return parseAppConfig({
    appId: `wx${randomBytes(8).toString('hex')}`,
    appSecret: randomBytes(16).toString('hex'),
    originalId: `gh_${randomBytes(6).toString('hex')}`,
    token: randomAlnum(16),
    encodingAesKey: randomAlnum(43),
    mode: 'safe',
    format: 'json',
    ...partial,
  });
}
