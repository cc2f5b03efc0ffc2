import { ElMessage } from 'element-plus';
import { ApiError } from '../api/http';
import { i18n, t } from '../i18n';

/** A sentence an agent can read for any failure, in the current language. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    const word = err.details['word'];
    if (err.code === 'MESSAGE_SENSITIVE_WORD' && typeof word === 'string') {
      return t('errors.MESSAGE_SENSITIVE_WORD_WORD', { word });
    }
    const key = `errors.${err.code}`;
    if (i18n.global.te(key)) {
      const field = err.details['field'];
      const base = t(key);
      return err.code === 'VALIDATION_FAILED' && typeof field === 'string'
        ? `${base}: ${field}`
        : base;
    }
    return err.message || t('errors.UNKNOWN');
  }
  return t('errors.UNKNOWN');
}

/** Show a failure as a toast. */
export function showError(err: unknown): void {
  if (!(err instanceof ApiError)) console.error(err);
  ElMessage({ type: 'error', message: errorText(err), grouping: true, customClass: 'kefu-toast' });
}

export function showSuccess(message: string): void {
  ElMessage({ type: 'success', message, grouping: true, customClass: 'kefu-toast' });
}

export function showWarning(message: string): void {
  ElMessage({ type: 'warning', message, grouping: true, customClass: 'kefu-toast' });
}
