/**
 * The server's clock as seen from here. Waiting times and reply windows compare server
 * timestamps with "now", so a browser clock that is minutes off would show wrong countdowns;
 * realtime frames carry the server time (`at`) and keep this offset current.
 */
let offset = 0;

export function observeServerTime(at: number): void {
  offset = at - Date.now();
}

export function serverNow(): number {
  return Date.now() + offset;
}
