import { errorMessage } from "../../core/error-text.ts";
import { SteadError } from "../../core/errors.ts";

/**
 * `work`, or a rejection once it has gone `timeoutMs` without settling: PostgreSQL did not answer
 * (a stalled network, a hung server), so the outcome is unknown. A late answer changes nothing.
 */
export function withinTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutMs} ms; the outcome is unknown`)),
      timeoutMs,
    );
  });
  // A rejection the race no longer reports must not go unhandled.
  work.catch(() => {});
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The error for PostgreSQL not answering, naming the URL (password hidden). */
export function storageUnavailable(display: string, cause: unknown): SteadError {
  const reason = errorMessage(cause);
  return new SteadError(
    "STORAGE_UNAVAILABLE",
    `PostgreSQL at ${display} did not complete the request (${reason}). Check that it is up and the storage URL is right; writes waiting on it failed and their objects reset.`,
    { cause, retryable: true, remote: true },
  );
}
