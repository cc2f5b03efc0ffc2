import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from './errors';

describe('error registry', () => {
  it('uses UPPER_SNAKE codes with 4xx/5xx statuses', () => {
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(def.status).toBeGreaterThanOrEqual(400);
    }
  });
});
