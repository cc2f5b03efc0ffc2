/** Platform and product limits both sides rely on. */
export const LIMITS = {
  agentsPerChannel: 100,
  imageMaxBytes: 2 * 1024 * 1024,
  textMaxChars: 2000,
  /** WeChat: a customer message opens 5 replies for 48 h. */
  windowMessageQuota: 5,
  windowMessageMs: 48 * 3600_000,
  /** WeChat: entering the chat opens 2 replies for 1 minute (not added to the above). */
  windowEnterQuota: 2,
  windowEnterMs: 60_000,
  defaultIdleMinutes: 30,
  defaultCapacity: 5,
  pageSize: 50,
} as const;
