const pad = (n: number) => String(n).padStart(2, '0');

/** Waiting time that ticks: "mm:ss", or "h:mm:ss" past an hour. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

/** Time left in a reply window as "hh:mm", minutes rounded up so a live window never shows 00:00. */
/** The longest window WeChat gives (48 h): a clock a little ahead must not show 48:01. */
const LONGEST_WINDOW_MS = 48 * 3600_000;

/** Remaining window as words: "47 小时 29 分", "12 分钟", "不到 1 分钟" (rounded up, capped at 48 h). */
export function formatRemainingWords(
  ms: number,
  t: (key: string, p?: Record<string, unknown>) => string,
): string {
  if (ms <= 0) return t('window.none');
  if (ms < 60_000) return t('window.underMinute');
  const minutes = Math.ceil(Math.min(ms, LONGEST_WINDOW_MS) / 60_000);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return t('window.minutes', { m });
  return m === 0 ? t('window.hours', { h }) : t('window.hoursMinutes', { h, m });
}

export function formatRemaining(ms: number): string {
  const minutes = Math.max(0, Math.ceil(Math.min(ms, LONGEST_WINDOW_MS) / 60_000));
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** "14:05" today, "03-12 14:05" this year, "2024-03-12 14:05" before. */
export function formatTimestamp(at: number, now = Date.now()): string {
  const d = new Date(at);
  const n = new Date(now);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === n.toDateString()) return hm;
  const md = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (d.getFullYear() === n.getFullYear()) return `${md} ${hm}`;
  return `${d.getFullYear()}-${md} ${hm}`;
}
