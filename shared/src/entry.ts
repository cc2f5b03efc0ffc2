/**
 * The routing rules' pure reading, without zod, so the console can import it alone
 * (`@kefu/shared/entry`) and not pull every schema into the sign-in page's bundle.
 */
import type { BusinessHours, EntryPattern } from './routing';

const WEEKDAY: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

/** Whether the schedule is open at `at` (epoch ms). No schedule: always open. */
export function isOpenAt(hours: BusinessHours | null, at: number): boolean {
  if (!hours) return true;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: hours.timeZone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(at))
      .map((p) => [p.type, p.value]),
  );
  const day = `${parts['year']}-${parts['month']}-${parts['day']}`;
  if (hours.holidays.includes(day)) return false;
  const now = `${parts['hour']}:${parts['minute']}`;
  const ranges = hours.weekly[WEEKDAY[parts['weekday'] ?? ''] ?? -1] ?? [];
  return ranges.some((r) => {
    const [from = '', to = ''] = r.split('-');
    return now >= from && now < to;
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What an entry means: the first pattern that matches `sessionFrom`, filled in. */
export function describeEntry(
  sessionFrom: string,
  patterns: readonly EntryPattern[],
): { label: string; pagePath?: string } | null {
  for (const p of patterns) {
    const names: string[] = [];
    const source = p.pattern
      .split(/(\{[A-Za-z_]\w*\})/)
      .map((part) => {
        const m = /^\{([A-Za-z_]\w*)\}$/.exec(part);
        if (!m) return escapeRegExp(part);
        names.push(m[1]!);
        return '(.+?)';
      })
      .join('');
    const match = new RegExp(`^${source}$`, 's').exec(sessionFrom);
    if (!match) continue;
    const values = Object.fromEntries(names.map((n, i) => [n, match[i + 1] ?? '']));
    const fill = (t: string) => t.replace(/\{([A-Za-z_]\w*)\}/g, (_, n: string) => values[n] ?? '');
    return {
      label: fill(p.label),
      ...(p.pagePath ? { pagePath: fill(p.pagePath) } : {}),
    };
  }
  return null;
}
