import { z } from 'zod';

/**
 * A channel's routing rules that both sides read: when WeChat's own tool takes a customer
 * (hand-back policy), the business hours that policy may follow, and how the contact button's
 * SessionFrom reads to agents. Pure: the server decides with them, the console shows them.
 */

export const handbackPolicySchema = z.enum(['never', 'no_agent_online', 'outside_hours', 'always']);
export type HandbackPolicy = z.infer<typeof handbackPolicySchema>;

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const rangeSchema = z
  .string()
  .regex(/^\d\d:\d\d-\d\d:\d\d$/, 'A time range looks like 09:00-18:00')
  .refine((r) => {
    const [from = '', to = ''] = r.split('-');
    return HHMM.test(from) && (HHMM.test(to) || to === '24:00') && from < to;
  }, 'A time range starts before it ends, within one day (00:00–24:00)');

export const businessHoursSchema = z.object({
  /** IANA time zone the schedule is written in. */
  timeZone: z.string().min(1).max(64).refine(isTimeZone, 'Unknown time zone'),
  /** Monday first: seven lists of `HH:MM-HH:MM` ranges; an empty list is a closed day. */
  weekly: z.array(z.array(rangeSchema).max(6)).length(7),
  /** Whole days closed (`YYYY-MM-DD` in the schedule's time zone). */
  holidays: z
    .array(z.string().regex(/^\d{4}-\d\d-\d\d$/))
    .max(366)
    .default([]),
});
export type BusinessHours = z.infer<typeof businessHoursSchema>;

export const entryPatternSchema = z.object({
  /** e.g. `product:{id}`; `{name}` matches one or more characters. */
  pattern: z.string().min(1).max(200),
  /** What agents read, e.g. `商品 {id}`. */
  label: z.string().min(1).max(200),
  /** Optional mini-program page the entry refers to, e.g. `pages/goods/detail?id={id}`. */
  pagePath: z.string().max(500).optional(),
});
export type EntryPattern = z.infer<typeof entryPatternSchema>;

export const channelRoutingSchema = z.object({
  handbackPolicy: handbackPolicySchema,
  businessHours: businessHoursSchema.nullable(),
  entryPatterns: z.array(entryPatternSchema).max(50),
});
export type ChannelRouting = z.infer<typeof channelRoutingSchema>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export { describeEntry, isOpenAt } from './entry';
