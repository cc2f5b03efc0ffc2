import type { Platform, platformBody, updatePlatformBody } from '@kefu/shared';
import type { z } from 'zod';
import { ElMessage } from 'element-plus';
import { ApiError, request } from '../api/http';
import { i18n, t } from '../i18n';
import { showError } from '../lib/errors';

export type CreatePlatform = z.input<typeof platformBody>;
export type UpdatePlatform = z.input<typeof updatePlatformBody>;

const enc = encodeURIComponent;

/** The third-party platform endpoints (docs/api.md). */
export const platformApi = {
  list: () => request<{ items: Platform[] }>('GET', '/api/platforms'),
  create: (body: CreatePlatform) => request<Platform>('POST', '/api/platforms', { body }),
  update: (id: string, body: UpdatePlatform) =>
    request<Platform>('PATCH', `/api/platforms/${enc(id)}`, { body }),
  link: (id: string) =>
    request<{ url: string; expiresAt: number }>('POST', `/api/platforms/${enc(id)}/link`),
};

/** A failure in the platform pages: PLATFORM_* codes read from `platform.errors`. */
export function showPlatformError(err: unknown): void {
  const key = err instanceof ApiError ? `platform.errors.${err.code}` : '';
  if (key && i18n.global.te(key)) {
    ElMessage({ type: 'error', message: t(key), grouping: true, customClass: 'kefu-toast' });
  } else showError(err);
}
