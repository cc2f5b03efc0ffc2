import { describe, expect, it } from 'vitest';
import { businessHoursSchema, describeEntry, isOpenAt, type BusinessHours } from './routing';

const weekdays = (r: string[]) => [r, r, r, r, r, [], []];
const SHANGHAI: BusinessHours = {
  timeZone: 'Asia/Shanghai',
  weekly: weekdays(['09:00-12:00', '13:30-18:00']),
  holidays: ['2026-10-01'],
};
// 2026-12-03 is a Thursday; Shanghai is UTC+8 all year.
const at = (iso: string) => Date.parse(iso);

describe('isOpenAt', () => {
  it('follows the weekly ranges in the schedule’s time zone', () => {
    expect(isOpenAt(SHANGHAI, at('2026-12-03T01:00:00Z'))).toBe(true); // 09:00 Thu
    expect(isOpenAt(SHANGHAI, at('2026-12-03T00:59:00Z'))).toBe(false); // 08:59
    expect(isOpenAt(SHANGHAI, at('2026-12-03T04:30:00Z'))).toBe(false); // 12:30 lunch
    expect(isOpenAt(SHANGHAI, at('2026-12-03T09:59:00Z'))).toBe(true); // 17:59
    expect(isOpenAt(SHANGHAI, at('2026-12-03T10:00:00Z'))).toBe(false); // 18:00 (end excluded)
    expect(isOpenAt(SHANGHAI, at('2026-12-05T03:00:00Z'))).toBe(false); // Saturday
  });
  it('closes on holidays, and is always open without a schedule', () => {
    expect(isOpenAt(SHANGHAI, at('2026-10-01T03:00:00Z'))).toBe(false); // a Thursday, holiday
    expect(isOpenAt(null, at('2026-10-01T03:00:00Z'))).toBe(true);
  });
  it('refuses a malformed schedule with sentences', () => {
    const bad = businessHoursSchema.safeParse({ ...SHANGHAI, weekly: weekdays(['18:00-09:00']) });
    expect(bad.success).toBe(false);
    expect(businessHoursSchema.safeParse({ ...SHANGHAI, timeZone: 'Mars/Base' }).success).toBe(
      false,
    );
    expect(businessHoursSchema.safeParse({ ...SHANGHAI, weekly: [[]] }).success).toBe(false);
  });
});

describe('describeEntry', () => {
  const patterns = [
    { pattern: 'product:{id}', label: '从商品 {id} 进入', pagePath: 'pages/goods/detail?id={id}' },
    { pattern: 'order:{no}', label: '咨询订单 {no}' },
  ];
  it('fills the first matching pattern', () => {
    expect(describeEntry('product:1001', patterns)).toEqual({
      label: '从商品 1001 进入',
      pagePath: 'pages/goods/detail?id=1001',
    });
    expect(describeEntry('order:A-77', patterns)).toEqual({ label: '咨询订单 A-77' });
  });
  it('matches whole values only, and literally', () => {
    expect(describeEntry('xproduct:1', patterns)).toBeNull();
    expect(describeEntry('product:', patterns)).toBeNull();
    expect(describeEntry('a.b', [{ pattern: 'a.b', label: 'dot' }])).toEqual({ label: 'dot' });
    expect(describeEntry('axb', [{ pattern: 'a.b', label: 'dot' }])).toBeNull();
  });
});
