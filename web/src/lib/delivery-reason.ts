import type { Message } from '@kefu/shared';

/** The translation functions it needs (vue-i18n's, from the component). */
export interface Translate {
  t: (key: string) => string;
  te: (key: string) => boolean;
}

/**
 * Why a reply failed, in the console's language: WeChat's errcode (or Kefu's code in the
 * reason's trailing parentheses) when the console knows it, else the server's sentence.
 */
export function deliveryReason(
  m: Pick<Message, 'errorCode' | 'errorReason'>,
  { t, te }: Translate,
): string {
  const tail = /\(([A-Z_]+|-?\d+)\)$/.exec(m.errorReason ?? '')?.[1];
  const code = tail ?? (m.errorCode !== null ? String(m.errorCode) : '');
  const key = `deliveryErrors.${code}`;
  if (code && te(key)) return /^-?\d+$/.test(code) ? `${t(key)}（${code}）` : t(key);
  return m.errorReason ?? '';
}
