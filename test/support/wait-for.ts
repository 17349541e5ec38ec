// Every test that waits for something to happen polls through here, with a deadline: no test
// sleeps a fixed time hoping the thing is done.

/** Waits until `condition` holds, checking after each macrotask, failing after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  await poll(what, async () => ((await condition()) ? true : undefined), timeoutMs, 1);
}

/**
 * Polls `check` until it returns something other than undefined and returns that, or fails at the
 * deadline. Unlike `waitFor`, a `check` that throws is retried (a server still starting), and the
 * last error becomes the timeout's cause.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 5_000, intervalMs = 25 } = {},
): Promise<T> {
  let last: unknown;
  const attempt = async () => {
    try {
      return await check();
    } catch (error) {
      last = error;
      return undefined;
    }
  };
  return poll(what, attempt, timeoutMs, intervalMs, () => last);
}

async function poll<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs: number,
  cause?: () => unknown,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}`,
        cause && { cause: cause() },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
