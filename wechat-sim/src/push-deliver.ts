import type { PushRequest, PushResult } from './types';

/** WeChat tries a push 3 times in total (§1.7). */
export const PUSH_TRIES = 3;

/**
 * POSTs a push like WeChat: a try that gets no answer within `timeoutMs`, or fails on the
 * network, is repeated with the identical body; any HTTP answer ends the tries. Acknowledged
 * means HTTP 200 with body exactly `success` or empty.
 */
export async function deliverPush(
  push: PushRequest,
  timeoutMs: number,
  onTry: () => void = () => undefined,
): Promise<PushResult> {
  let error = '';
  for (let attempt = 1; attempt <= PUSH_TRIES; attempt++) {
    onTry();
    try {
      const res = await fetch(push.url, {
        method: 'POST',
        headers: { 'content-type': push.contentType },
        body: push.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = await res.text();
      const acknowledged = res.status === 200 && (body === 'success' || body === '');
      return { status: res.status, body, attempts: attempt, acknowledged };
    } catch (err) {
      error = describe(err);
    }
  }
  return { status: 0, body: '', attempts: PUSH_TRIES, acknowledged: false, error };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}
