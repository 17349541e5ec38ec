/** Retries after a failed `alarm()` before it is dead-lettered (Cloudflare: 6). */
export const MAX_ALARM_RETRIES = 6;
/** Delay before the first retry; each later retry doubles it (2 s, 4 s, … 64 s). */
export const FIRST_RETRY_DELAY_MS = 2000;

/** Delay before retry number `retryCount + 1`, given `retryCount` earlier failures. */
export function retryDelay(retryCount: number): number {
  return FIRST_RETRY_DELAY_MS * 2 ** retryCount;
}
