import { ERROR_CODES, type ErrorCode } from '@kefu/shared';

/** An expected failure with a registered code; the error handler turns it into `{ code, message }`. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message ?? ERROR_CODES[code].message);
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}
