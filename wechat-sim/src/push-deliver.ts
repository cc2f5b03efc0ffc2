import type { PushRequest, PushResult } from './types';

/** WeChat tries a push 3 times in total (§1.7). */
export const PUSH_TRIES = 3;

/** Pause before trying again after a server error (WeChat's spacing is not published). */
export const PUSH_RETRY_AFTER_5XX_MS = 1000;

/**
 * POSTs a push like WeChat: a try that gets no answer within `timeoutMs`, fails on the network,
 * or is answered with a server error (5xx: only accepted replies stop WeChat's retries, §1.7,
 * and a receiver refusing under load says 503) is repeated with the identical body; any other
 * HTTP answer ends the tries. Acknowledged means HTTP 200 with body exactly `success` or empty.
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
      if (res.status < 500 || attempt === PUSH_TRIES)
        return { status: res.status, body, attempts: attempt, acknowledged };
      error = `HTTP ${res.status}`;
      await new Promise((resolve) => setTimeout(resolve, PUSH_RETRY_AFTER_5XX_MS));
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
