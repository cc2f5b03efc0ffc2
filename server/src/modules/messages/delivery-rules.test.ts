import { describe, expect, it } from 'vitest';
import { backoffMs } from './outbox-worker';
import { typingAllowed } from './typing-service';
import { sniffImage } from './media-service';

describe('outbox backoff', () => {
  it('doubles from 1 s and caps at 5 minutes', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(30)).toBe(300_000);
  });
});

describe('typing rules', () => {
  it('needs an exchange within 30 s', () => {
    expect(typingAllowed(1_000, undefined, 20_000)).toBe(true);
    expect(typingAllowed(1_000, undefined, 40_000)).toBe(false);
  });
  it('does not resend while the 15 s indicator is showing, unless a message ended it', () => {
    expect(typingAllowed(1_000, 5_000, 12_000)).toBe(false);
    expect(typingAllowed(1_000, 5_000, 21_000)).toBe(true);
    expect(typingAllowed(8_000, 5_000, 9_000)).toBe(true);
  });
});

describe('image sniffing', () => {
  it('recognizes PNG, JPEG and GIF by magic bytes only', () => {
    expect(sniffImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe(
      'image/png',
    );
    expect(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffImage(Buffer.from('GIF89a....'))).toBe('image/gif');
    expect(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
  });
});
