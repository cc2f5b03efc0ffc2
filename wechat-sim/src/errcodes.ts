import { randomBytes } from 'node:crypto';

/** errmsg texts as WeChat words them (§3.6); WeChat appends a request id. */
const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  0: 'ok',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40004: 'invalid media type',
  40005: 'invalid file type',
  40007: 'invalid media_id',
  40008: 'invalid message type',
  40009: 'invalid image size',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  41001: 'access_token missing',
  41005: 'media data missing',
  42001: 'access_token expired',
  44004: 'empty content',
  45002: 'content size out of limit',
  45009: 'reach max api daily quota limit',
  45015: 'response out of time limit or subscription is canceled',
  45047: 'out of response count limit',
  45072: 'command field invalid',
  45080: 'typing is not allowed without a message exchanged in the last 30 seconds',
  45081: 'already typing',
  47001: 'data format error',
};

export interface WxError {
  errcode: number;
  errmsg: string;
}

/** The `{errcode, errmsg}` body of a platform error, with a request id like WeChat's. */
export function wxError(errcode: number, errmsg?: string): WxError {
  if (errmsg !== undefined) return { errcode, errmsg };
  const base = ERRMSG[errcode] ?? 'error';
  const rid = randomBytes(12)
    .toString('hex')
    .replace(/(.{8})(.{8})(.{8})/, '$1-$2-$3');
  return { errcode, errmsg: `${base} rid: ${rid}` };
}
